"""`releasedesk catalog import`: load the catalogue from YAML or CSV, all or nothing.

Two phases (see docs/catalog-import.md):

1. **Check** every row without touching the database's data: the file parses (duplicate
   YAML keys are errors), every row is a mapping with known fields of the right type, zones,
   locales, e-mail addresses, roles, kinds and JSON settings are valid, no key appears twice,
   and every reference (`parent`, `customer`, `product`, `owner`, `instance`) names an object
   in the file or in the database.
2. **Apply** in one transaction through the catalogue services (upsert by slug; contacts by
   customer + e-mail), each row in a savepoint so every remaining error (e.g. a parent cycle)
   is reported too. Any error, or `--dry-run`, rolls the whole transaction back.

Every problem is reported as `FILE:ROW: kind.field: message`; ROW is the 1-based item index
in its YAML list (with the YAML line in brackets) or the CSV line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db import transaction
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from releasedesk.catalog import services
from releasedesk.catalog.choices import CustomerKind, InstanceKind
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.catalog.schemas import (
    email_error,
    locale_error,
    roles_error,
    validate_json_field,
    zone_error,
)
from releasedesk.core.context import Actor
from releasedesk.core.errors import DomainError
from releasedesk.timeline.replan import replans_deferred

KINDS = ("products", "customers", "contacts", "instances", "subscriptions")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000

FieldType = Literal["str", "slug", "ref", "list", "json", "bool", "int"]


@dataclass(frozen=True)
class Spec:
    type: FieldType = "str"
    required: bool = False
    max_length: int = 200
    ref: str = ""  # the kind a `ref` field points to


SPECS: dict[str, dict[str, Spec]] = {
    "products": {
        "slug": Spec("slug", True, 64),
        "name": Spec("str", True, 120),
        "description": Spec("str", max_length=5000),
    },
    "customers": {
        "slug": Spec("slug", True, 64),
        "name": Spec("str", True, 200),
        "kind": Spec("str", max_length=16),
        "timezone": Spec("str", max_length=64),
        "locale": Spec("str", max_length=8),
        "parent": Spec("ref", ref="customers"),
        "tags": Spec("list"),
        "contract_overrides": Spec("json"),
    },
    "contacts": {
        "customer": Spec("ref", True, ref="customers"),
        "email": Spec("str", True, 254),
        "name": Spec("str", True, 200),
        "roles": Spec("list"),
        "locale": Spec("str", max_length=8),
        "timezone": Spec("str", max_length=64),
        "reachable": Spec("bool"),
        "unreachable_reason": Spec("str", max_length=300),
    },
    "instances": {
        "slug": Spec("slug", True, 64),
        "name": Spec("str", True, 200),
        "kind": Spec("str", True, 16),
        "product": Spec("ref", True, ref="products"),
        "owner": Spec("ref", ref="customers"),
        "current_version": Spec("str", max_length=64),
        "timezone": Spec("str", max_length=64),
        "ring": Spec("int"),
        "window_override": Spec("json"),
        "executor": Spec("json"),
    },
    "subscriptions": {
        "customer": Spec("ref", True, ref="customers"),
        "product": Spec("ref", True, ref="products"),
        "instance": Spec("ref", True, ref="instances"),
    },
}
MODELS: dict[str, Any] = {"products": Product, "customers": Customer, "instances": Instance}


@dataclass
class Row:
    file: str
    kind: str
    number: int  # 1-based item index (YAML) or CSV line number
    line: int | None  # YAML line, when known
    raw: Any
    data: dict[str, Any] = field(default_factory=dict)

    def where(self) -> str:
        return f"{self.file}:{self.number}"


@dataclass(frozen=True)
class Problem:
    file: str
    row: int
    line: int | None
    kind: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}"
        text = (
            f"{where}: {self.kind}.{self.field}: {self.message}"
            if self.kind
            else f"{where}: {self.field}: {self.message}"
        )
        return text + (f" [line {self.line}]" if self.line is not None and self.kind else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "line": self.line,
            "kind": self.kind,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class Result:
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: {"created": 0, "updated": 0, "unchanged": 0} for k in KINDS}
    )
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "imported": self.ok and not self.dry_run,
            "counts": self.counts,
            "errors": [p.as_dict() for p in self.problems],
        }


def _order(problem: Problem) -> tuple[str, int, int]:
    """File order: YAML by line, CSV by line number (the row)."""
    kind = KINDS.index(problem.kind) if problem.kind in KINDS else -1
    return problem.file, problem.line if problem.line is not None else problem.row, kind


class _Rollback(Exception):
    pass


# --- reading -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_yaml(path: Path, text: str, problems: list[Problem]) -> list[Row]:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    name = str(path)
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        msg = " ".join(str(exc.problem or exc).split())
        if "duplicate key" in str(exc).lower():
            msg = f"duplicate key: {msg}"
        problems.append(Problem(name, line, line, "", "yaml", msg))
        return []
    except YAMLError as exc:
        problems.append(Problem(name, 0, None, "", "yaml", " ".join(str(exc).split())))
        return []
    if doc is None:
        return []
    if not isinstance(doc, dict):
        problems.append(
            Problem(name, 1, 1, "", "file", "must be a mapping with lists: " + ", ".join(KINDS))
        )
        return []
    rows: list[Row] = []
    for key, items in doc.items():
        key_line = doc.lc.key(key)[0] + 1 if isinstance(doc, CommentedMap) else None
        if key not in KINDS:
            problems.append(
                Problem(
                    name,
                    key_line or 0,
                    key_line,
                    "",
                    str(key),
                    f"unknown section (allowed: {', '.join(KINDS)})",
                )
            )
            continue
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(Problem(name, key_line or 0, key_line, "", str(key), "must be a list"))
            continue
        for index, item in enumerate(items, start=1):
            line = items.lc.item(index - 1)[0] + 1 if isinstance(items, CommentedSeq) else None
            rows.append(Row(name, str(key), index, line, _plain(item)))
    return rows


def _kind_for_csv(path: Path, kind: str | None) -> str | None:
    if kind:
        return kind
    stem = path.stem.lower()
    for k in KINDS:
        if stem == k or stem.endswith(("-" + k, "_" + k, "." + k)):
            return k
    return None


def read_csv(path: Path, text: str, kind: str | None, problems: list[Problem]) -> list[Row]:
    name = str(path)
    resolved = _kind_for_csv(path, kind)
    if resolved is None or resolved not in KINDS:
        problems.append(
            Problem(
                name,
                0,
                None,
                "",
                "kind",
                f"cannot tell what the CSV holds: name the file <kind>.csv or pass --kind ({', '.join(KINDS)})",
            )
        )
        return []
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [h.strip() for h in header]
        rows: list[Row] = []
        seen: set[str] = set()
        for column in header:
            if column in seen:
                problems.append(Problem(name, 1, None, resolved, column, "duplicate column"))
            seen.add(column)
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(
                    Problem(
                        name,
                        line,
                        None,
                        resolved,
                        "row",
                        f"has {len(values)} cells, the header has {len(header)}",
                    )
                )
                continue
            data = {h: v for h, v in zip(header, values, strict=True) if v.strip() != ""}
            rows.append(Row(name, resolved, line, None, data))
            if len(rows) > MAX_ROWS:
                problems.append(
                    Problem(name, line, None, resolved, "row", f"more than {MAX_ROWS} rows")
                )
                break
    except csv.Error as exc:
        problems.append(Problem(name, reader.line_num, None, resolved, "csv", str(exc)))
        return []
    return rows


def read_file(path: Path, *, kind: str | None, problems: list[Problem]) -> list[Row]:
    name = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    name, 0, None, "", "file", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
                )
            )
            return []
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        problems.append(Problem(name, 0, None, "", "file", "is not UTF-8 text"))
        return []
    except OSError as exc:
        problems.append(
            Problem(name, 0, None, "", "file", f"cannot be read: {exc.strerror or exc}")
        )
        return []
    if path.suffix.lower() == ".csv":
        return read_csv(path, text, kind, problems)
    if path.suffix.lower() in (".yaml", ".yml"):
        if kind:
            problems.append(Problem(name, 0, None, "", "kind", "--kind applies to CSV files only"))
        return read_yaml(path, text, problems)
    problems.append(Problem(name, 0, None, "", "file", "must end in .yaml, .yml or .csv"))
    return []


# --- phase 1: check ------------------------------------------------------------------------


def _coerce(spec: Spec, value: Any, from_csv: bool) -> tuple[Any, str | None]:
    if spec.type in ("str", "slug", "ref"):
        if not isinstance(value, str):
            return None, "must be a text (quote numbers and dates in YAML)"
        value = value.strip()
        if len(value) > spec.max_length:
            return None, f"is longer than {spec.max_length} characters"
        if spec.type == "slug":
            try:
                validate_slug(value)
            except DjangoValidationError:
                return None, f"{value!r} is not a slug (letters, digits, - and _)"
        if spec.type != "str" and not value:
            return None, "is empty"
        return value, None
    if spec.type == "list":
        if from_csv and isinstance(value, str):
            value = [v.strip() for v in value.split(";") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, "must be a list of texts" + (" (separated by ;)" if from_csv else "")
        return value, None
    if spec.type == "json":
        if from_csv and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return None, f"is not valid JSON: {exc.msg}"
        if not isinstance(value, dict):
            return None, "must be a mapping"
        return value, None
    if spec.type == "bool":
        if from_csv and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "1"):
                return True, None
            if lowered in ("false", "no", "0"):
                return False, None
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    # int
    if from_csv and isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None, "must be a whole number"
    if not isinstance(value, int) or isinstance(value, bool):
        return None, "must be a whole number"
    return value, None


def _semantic(kind: str, data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}

    def check(name: str, fn: Callable[[Any], str | None], *, skip_empty: bool = False) -> None:
        if name in data and not (skip_empty and not data[name]) and (err := fn(data[name])):
            errors[name] = err

    if kind == "customers":
        check("timezone", zone_error)
        check("locale", locale_error)
        check(
            "kind",
            lambda v: (
                None
                if v in CustomerKind.values
                else f"{v!r} is not a customer kind (allowed: {', '.join(CustomerKind.values)})"
            ),
        )
        check("tags", services._tags_error)
    elif kind == "contacts":
        check("email", email_error)
        check("roles", roles_error)
        check("locale", locale_error, skip_empty=True)
        check("timezone", zone_error, skip_empty=True)
    elif kind == "instances":
        check(
            "kind",
            lambda v: (
                None
                if v in InstanceKind.values
                else f"{v!r} is not an instance kind (allowed: {', '.join(InstanceKind.values)})"
            ),
        )
        check("timezone", zone_error, skip_empty=True)
        check("ring", lambda v: None if 0 <= v <= 100 else "must be from 0 to 100")
    for json_field in ("contract_overrides", "window_override", "executor"):
        if json_field in data:
            value, json_errors = validate_json_field(json_field, data[json_field])  # type: ignore[arg-type]
            for key, message in json_errors.items():
                errors[key] = message
            data[json_field] = value
    if "email" in data and "email" not in errors:
        data["email"] = data["email"].lower()
    return errors


def _key(row: Row) -> tuple[str, ...] | None:
    d = row.data
    if row.kind in ("products", "customers", "instances"):
        return (d["slug"],) if "slug" in d else None
    if row.kind == "contacts":
        return (d["customer"], d["email"]) if "customer" in d and "email" in d else None
    if all(k in d for k in ("customer", "product", "instance")):
        return (d["customer"], d["product"], d["instance"])
    return None


def check_rows(rows: list[Row], problems: list[Problem]) -> list[Row]:
    """Phase 1. Returns the rows; appends a Problem for everything wrong."""

    def bad(row: Row, name: str, message: str) -> None:
        problems.append(Problem(row.file, row.number, row.line, row.kind, name, message))

    for row in rows:
        specs = SPECS[row.kind]
        if not isinstance(row.raw, dict):
            bad(row, "row", "must be a mapping of field: value")
            continue
        from_csv = row.file.lower().endswith(".csv")
        for name, value in row.raw.items():
            if name not in specs:
                bad(row, name, f"unknown field (allowed: {', '.join(specs)})")
                continue
            if value is None:
                continue
            coerced, err = _coerce(specs[name], value, from_csv)
            if err:
                bad(row, name, err)
            else:
                row.data[name] = coerced
        for name, spec in specs.items():
            if spec.required and name not in row.raw:
                bad(row, name, "is required")
        for name, message in _semantic(row.kind, row.data).items():
            bad(row, name, message)

    # Duplicate keys across rows (and files).
    first: dict[tuple[str, tuple[str, ...]], Row] = {}
    for row in rows:
        key = _key(row)
        if key is None:
            continue
        seen = first.setdefault((row.kind, key), row)
        if seen is not row:
            what = "slug" if len(key) == 1 else ("email" if row.kind == "contacts" else "instance")
            bad(row, what, f"duplicate: {' / '.join(key)} already at {seen.where()}")

    # References: to a row of the file, or to an object already in the database.
    in_file: dict[str, dict[str, Row]] = {k: {} for k in KINDS}
    for row in rows:
        if "slug" in row.data:
            in_file[row.kind].setdefault(row.data["slug"], row)
    wanted: dict[str, set[str]] = {k: set() for k in MODELS}
    for row in rows:
        for name, spec in SPECS[row.kind].items():
            if spec.type == "ref" and name in row.data:
                wanted[spec.ref].add(row.data[name])
    in_db: dict[str, dict[str, Any]] = {}
    for kind, slugs in wanted.items():
        qs = MODELS[kind].objects.filter(slug__in=slugs)
        if kind == "instances":
            qs = qs.select_related("product")
        in_db[kind] = {o.slug: o for o in qs}
    for row in rows:
        for name, spec in SPECS[row.kind].items():
            slug = row.data.get(name) if spec.type == "ref" else None
            if slug is None:
                continue
            if slug not in in_file[spec.ref] and slug not in in_db[spec.ref]:
                bad(
                    row, name, f"unknown {spec.ref[:-1]} {slug!r} (not in the file or the database)"
                )
                continue
            if row.kind == "customers" and name == "parent":
                parent_kind = (
                    in_file["customers"][slug].data.get("kind", CustomerKind.DIRECT)
                    if slug in in_file["customers"]
                    else in_db["customers"][slug].kind
                )
                if parent_kind != CustomerKind.RESELLER:
                    bad(row, name, f"{slug!r} is not a reseller; only a reseller can be a parent")
                elif slug == row.data.get("slug"):
                    bad(row, name, "a customer cannot be its own parent")
        if row.kind == "subscriptions" and "instance" in row.data and "product" in row.data:
            slug = row.data["instance"]
            product = (
                in_file["instances"][slug].data.get("product")
                if slug in in_file["instances"]
                else (in_db["instances"][slug].product.slug if slug in in_db["instances"] else None)
            )
            if product is not None and product != row.data["product"]:
                bad(
                    row,
                    "instance",
                    f"instance {slug!r} runs product {product!r}, not {row.data['product']!r}",
                )
    return rows


# --- phase 2: apply ------------------------------------------------------------------------


def _parents_first(rows: list[Row]) -> list[Row]:
    """Customers whose parent is in the file come after that parent (cycles keep file order)."""
    by_slug = {r.data["slug"]: r for r in rows}
    ordered: list[Row] = []
    placed: set[str] = set()

    def place(row: Row, trail: set[str]) -> None:
        slug = row.data["slug"]
        if slug in placed or slug in trail:
            return
        parent = row.data.get("parent")
        if parent in by_slug:
            place(by_slug[parent], trail | {slug})
        placed.add(slug)
        ordered.append(row)

    for row in rows:
        place(row, set())
    return ordered


def _same(current: Any, new: Any) -> bool:
    if hasattr(current, "pk"):
        current = current.pk
    if hasattr(new, "pk"):
        new = new.pk
    return bool(current == new)


def _upsert(
    existing: Any,
    changes: dict[str, Any],
    create: Callable[..., Any],
    update: Callable[..., Any],
    obj_kw: str,
    actor: Actor,
) -> str:
    if existing is None:
        create(actor=actor, **changes)
        return "created"
    changed = {k: v for k, v in changes.items() if not _same(getattr(existing, k), v)}
    if not changed:
        return "unchanged"
    update(actor=actor, **{obj_kw: existing}, **changed)
    return "updated"


def _lookup(model: Any, slug: str, field_name: str) -> Any:
    found = model.objects.filter(slug=slug).first()
    if found is None:
        raise DomainError(
            f"{slug!r} could not be imported (see its own row)",
            fields={field_name: f"{slug!r} could not be imported (see its own row)"},
        )
    return found


def _apply_row(row: Row, actor: Actor) -> str:
    d = dict(row.data)
    if row.kind == "products":
        return _upsert(
            Product.objects.filter(slug=d["slug"]).first(),
            d,
            services.create_product,
            services.update_product,
            "product",
            actor,
        )
    if row.kind == "customers":
        if "parent" in d:
            d["parent"] = _lookup(Customer, d["parent"], "parent")
        return _upsert(
            Customer.objects.filter(slug=d["slug"]).first(),
            d,
            services.create_customer,
            services.update_customer,
            "customer",
            actor,
        )
    if row.kind == "contacts":
        customer = _lookup(Customer, d.pop("customer"), "customer")
        existing = Contact.objects.filter(customer=customer, email=d["email"]).first()
        if existing is None:
            services.create_contact(actor=actor, customer=customer, **d)
            return "created"
        return _upsert(
            existing, d, services.create_contact, services.update_contact, "contact", actor
        )
    if row.kind == "instances":
        d["product"] = _lookup(Product, d["product"], "product")
        if "owner" in d:
            d["owner"] = _lookup(Customer, d["owner"], "owner")
        return _upsert(
            Instance.objects.filter(slug=d["slug"]).first(),
            d,
            services.create_instance,
            services.update_instance,
            "instance",
            actor,
        )
    customer = _lookup(Customer, d["customer"], "customer")
    product = _lookup(Product, d["product"], "product")
    instance = _lookup(Instance, d["instance"], "instance")
    if Subscription.objects.filter(customer=customer, product=product, instance=instance).exists():
        return "unchanged"
    services.create_subscription(actor=actor, customer=customer, product=product, instance=instance)
    return "created"


def apply_rows(rows: list[Row], actor: Actor, result: Result) -> None:
    by_kind: dict[str, list[Row]] = {k: [r for r in rows if r.kind == k] for k in KINDS}
    by_kind["customers"] = _parents_first(by_kind["customers"])
    for kind in KINDS:
        for row in by_kind[kind]:
            try:
                with transaction.atomic():
                    outcome = _apply_row(row, actor)
            except DomainError as exc:
                fields = exc.fields or {"row": exc.message}
                for name, message in fields.items():
                    result.problems.append(
                        Problem(row.file, row.number, row.line, row.kind, name, message)
                    )
                continue
            result.counts[kind][outcome] += 1


# --- entry point ---------------------------------------------------------------------------


def import_files(
    paths: Iterable[Path], *, actor: Actor, kind: str | None = None, dry_run: bool = False
) -> Result:
    """Check and (unless there is any problem or `dry_run`) import `paths` in one transaction."""
    result = Result(dry_run=dry_run)
    rows: list[Row] = []
    paths = list(paths)
    if kind is not None and kind not in KINDS:
        result.problems.append(
            Problem("-", 0, None, "", "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        )
        return result
    for path in paths:
        rows.extend(read_file(path, kind=kind, problems=result.problems))
    check_rows(rows, result.problems)
    if result.problems:
        result.problems.sort(key=_order)
        return result
    try:
        with transaction.atomic():
            with replans_deferred(actor=actor):  # live releases replanned once, not per row
                apply_rows(rows, actor, result)
            if result.problems or dry_run:
                raise _Rollback
    except _Rollback:
        if result.problems:
            result.counts = Result().counts
            result.problems.sort(key=_order)
    return result
