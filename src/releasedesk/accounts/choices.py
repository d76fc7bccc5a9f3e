from __future__ import annotations

from django.db import models


class TokenScope(models.TextChoices):
    READ = "read", "Read-only"
    WRITE = "write", "Read and write"


# The roles the demo and a fresh install start with. Roles are data: staff may add more.
DEFAULT_ROLES: tuple[tuple[str, str], ...] = (
    ("admin", "Administrator"),
    ("product_manager", "Product manager"),
    ("cto", "CTO"),
    ("service", "Service"),
    ("sales", "Sales"),
    ("delivery", "Delivery"),
    ("delivery_lead", "Delivery lead"),
    ("customer_success", "Customer success"),
    ("customer_success_lead", "Customer success lead"),
    ("change_management", "Change management"),
    ("docs", "Documentation"),
)
