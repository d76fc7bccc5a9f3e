"""Staff forms for the catalogue. They only parse input: saving goes through `services`, whose
field errors are shown next to the fields (`apply_errors`)."""

from __future__ import annotations

from typing import Any

from django import forms

from releasedesk.catalog.choices import SUPPORTED_LOCALES, ContactRole, CustomerKind, InstanceKind
from releasedesk.catalog.models import Customer, Product
from releasedesk.core.errors import DomainError

LOCALE_CHOICES = [(code, code) for code in SUPPORTED_LOCALES]


def apply_errors(form: forms.Form, exc: DomainError) -> None:
    """Put a service's field errors on the form (nested keys on their top-level field)."""
    if not exc.fields:
        form.add_error(None, exc.message)
    for key, message in exc.fields.items():
        name = key.split(".", 1)[0]
        text = message if name == key else f"{key.split('.', 1)[1]}: {message}"
        form.add_error(name if name in form.fields else None, text)


class _JSONField(forms.JSONField):
    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("initial", dict)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        return super().clean(value) or {}


class CustomerForm(forms.Form):
    slug = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CustomerKind.choices)
    timezone = forms.CharField(
        max_length=64,
        initial="UTC",
        help_text="IANA time zone, e.g. Europe/Amsterdam",
        widget=forms.TextInput(attrs={"list": "zones"}),
    )
    locale = forms.ChoiceField(choices=LOCALE_CHOICES)
    parent = forms.ModelChoiceField(
        queryset=Customer.objects.none(), required=False, help_text="Only resellers can be parents."
    )
    tags = forms.CharField(max_length=900, required=False, help_text="Separated by commas")
    contract_overrides = _JSONField(help_text='JSON, e.g. {"notice_lead_hours": 72}')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["parent"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Customer.objects.filter(kind=CustomerKind.RESELLER).order_by("name")

    def clean_tags(self) -> list[str]:
        raw: str = self.cleaned_data.get("tags") or ""
        return [t.strip() for t in raw.split(",") if t.strip()]

    @staticmethod
    def initial_for(customer: Customer) -> dict[str, Any]:
        return {
            "slug": customer.slug,
            "name": customer.name,
            "kind": customer.kind,
            "timezone": customer.timezone,
            "locale": customer.locale,
            "parent": customer.parent_id,
            "tags": ", ".join(customer.tags or []),
            "contract_overrides": customer.contract_overrides or {},
        }


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.CharField(max_length=254, label="E-mail")
    roles = forms.MultipleChoiceField(
        choices=ContactRole.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    locale = forms.ChoiceField(choices=[("", "The customer's"), *LOCALE_CHOICES], required=False)
    timezone = forms.CharField(
        max_length=64,
        required=False,
        help_text="Empty: the customer's zone",
        widget=forms.TextInput(attrs={"list": "zones"}),
    )
    reachable = forms.BooleanField(required=False, initial=True)
    unreachable_reason = forms.CharField(max_length=300, required=False)


class InstanceForm(forms.Form):
    slug = forms.SlugField(max_length=64)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=InstanceKind.choices)
    product = forms.ModelChoiceField(queryset=Product.objects.none())
    owner = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)
    current_version = forms.CharField(max_length=64, required=False)
    timezone = forms.CharField(
        max_length=64,
        required=False,
        help_text="Empty: the owner's zone, else the policy's",
        widget=forms.TextInput(attrs={"list": "zones"}),
    )
    ring = forms.IntegerField(min_value=0, max_value=100, initial=0)
    window_override = _JSONField(
        help_text='JSON, e.g. {"weekday": "thursday", "from": "16:00", "to": "22:00"}'
    )
    executor = _JSONField(help_text='JSON, e.g. {"kind": "simulated", "duration_seconds": 5}')

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        product = self.fields["product"]
        owner = self.fields["owner"]
        assert isinstance(product, forms.ModelChoiceField)
        assert isinstance(owner, forms.ModelChoiceField)
        product.queryset = Product.objects.order_by("name")
        owner.queryset = Customer.objects.order_by("name")


class SubscriptionForm(forms.Form):
    instance = forms.ModelChoiceField(
        queryset=Product.objects.none(), help_text="The customer uses the instance's product."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from releasedesk.catalog.models import Instance

        super().__init__(*args, **kwargs)
        field = self.fields["instance"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Instance.objects.select_related("product").order_by(
            "product__name", "name"
        )
