"""State changes of policies: apply a YAML source as a new version, delete a policy."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from releasedesk.accounts.models import User
from releasedesk.audit.services import record
from releasedesk.core.context import Actor
from releasedesk.core.errors import Conflict
from releasedesk.policies.loader import load_policy
from releasedesk.policies.models import Policy, PolicyVersion


def source_checksum(source: str) -> str:
    normalised = source.replace("\r\n", "\n")
    return hashlib.sha256(normalised.encode()).hexdigest()


def _actor_and_user(actor: Actor | User | None) -> tuple[Actor, User | None]:
    if isinstance(actor, User):
        return Actor(kind="staff", id=actor.pk), actor
    if actor is None:
        return Actor.system(), None
    user_id = (
        actor.on_behalf_of if actor.kind == "token" else actor.id if actor.kind == "staff" else None
    )
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    return actor, user


def apply_policy(*, source: str, filename: str, actor: Actor | User | None) -> PolicyVersion:
    """Validate `source` and store it as the policy's next version.

    Raises PolicyInvalid (a ValidationFailed) with every error. Applying the same source
    again changes nothing and returns the latest version.
    """
    version, _ = apply_policy_source(source=source, filename=filename, actor=actor)
    return version


@transaction.atomic
def apply_policy_source(
    *, source: str, filename: str, actor: Actor | User | None
) -> tuple[PolicyVersion, bool]:
    """apply_policy(), also telling whether a new version was created."""
    document = load_policy(source, filename)
    audit_actor, user = _actor_and_user(actor)
    checksum = source_checksum(source)
    policy, _ = Policy.objects.get_or_create(
        slug=document.policy, defaults={"name": document.policy}
    )
    latest: PolicyVersion | None = policy.versions.order_by("-number").first()
    if latest is not None and latest.checksum == checksum:
        return latest, False
    number = (latest.number if latest else 0) + 1
    try:
        with transaction.atomic():
            version = PolicyVersion.objects.create(
                policy=policy,
                number=number,
                source_yaml=source,
                filename=filename[:255],
                document=document.model_dump(mode="json", by_alias=True),
                checksum=checksum,
                created_by=user,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"policy {policy.slug} got version {number} from someone else at the same time; apply again"
        ) from exc
    record(
        actor=audit_actor,
        action="policies.apply",
        obj=version,
        before=latest.summary() if latest else None,
        after=version.summary(),
        scope=f"policies.policy:{policy.pk}",
    )
    from releasedesk.timeline.replan import something_changed

    something_changed(actor=audit_actor, policy_id=policy.pk)
    return version, True


@transaction.atomic
def delete_policy(*, policy: Policy, actor: Actor | User | None) -> None:
    """Delete a policy and its versions; refused while any release uses one of them."""
    audit_actor, _ = _actor_and_user(actor)
    before = {"policy": policy.slug, "versions": policy.versions.count()}
    policy_pk = policy.pk
    try:
        with transaction.atomic():
            policy.delete()
    except ProtectedError as exc:
        count = len(exc.protected_objects)
        raise Conflict(
            f"policy {policy.slug} is used by {count} release{'s' if count != 1 else ''}; it cannot be deleted",
            fields={"policy": "in use"},
        ) from exc
    record(
        actor=audit_actor,
        action="policies.delete",
        obj=None,
        before=before,
        after=None,
        scope=f"policies.policy:{policy_pk}",
    )
