"""/api/v1/accounts/: who am I, roles, staff users, teams and personal API tokens.

- Any signed-in staff member (token or session) may read roles, users and teams, and manage
  their own tokens.
- Creating roles, users and teams and changing role or team membership needs the `admin`
  role (or a superuser) *and* a write-capable request (write token or staff session).
- Token lists never contain the raw token or its hash; the raw token is returned once, by
  the create call.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from ninja.params import functions as param_functions

from releasedesk.accounts import services
from releasedesk.accounts.authn import actor_for, request_token, require_write, staff_user
from releasedesk.accounts.models import ApiToken, Role, Team, User
from releasedesk.core.api import ERROR_RESPONSES, BoundedPagination
from releasedesk.core.errors import NotFound, PermissionDenied

router = Router(tags=["accounts"])

MAX_ID = 2**53
ID_PATH: Any = param_functions.Path(..., ge=1, le=MAX_ID)
RoleSlug = Annotated[str, Field(min_length=1, max_length=64)]
MemberId = Annotated[int, Field(ge=1, le=MAX_ID)]


# --- schemas -------------------------------------------------------------------------------


class MeOut(Schema):
    id: int
    username: str
    is_staff: bool
    is_admin: bool
    roles: list[str]
    auth: Literal["token", "session"]
    token_scope: Literal["read", "write"] | None = Field(
        None, description="The scope of the token used, if any."
    )


class RoleOut(Schema):
    slug: str
    name: str
    description: str


class RoleIn(Schema):
    slug: str = Field(
        ..., min_length=1, max_length=64, description="lower-case letters, digits and _"
    )
    name: str = Field(..., min_length=1, max_length=120)
    description: str = Field("", max_length=2000)


class UserOut(Schema):
    id: int
    username: str
    email: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    roles: list[str]

    @staticmethod
    def resolve_roles(obj: User) -> list[str]:
        return sorted(r.slug for r in obj.roles.all())


class UserIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    email: str = Field("", max_length=254)
    password: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="Omit to create a user who cannot sign in yet.",
    )
    roles: list[RoleSlug] = Field(default_factory=list, max_length=50)


class RolesIn(Schema):
    roles: list[RoleSlug] = Field(..., max_length=50)


class TeamOut(Schema):
    id: int
    slug: str
    name: str
    roles: list[str]
    member_ids: list[int]

    @staticmethod
    def resolve_roles(obj: Team) -> list[str]:
        return sorted(r.slug for r in obj.roles.all())

    @staticmethod
    def resolve_member_ids(obj: Team) -> list[int]:
        return sorted(m.pk for m in obj.members.all())


class TeamIn(Schema):
    slug: str = Field(..., min_length=1, max_length=64)
    name: str = Field(..., min_length=1, max_length=120)
    roles: list[RoleSlug] = Field(default_factory=list, max_length=50)
    member_ids: list[MemberId] = Field(default_factory=list, max_length=500)


class MembersIn(Schema):
    member_ids: list[MemberId] = Field(..., max_length=500)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(
        ..., description="The first characters of the token (rd_<prefix>_…), to tell tokens apart."
    )
    scope: Literal["read", "write"]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    scope: Literal["read", "write"] = "read"
    expires_at: dt.datetime | None = Field(
        None, description="ISO 8601 with offset; must be in the future."
    )


class TokenCreatedOut(TokenOut):
    token: str = Field(..., description="The raw token. Shown only in this response; store it now.")


# --- helpers -------------------------------------------------------------------------------


def _staff(request: HttpRequest) -> User:
    user = staff_user(request)
    if user is None:
        raise PermissionDenied("Only active vendor staff may use the accounts API.")
    return user


def _admin_write(request: HttpRequest) -> User:
    require_write(request)
    user = _staff(request)
    services.ensure_admin(user)
    return user


def _get_user(pk: int) -> User:
    user = User.objects.filter(pk=pk).prefetch_related("roles").first()
    if user is None:
        raise NotFound(f"No user with id {pk}.")
    return user


def _get_team(pk: int) -> Team:
    team = Team.objects.filter(pk=pk).prefetch_related("roles", "members").first()
    if team is None:
        raise NotFound(f"No team with id {pk}.")
    return team


# --- me ------------------------------------------------------------------------------------


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, summary="The signed-in user")
def me(request: HttpRequest) -> dict[str, Any]:
    user = _staff(request)
    token = request_token(request)
    return {
        "id": user.pk,
        "username": user.username,
        "is_staff": user.is_staff,
        "is_admin": services.is_admin(user),
        "roles": sorted(user.role_slugs()),
        "auth": "token" if token is not None else "session",
        "token_scope": token.scope if token is not None else None,
    }


# --- roles ---------------------------------------------------------------------------------


@router.get("/roles", response={200: list[RoleOut], **ERROR_RESPONSES}, summary="List roles")
@paginate(BoundedPagination)
def list_roles(request: HttpRequest) -> Any:
    _staff(request)
    return Role.objects.order_by("slug")


@router.post("/roles", response={201: RoleOut, **ERROR_RESPONSES}, summary="Create a role (admin)")
def create_role(request: HttpRequest, payload: RoleIn) -> Status[Role]:
    _admin_write(request)
    role = services.create_role(
        actor=actor_for(request),
        slug=payload.slug,
        name=payload.name,
        description=payload.description,
    )
    return Status(201, role)


# --- users ---------------------------------------------------------------------------------


@router.get("/users", response={200: list[UserOut], **ERROR_RESPONSES}, summary="List staff users")
@paginate(BoundedPagination)
def list_users(request: HttpRequest) -> Any:
    _staff(request)
    return User.objects.order_by("username", "pk").prefetch_related("roles")


@router.post(
    "/users", response={201: UserOut, **ERROR_RESPONSES}, summary="Create a staff user (admin)"
)
def create_user(request: HttpRequest, payload: UserIn) -> Status[Any]:
    _admin_write(request)
    user = services.create_user(
        actor=actor_for(request),
        username=payload.username,
        email=payload.email,
        password=payload.password,
        roles=payload.roles,
    )
    return Status(201, _get_user(user.pk))


@router.get(
    "/users/{user_id}", response={200: UserOut, **ERROR_RESPONSES}, summary="One staff user"
)
def get_user(request: HttpRequest, user_id: int = ID_PATH) -> User:
    _staff(request)
    return _get_user(user_id)


@router.put(
    "/users/{user_id}/roles",
    response={200: UserOut, **ERROR_RESPONSES},
    summary="Set a user's roles (admin)",
)
def set_user_roles(request: HttpRequest, payload: RolesIn, user_id: int = ID_PATH) -> User:
    _admin_write(request)
    user = _get_user(user_id)
    services.set_roles(actor=actor_for(request), user=user, roles=payload.roles)
    return _get_user(user_id)


# --- teams ---------------------------------------------------------------------------------


@router.get("/teams", response={200: list[TeamOut], **ERROR_RESPONSES}, summary="List teams")
@paginate(BoundedPagination)
def list_teams(request: HttpRequest) -> Any:
    _staff(request)
    return Team.objects.order_by("slug", "pk").prefetch_related("roles", "members")


@router.post("/teams", response={201: TeamOut, **ERROR_RESPONSES}, summary="Create a team (admin)")
def create_team(request: HttpRequest, payload: TeamIn) -> Status[Any]:
    _admin_write(request)
    team = services.create_team(
        actor=actor_for(request),
        slug=payload.slug,
        name=payload.name,
        roles=payload.roles,
        member_ids=payload.member_ids,
    )
    return Status(201, _get_team(team.pk))


@router.put(
    "/teams/{team_id}/members",
    response={200: TeamOut, **ERROR_RESPONSES},
    summary="Set a team's members (admin)",
)
def set_team_members(request: HttpRequest, payload: MembersIn, team_id: int = ID_PATH) -> Team:
    _admin_write(request)
    team = _get_team(team_id)
    services.set_team_members(actor=actor_for(request), team=team, member_ids=payload.member_ids)
    return _get_team(team_id)


# --- tokens --------------------------------------------------------------------------------


@router.get(
    "/tokens", response={200: list[TokenOut], **ERROR_RESPONSES}, summary="List your API tokens"
)
@paginate(BoundedPagination)
def list_tokens(request: HttpRequest) -> Any:
    user = _staff(request)
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


@router.post(
    "/tokens",
    response={201: TokenCreatedOut, **ERROR_RESPONSES},
    summary="Create an API token (shown once)",
)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[Any]:
    require_write(request)
    user = _staff(request)
    token, raw = services.create_api_token(
        actor=actor_for(request),
        user=user,
        name=payload.name,
        scope=payload.scope,
        expires_at=payload.expires_at,
    )
    token.token = raw  # type: ignore[attr-defined]  # attached for this response only
    return Status(201, token)


@router.post(
    "/tokens/{token_id}/revoke",
    response={200: TokenOut, **ERROR_RESPONSES},
    summary="Revoke one of your tokens",
)
def revoke_token(request: HttpRequest, token_id: int = ID_PATH) -> ApiToken:
    require_write(request)
    user = _staff(request)
    token = services.get_token_for_owner(user=user, token_id=token_id)
    services.revoke_api_token(actor=actor_for(request), token=token)
    return token
