"""Shared pieces of the consent and scenario tests: catalogues for the hosted (S3) and OEM
(S2) policies, a worker driven on a moving clock, and the links out of received e-mails.

`drive(start, end, events=...)` moves the one clock (time_machine) to every instant where a
timeline step or an outbox message falls due (and to each event's instant), and there runs
the real worker handlers — `timeline.execution.handle_one_timeline_steps` and
`outbox.delivery.deliver_due` (SMTP to the loopback aiosmtpd sink) — until nothing is due.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import time_machine

from releasedesk.accounts.models import User
from releasedesk.catalog.models import Contact, Customer, Instance, Product, Subscription
from releasedesk.core.context import Actor
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.delivery import deliver_due
from releasedesk.outbox.models import Message
from releasedesk.releases import services as release_services
from releasedesk.releases.models import Release
from releasedesk.timeline.execution import handle_one_timeline_steps
from releasedesk.timeline.models import ScheduledStep
from tests.outbox.sink import Received

UTC = dt.UTC
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
LINK = re.compile(r"(https?://\S+/consent/link/(opt_out|postpone|accept)/\S+/)")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def staff_actor(user: User) -> Actor:
    return Actor(kind="staff", id=user.pk)


def staff(username: str, roles: dict[str, Any], *role_slugs: str) -> User:
    user = User.objects.create_user(
        username=username, email=f"{username}@vendor.test", is_staff=True
    )
    user.roles.set([roles[s] for s in role_slugs])
    return user


def apply_example(name: str) -> Any:
    from releasedesk.policies.services import apply_policy

    path = EXAMPLES / f"{name}.yaml"
    return apply_policy(source=path.read_text(), filename=str(path), actor=None).policy


def customer_with_instance(
    product: Product,
    *,
    slug: str,
    name: str,
    zone: str,
    kind: str = "hosted",
    instance_kind: str = "dedicated",
    contacts: tuple[tuple[str, str, list[str]], ...] = (),
    version: str = "7.1",
) -> tuple[Customer, Instance, list[Contact]]:
    customer = Customer.objects.create(slug=slug, name=name, timezone=zone, kind=kind)
    instance = Instance.objects.create(
        slug=f"{slug}-prod",
        name=f"{name} production",
        kind=instance_kind,
        product=product,
        owner=customer,
        current_version=version,
    )
    Subscription.objects.create(customer=customer, product=product, instance=instance)
    people = [
        Contact.objects.create(customer=customer, name=cname, email=email, roles=roles)
        for cname, email, roles in contacts
    ]
    return customer, instance, people


def release_approved(
    policy: Any,
    product: Product,
    *,
    version: str,
    target: dt.date,
    creator: User,
    approvers: list[tuple[User, str]],
    at: dt.datetime,
) -> Release:
    with time_machine.travel(at, tick=False):
        release = release_services.create_release(
            actor=staff_actor(creator),
            created_by=creator,
            policy=policy,
            products=[product],
            version=version,
            target_date=target,
        )
        release_services.assess_release(
            release=release,
            actor=staff_actor(creator),
            assessor=creator,
            impact=None,
            likelihood=None,
        )
        for user, role in approvers:
            release_services.approve_release(
                release=release, actor=staff_actor(user), user=user, role=role
            )
    release.refresh_from_db()
    return release


# --- the moving clock ------------------------------------------------------------------------


def _next_due(after: dt.datetime) -> dt.datetime | None:
    times = [
        ScheduledStep.objects.filter(state=WorkState.PENDING, due_at__gt=after)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first(),
        Message.objects.filter(state=WorkState.PENDING, due_at__gt=after)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first(),
    ]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def work_at(now: dt.datetime, *, rounds: int = 50) -> int:
    """Run the worker handlers at `now` until nothing more happens; how many units ran."""
    done = 0
    with time_machine.travel(now, tick=False):
        for _ in range(rounds):
            progressed = 0
            while progressed < 500 and handle_one_timeline_steps(now=now, owner="w1"):
                progressed += 1
            before = Message.objects.filter(state=WorkState.PENDING, due_at__lte=now).count()
            sent = deliver_due(owner="w1", now=now)
            after = Message.objects.filter(state=WorkState.PENDING, due_at__lte=now).count()
            if sent and after < before:
                progressed += sent
            done += progressed
            if not progressed:
                break
    return done


def drive(
    start: dt.datetime,
    end: dt.datetime,
    events: dict[dt.datetime, Callable[[], Any]] | None = None,
) -> list[dt.datetime]:
    """Move the clock from `start` to `end` through every due instant and every event (run
    at its instant, before the worker); the instants visited."""
    pending = sorted((events or {}).items())
    now, visited = start, []
    while now <= end:
        while pending and pending[0][0] <= now:
            at, action = pending.pop(0)
            with time_machine.travel(at, tick=False):
                action()
        work_at(now)
        visited.append(now)
        candidates = [t for t in (_next_due(now), pending[0][0] if pending else None) if t]
        if not candidates:
            break
        now = min(candidates)
    return visited


# --- mail ------------------------------------------------------------------------------------


def links_in(message: Received) -> dict[str, str]:
    """action -> URL of the consent links in a received e-mail's text."""
    return {action: url for url, action in LINK.findall(message.text())}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def subjects(messages: list[Received]) -> list[str]:
    return [" ".join(str(m.message["Subject"]).split()) for m in messages]


def text_of(message: Received) -> str:
    """The plain-text body with plain newlines."""
    return message.text().replace("\r\n", "\n")
