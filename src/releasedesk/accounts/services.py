"""State changes of the accounts app: staff users, roles, teams and API tokens.

Every function is keyword-only, atomic, and writes one audit event. Audit rows carry ids,
role slugs and scopes only — never usernames, names or e-mail addresses.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Sequence

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction

from releasedesk.accounts.authn import hash_token
from releasedesk.accounts.choices import TokenScope
from releasedesk.accounts.models import ApiToken, Role, Team, User
from releasedesk.audit.services import record
from releasedesk.core import clock
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

MIN_PASSWORD_LENGTH = 8
ADMIN_ROLE = "admin"
_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TEAM_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# --- checks shared by the API, web and CLI -------------------------------------------------


def is_admin(user: User | None) -> bool:
    """May manage users, roles and teams: superusers and holders of the `admin` role."""
    if user is None or not user.is_active:
        return False
    return bool(user.is_superuser) or user.has_role(ADMIN_ROLE)


def ensure_admin(user: User | None) -> None:
    if not is_admin(user):
        raise PermissionDenied("Managing users, roles and teams needs the 'admin' role.")


def resolve_roles(slugs: Iterable[str], *, field: str = "roles") -> list[Role]:
    """The Role rows for `slugs`; an unknown slug is a ValidationFailed listing the allowed ones."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs))
    found = {r.slug: r for r in Role.objects.filter(slug__in=wanted)}
    unknown = [s for s in wanted if s not in found]
    if unknown:
        allowed = (
            ", ".join(Role.objects.order_by("slug").values_list("slug", flat=True))
            or "none defined"
        )
        raise ValidationFailed(
            f"Unknown role {', '.join(repr(s) for s in unknown)} (allowed: {allowed}).",
            fields={field: f"unknown role {unknown[0]!r}; allowed: {allowed}"},
        )
    return [found[s] for s in wanted]


def _text(value: str, *, field: str, max_length: int, label: str, required: bool = True) -> str:
    """Strip and bound a free-text field; NUL characters are refused (PostgreSQL cannot store them)."""
    value = value.strip()
    if "\x00" in value:
        raise ValidationFailed(
            f"The {label} contains a NUL character.", fields={field: "contains a NUL character"}
        )
    if (required and not value) or len(value) > max_length:
        lower = 1 if required else 0
        raise ValidationFailed(
            f"The {label} must have {lower} to {max_length} characters.",
            fields={field: f"{lower} to {max_length} characters"},
        )
    return value


def _validate_password(password: str | None) -> None:
    if password is None:
        return
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            fields={"password": f"at least {MIN_PASSWORD_LENGTH} characters"},
        )
    if len(password) > 256:
        raise ValidationFailed(
            "The password is too long (at most 256 characters).",
            fields={"password": "at most 256 characters"},
        )


def _validate_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > 150:
        raise ValidationFailed(
            "The username must have 1 to 150 characters.",
            fields={"username": "1 to 150 characters"},
        )
    try:
        UnicodeUsernameValidator()(username)
    except DjangoValidationError:
        raise ValidationFailed(
            "The username may contain only letters, digits and @ . + - _.",
            fields={"username": "letters, digits and @ . + - _ only"},
        ) from None
    return username


def _validate_email(email: str) -> str:
    email = email.strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(
            f"{email!r} is not a valid e-mail address.",
            fields={"email": "not a valid e-mail address"},
        ) from None
    return email


# --- users ---------------------------------------------------------------------------------


@transaction.atomic
def create_user(
    *,
    actor: Actor,
    username: str,
    email: str = "",
    password: str | None = None,
    roles: Sequence[str] = (),
    is_staff: bool = True,
    is_superuser: bool = False,
) -> User:
    """A staff user with `roles` (slugs). Without a password the user cannot sign in yet."""
    username = _validate_username(username)
    email = _validate_email(email)
    _validate_password(password)
    role_rows = resolve_roles(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(
            f"A user named {username!r} already exists.", fields={"username": "already taken"}
        )
    user = User(
        username=username, email=email, is_staff=is_staff or is_superuser, is_superuser=is_superuser
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    user.roles.set(role_rows)
    record(
        actor=actor,
        action="accounts.user_created",
        obj=user,
        after={
            "roles": sorted(r.slug for r in role_rows),
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
        },
    )
    return user


@transaction.atomic
def set_roles(*, actor: Actor, user: User, roles: Sequence[str]) -> User:
    role_rows = resolve_roles(roles)
    before = sorted(user.role_slugs())
    user.roles.set(role_rows)
    after = sorted(r.slug for r in role_rows)
    record(
        actor=actor,
        action="accounts.user_roles_set",
        obj=user,
        before={"roles": before},
        after={"roles": after},
    )
    return user


@transaction.atomic
def set_active(*, actor: Actor, user: User, active: bool) -> User:
    before = user.is_active
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    if not active:
        # A deactivated user's tokens stop working with the user; revoke them explicitly too.
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())
    record(
        actor=actor,
        action="accounts.user_active_set",
        obj=user,
        before={"is_active": before},
        after={"is_active": active},
    )
    return user


# --- roles ---------------------------------------------------------------------------------


@transaction.atomic
def create_role(*, actor: Actor, slug: str, name: str, description: str = "") -> Role:
    slug = slug.strip()
    if not _SLUG.match(slug):
        raise ValidationFailed(
            f"{slug!r} is not a valid role slug (lower-case letters, digits and _, starting with a letter, at most 64).",
            fields={"slug": "lower-case letters, digits and _; starts with a letter; at most 64"},
        )
    name = _text(name, field="name", max_length=120, label="role name")
    description = _text(
        description, field="description", max_length=2000, label="description", required=False
    )
    if Role.objects.filter(slug=slug).exists():
        raise Conflict(f"A role {slug!r} already exists.", fields={"slug": "already exists"})
    role = Role.objects.create(slug=slug, name=name, description=description)
    record(actor=actor, action="accounts.role_created", obj=role, after={"slug": role.slug})
    return role


@transaction.atomic
def ensure_default_roles(*, actor: Actor) -> list[Role]:
    """Create the default roles that do not exist yet (idempotent; one audit event if any)."""
    from releasedesk.accounts.choices import DEFAULT_ROLES

    existing = set(Role.objects.values_list("slug", flat=True))
    created = [
        Role.objects.create(slug=slug, name=name)
        for slug, name in DEFAULT_ROLES
        if slug not in existing
    ]
    if created:
        record(
            actor=actor,
            action="accounts.default_roles_created",
            after={"roles": [r.slug for r in created]},
            scope="accounts:roles",
        )
    return created


# --- teams ---------------------------------------------------------------------------------


@transaction.atomic
def create_team(
    *, actor: Actor, slug: str, name: str, roles: Sequence[str] = (), member_ids: Sequence[int] = ()
) -> Team:
    slug = slug.strip()
    if not _TEAM_SLUG.match(slug):
        raise ValidationFailed(
            f"{slug!r} is not a valid team slug (lower-case letters, digits, - and _, at most 64).",
            fields={"slug": "lower-case letters, digits, - and _; at most 64"},
        )
    name = _text(name, field="name", max_length=120, label="team name")
    if Team.objects.filter(slug=slug).exists():
        raise Conflict(f"A team {slug!r} already exists.", fields={"slug": "already exists"})
    role_rows = resolve_roles(roles)
    members = _resolve_members(member_ids)
    team = Team.objects.create(slug=slug, name=name)
    team.roles.set(role_rows)
    team.members.set(members)
    record(
        actor=actor,
        action="accounts.team_created",
        obj=team,
        after={
            "slug": team.slug,
            "roles": sorted(r.slug for r in role_rows),
            "member_ids": sorted(m.pk for m in members),
        },
    )
    return team


@transaction.atomic
def set_team_members(*, actor: Actor, team: Team, member_ids: Sequence[int]) -> Team:
    members = _resolve_members(member_ids)
    before = sorted(team.members.values_list("pk", flat=True))
    team.members.set(members)
    record(
        actor=actor,
        action="accounts.team_members_set",
        obj=team,
        before={"member_ids": before},
        after={"member_ids": sorted(m.pk for m in members)},
    )
    return team


def _resolve_members(member_ids: Sequence[int]) -> list[User]:
    wanted = list(dict.fromkeys(member_ids))
    found = {u.pk: u for u in User.objects.filter(pk__in=wanted, is_staff=True)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed(
            f"No staff user with id {', '.join(str(i) for i in missing)}.",
            fields={"member_ids": f"unknown staff user id {missing[0]}"},
        )
    return [found[i] for i in wanted]


# --- API tokens ----------------------------------------------------------------------------


def _new_raw_token() -> tuple[str, str]:
    prefix = secrets.token_hex(4)  # 8 hex chars: shown in lists to tell tokens apart
    return prefix, f"rd_{prefix}_{secrets.token_urlsafe(32)}"


@transaction.atomic
def create_api_token(
    *,
    actor: Actor,
    user: User,
    name: str,
    scope: str,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user`. Returns (row, raw token); the raw token is not stored anywhere."""
    name = _text(name, field="name", max_length=120, label="token name")
    if scope not in TokenScope.values:
        raise ValidationFailed(
            f"Unknown token scope {scope!r} (allowed: {', '.join(TokenScope.values)}).",
            fields={"scope": f"allowed: {', '.join(TokenScope.values)}"},
        )
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationFailed(
                "expires_at must include a time zone offset.",
                fields={"expires_at": "needs a time zone offset"},
            )
        try:
            expires_at = expires_at.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationFailed(
                "expires_at is out of range.", fields={"expires_at": "out of range"}
            ) from None
        if expires_at.year > 9000:
            raise ValidationFailed(
                "expires_at is out of range (year at most 9000).",
                fields={"expires_at": "year at most 9000"},
            )
        if expires_at <= clock.now():
            raise ValidationFailed(
                "expires_at must be in the future.", fields={"expires_at": "must be in the future"}
            )
    if not user.is_active:
        raise ValidationFailed(
            "Tokens can be created only for active users.", fields={"user": "inactive"}
        )
    prefix, raw = _new_raw_token()
    while ApiToken.objects.filter(prefix=prefix).exists():  # pragma: no cover - 1 in 4e9
        prefix, raw = _new_raw_token()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        token_hash=hash_token(raw),
        scope=scope,
        created_at=clock.now(),
        expires_at=expires_at,
    )
    record(
        actor=actor,
        action="accounts.token_created",
        obj=token,
        after={
            "user_id": user.pk,
            "scope": scope,
            "prefix": prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, actor: Actor, token: ApiToken) -> ApiToken:
    now = clock.now()
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if updated != 1:
        raise Conflict("This token is already revoked.", fields={"token": "already revoked"})
    token.revoked_at = now
    record(
        actor=actor,
        action="accounts.token_revoked",
        obj=token,
        before={"revoked": False},
        after={"revoked": True, "user_id": token.user_id},
    )
    return token


def get_token_for_owner(*, user: User, token_id: int) -> ApiToken:
    """A token of `user` (their own), else NotFound."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound(f"No token {token_id} of yours.")
    return token
