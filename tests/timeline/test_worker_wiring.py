"""The timeline's handler is the one worker loop's only handler for steps, and runs steps
through `perform_step` like any turn of `releasedesk worker`."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from releasedesk.catalog.models import Instance
from releasedesk.core import worker
from releasedesk.core.queue_models import WorkState
from releasedesk.releases.models import Release
from releasedesk.timeline.execution import handle_one_timeline_steps
from tests.timeline.conftest import SLOT, set_executor

pytestmark = pytest.mark.django_db


def test_load_handlers_has_exactly_one_step_handler() -> None:
    handlers = worker.load_handlers()
    names = [getattr(h, "__qualname__", "") for h in handlers]
    assert names.count("handle_one_timeline_steps") == 1
    assert handle_one_timeline_steps in handlers


def test_a_worker_turn_performs_a_due_upgrade(
    release: Release, make_step: Any, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="simulated", duration_seconds=0)
    step = make_step()
    with time_machine.travel(SLOT, tick=False):
        assert worker.run_turn([handle_one_timeline_steps]) is True
        assert worker.run_turn([handle_one_timeline_steps]) is False
    step.refresh_from_db()
    saas_eu.refresh_from_db()
    assert (step.state, saas_eu.current_version) == (WorkState.DONE, "5.4.0")
