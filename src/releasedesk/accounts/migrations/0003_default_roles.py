# The roles a fresh install starts with (roles are data: staff may add more or rename them).

from django.db import migrations

DEFAULT_ROLES = (
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


def create_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for slug, name in DEFAULT_ROLES:
        Role.objects.get_or_create(slug=slug, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_loginattempt_accounts_loginattempt_key_at")]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
