from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from releasedesk.audit.selectors import EventFilters
from releasedesk.core.timeutil import combine_local

ACTOR_KINDS = [
    ("", "any"),
    ("staff", "staff"),
    ("contact", "contact"),
    ("token", "token"),
    ("system", "system"),
]


def _no_control_chars(value: str) -> None:
    if any(ord(ch) < 32 for ch in value):
        raise forms.ValidationError("Control characters are not allowed.")


class EventFilterForm(forms.Form):
    """Filters of the staff audit page; dates are the viewer's local dates."""

    action = forms.CharField(required=False, max_length=80, validators=[_no_control_chars])
    actor_kind = forms.ChoiceField(required=False, choices=ACTOR_KINDS, label="Actor kind")
    actor_id = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, label="Actor id"
    )
    object_type = forms.CharField(
        required=False, max_length=80, validators=[_no_control_chars], label="Object type"
    )
    object_id = forms.CharField(
        required=False, max_length=64, validators=[_no_control_chars], label="Object id"
    )
    request_id = forms.CharField(
        required=False, max_length=64, validators=[_no_control_chars], label="Request id"
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["date_from"].label = f"From ({zone})"
        self.fields["date_to"].label = f"To, inclusive ({zone})"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Must not be before the start date.")
        for name in ("date_from", "date_to"):
            value = data.get(name)
            if value is not None and not dt.date(1970, 1, 1) <= value <= dt.date(8999, 12, 31):
                self.add_error(name, "Must be between 1970 and 8999.")
        return data

    def to_filters(self) -> EventFilters:
        d = self.cleaned_data
        since = until = None
        if d.get("date_from"):
            since = combine_local(d["date_from"], dt.time(0, 0), self.zone)
        if d.get("date_to"):
            until = combine_local(d["date_to"] + dt.timedelta(days=1), dt.time(0, 0), self.zone)
        return EventFilters(
            action=d.get("action") or None,
            actor_kind=d.get("actor_kind") or None,
            actor_id=d.get("actor_id"),
            object_type=d.get("object_type") or None,
            object_id=d.get("object_id") or None,
            request_id=d.get("request_id") or None,
            since=since,
            until=until,
        )
