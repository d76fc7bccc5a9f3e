"""What the planner must know from this app (`planning.snapshot.facts_for` loads it):

- `consent_facts(release)`: decisions that count — opt-outs, acceptances and postponements
  staff confirmed — with the instant they were received;
- `notices_delivered(release)`: notice step key -> the instant its notice counts as
  delivered: the latest SMTP 250 among its messages, once every message has settled
  (none waiting or being retried) and at least one was delivered. Messages that failed
  permanently (an unreachable address) do not hold it back; a notice nobody received is
  not delivered;
- `opt_out_streaks(release, instance_ids)`: consecutive opt-outs before this release.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from releasedesk.consent.choices import ConsentState, PostponeStatus
from releasedesk.consent.models import Consent
from releasedesk.core.queue_models import WorkState
from releasedesk.outbox.choices import MessageKind
from releasedesk.outbox.models import Message
from releasedesk.planning.types import ConsentDecision, ConsentFact
from releasedesk.releases.models import Release

# Message states that may still turn into a delivery.
UNSETTLED = (WorkState.PENDING, WorkState.RUNNING, WorkState.BLOCKED)


def subject_ref(step_key: str) -> str:
    """The outbox subject of a step's messages: its key without the release, ':' -> '.'
    (`r7:i30:notice:2027-02-09` -> `i30.notice.2027-02-09`)."""
    return step_key.split(":", 1)[1].replace(":", ".")


def step_key(release_id: int, ref: str) -> str:
    return f"r{release_id}:" + ref.replace(".", ":")


def consent_facts(release: Release) -> tuple[ConsentFact, ...]:
    facts: list[ConsentFact] = []
    rows = Consent.objects.filter(release=release).exclude(decided_at__isnull=True)
    for row in rows.order_by("decided_at", "id"):
        decision: ConsentDecision
        if row.state == ConsentState.OPTED_OUT:
            decision = "opted_out"
        elif row.state == ConsentState.APPROVED:
            decision = "approved"
        elif (
            row.state == ConsentState.POSTPONED and row.postpone_status == PostponeStatus.CONFIRMED
        ):
            decision = "postponed"
        else:
            continue
        assert row.decided_at is not None
        facts.append(
            ConsentFact(
                target=row.target,
                instance_id=row.instance_id,
                decision=decision,
                received_at=row.decided_at,
                slot_date=row.slot_date,
                channel=row.channel,
                proposed_at=row.proposed_start,
            )
        )
    return tuple(facts)


def notice_delivery(release_id: int, key: str) -> dt.datetime | None:
    """When the notice of step `key` counts as delivered (see the module docstring)."""
    return notices_delivered_for(release_id, [key]).get(key)


def notices_delivered_for(
    release_id: int, keys: Iterable[str] | None = None
) -> dict[str, dt.datetime]:
    qs = Message.objects.filter(release_id=release_id, kind=MessageKind.ADVANCE_NOTICE)
    if keys is not None:
        qs = qs.filter(subject_ref__in=[subject_ref(k) for k in keys])
    latest: dict[str, dt.datetime] = {}
    open_: set[str] = set()
    for ref, state, delivered_at in qs.values_list("subject_ref", "state", "delivered_at"):
        if state in UNSETTLED:
            open_.add(ref)
        elif delivered_at is not None and (ref not in latest or delivered_at > latest[ref]):
            latest[ref] = delivered_at
    return {step_key(release_id, ref): at for ref, at in latest.items() if ref not in open_}


def notices_delivered(release: Release) -> dict[str, dt.datetime]:
    return notices_delivered_for(release.pk)


def opt_out_streaks(release: Release, instance_ids: Iterable[int]) -> dict[int, int]:
    """Per instance, the opt-outs in a row on other releases' slots (newest first, until a
    slot that went ahead)."""
    wanted = set(instance_ids)
    rows = (
        Consent.objects.filter(instance_id__in=wanted)
        .exclude(release=release)
        .order_by("instance_id", "-slot_start", "-id")
        .values_list("instance_id", "state", "postpone_status")
    )
    streaks: dict[int, int] = {}
    stopped: set[int] = set()
    for instance_id, state, postpone in rows:
        if instance_id in stopped:
            continue
        if state == ConsentState.OPTED_OUT or (
            state == ConsentState.POSTPONED and postpone == PostponeStatus.CONFIRMED
        ):
            streaks[instance_id] = streaks.get(instance_id, 0) + 1
        elif state in (ConsentState.APPROVED, ConsentState.NO_RESPONSE):
            stopped.add(instance_id)
    return streaks
