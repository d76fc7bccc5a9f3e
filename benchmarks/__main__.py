"""`python -m benchmarks NAME [args]`: run `benchmarks/NAME.py:main(argv)`.

`python -m benchmarks` alone lists the available benchmarks.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(
        p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "common"
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m benchmarks NAME [args]\navailable: " + ", ".join(names))
        return 0 if args else 2
    name = args[0]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name not in names:
        print(f"unknown benchmark {name!r} (available: {', '.join(names)})", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{name}")
    result = module.main(args[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
