"""The `releasedesk` console script: Django's management commands under one name.

`releasedesk catalog import FILE` runs the `catalog` management command, and so on;
`releasedesk help` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releasedesk.settings")
    os.environ.setdefault("PYTHONTZPATH", "")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "releasedesk"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
