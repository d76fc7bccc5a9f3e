"""Forms of the staff pages. They only parse input; the services decide and validate."""

from __future__ import annotations

from typing import Any

from django import forms

from releasedesk.accounts.models import Role
from releasedesk.catalog.models import Product
from releasedesk.policies.models import Policy
from releasedesk.releases.choices import HotfixReason, ReleaseKind

SCALE = [(str(i), str(i)) for i in range(1, 6)]
CHANGES_HELP = (
    "One change per line under a section: ### Added, ### Fixed, ### Security, ### Performance, ### Database, "
    "### UX, ### Other. Markers at the end: [significant], [irreversible], [db]. "
    "Indented 'Customer:' / 'Internal:' lines add notes."
)


class ReleaseForm(forms.Form):
    policy = forms.ModelChoiceField(queryset=Policy.objects.order_by("slug"), to_field_name="slug")
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.order_by("name"),
        to_field_name="slug",
        widget=forms.CheckboxSelectMultiple,
    )
    version = forms.CharField(max_length=64)
    title = forms.CharField(max_length=200, required=False)
    target_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The intended release date; the planner finds the slot.",
    )
    kind = forms.ChoiceField(choices=ReleaseKind.choices, initial=ReleaseKind.REGULAR)
    hotfix_reason = forms.ChoiceField(
        choices=[("", "—"), *HotfixReason.choices],
        required=False,
        help_text="Required for a hotfix.",
    )
    changes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        required=False,
        max_length=100_000,
        help_text=CHANGES_HELP,
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # The policy is chosen once, at creation.
            del self.fields["policy"]


class AssessForm(forms.Form):
    impact = forms.TypedChoiceField(
        choices=SCALE, coerce=int, required=False, help_text="1 (minor) … 5 (severe)"
    )
    likelihood = forms.TypedChoiceField(
        choices=SCALE, coerce=int, required=False, help_text="1 (rare) … 5 (almost certain)"
    )
    stakeholders = forms.ModelMultipleChoiceField(
        queryset=Role.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Roles consulted.",
    )
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000
    )


class ApproveForm(forms.Form):
    role = forms.SlugField(max_length=64)
    comment = forms.CharField(required=False, max_length=2000)


class RevokeForm(forms.Form):
    approval = forms.IntegerField(min_value=1, max_value=2_147_483_647)
    comment = forms.CharField(max_length=2000)


class TransitionForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000)
