"""Demo data: the four example policies (examples/policies/)."""

from __future__ import annotations

from pathlib import Path

from releasedesk.accounts.models import User
from releasedesk.core.context import Actor
from releasedesk.policies.models import PolicyVersion
from releasedesk.policies.services import apply_policy

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples" / "policies"
EXAMPLE_FILES = (
    "school-saas.yaml",
    "oem-white-label.yaml",
    "hosted-monthly.yaml",
    "field-software.yaml",
)


def load_example_policies(actor: Actor | User | None) -> dict[str, PolicyVersion]:
    """Apply the four example policies (idempotent); returns {policy slug: version}."""
    versions: dict[str, PolicyVersion] = {}
    for name in EXAMPLE_FILES:
        path = EXAMPLES_DIR / name
        version = apply_policy(
            source=path.read_text(encoding="utf-8"),
            filename=f"examples/policies/{name}",
            actor=actor,
        )
        versions[version.policy.slug] = version
    return versions
