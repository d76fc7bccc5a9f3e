from __future__ import annotations

from django.db import models


class CustomerKind(models.TextChoices):
    DIRECT = "direct", "Direct customer"
    OEM_PARTNER = "oem_partner", "OEM partner"
    RESELLER = "reseller", "Reseller"
    HOSTED = "hosted", "Hosted customer"


class InstanceKind(models.TextChoices):
    SHARED = "shared", "Shared production"
    DEDICATED = "dedicated", "Dedicated (hosted)"
    WHITE_LABEL = "white_label", "White label (OEM)"
    STAGING = "staging", "Staging"


class ContactRole(models.TextChoices):
    ADMIN = "admin", "Organisation admin"
    TECHNICAL = "technical", "Technical contact"
    OEM_PARTNER = "oem_partner", "OEM partner contact"
    RESELLER = "reseller", "Reseller contact"
    BILLING = "billing", "Billing"


class DocsResponsibility(models.TextChoices):
    VENDOR = "vendor", "Vendor updates the documentation"
    CUSTOMER = "customer", "Customer updates the documentation"


SUPPORTED_LOCALES = ("en", "nl", "de")
