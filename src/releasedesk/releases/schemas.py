"""Validated input shared by the services, the change import, the API, the CLI and the forms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


def change_kind_values() -> tuple[str, ...]:
    from releasedesk.policies.choices import ChangeKind

    return tuple(str(v) for v in ChangeKind.values)


class ChangeItemData(BaseModel):
    """One change item as given by a person or a file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str = Field(
        max_length=32,
        description="feature, fix, security, performance, database_migration, ux or other",
    )
    title: str = Field(min_length=1, max_length=300)
    customer_note: str = Field(
        "", max_length=4000, description="What customers read; empty: the title."
    )
    internal_note: str = Field("", max_length=4000, description="Never shown outside the vendor.")
    significant: bool = False
    reversible: bool = True

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        kinds = change_kind_values()
        if value not in kinds:
            raise ValueError(f"unknown change kind {value!r} (allowed: {', '.join(kinds)})")
        return value
