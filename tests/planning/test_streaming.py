"""The streaming planner: same steps as plan(), slots computed once per group."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.planning import _slots
from releasedesk.planning.planner import iter_plan, plan, sort_key
from releasedesk.planning.types import (
    CatalogueSnapshot,
    ContactSnapshot,
    CustomerSnapshot,
    Facts,
    InstanceSnapshot,
    ReleaseSnapshot,
    Step,
)

from .conftest import policy, utc

ZONES = ("Europe/London", "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe")
RELEASE = ReleaseSnapshot(id=72, version="7.2", target_date=dt.date(2027, 1, 18), product_ids=(1,))
FACTS = Facts(
    approvals_complete_at=utc("2027-01-20 10:00"),
    stage_passes={"service_acceptance": utc("2027-02-01 10:00")},
)


def hosted(n: int) -> CatalogueSnapshot:
    return CatalogueSnapshot(
        instances=tuple(
            InstanceSnapshot(i, f"i{i}", "dedicated", 1, owner_id=i, zone=ZONES[i % 4])
            for i in range(n)
        ),
        customers=tuple(CustomerSnapshot(i, f"c{i}", "hosted", ZONES[i % 4]) for i in range(n)),
        contacts=tuple(ContactSnapshot(i, i, ("admin",)) for i in range(n)),
    )


def test_iter_plan_streams_the_same_steps_as_plan() -> None:
    catalogue = hosted(40)
    now = utc("2027-02-01 10:00")
    streamed = [x for x in iter_plan(RELEASE, policy("hosted-monthly"), catalogue, FACTS, now)]
    steps = sorted((x for x in streamed if isinstance(x, Step)), key=sort_key)
    assert tuple(steps) == plan(RELEASE, policy("hosted-monthly"), catalogue, FACTS, now).steps
    assert len(steps) == 1 + 40 * 5  # stage + (notice, deadline, upgrade, verify, confirm) each
    # the hosted target puts every slot at 18:00 London, whatever the customer's zone
    assert {s.due_at for s in steps if s.kind == "upgrade"} == {utc("2027-02-09 18:00")}


def test_no_per_instance_zone_work(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = getattr(_slots, "to_local")  # noqa: B009 - not a public name of _slots

    def counting(*args: Any, **kwargs: Any) -> dt.datetime:
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(_slots, "to_local", counting)
    counts = []
    for n in (8, 400):
        calls["n"] = 0
        result = plan(RELEASE, policy("hosted-monthly"), hosted(n), FACTS, utc("2027-02-01 10:00"))
        assert len(result.steps) == 1 + n * 5
        counts.append(calls["n"])
    assert counts[0] == counts[1]
