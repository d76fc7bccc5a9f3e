from __future__ import annotations

from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "releasedesk.timeline"
    label = "timeline"

    def ready(self) -> None:
        # The step handler (claim -> perform_step -> finish_step) joins the one worker loop.
        # It carries the name `handle_one_timeline_steps`, so `core.worker.load_handlers`
        # does not add a second, generic handler for the same table.
        from releasedesk.core import worker
        from releasedesk.timeline.execution import (
            REPLAN_HOOKS,
            handle_one_timeline_steps,
            replan_after_gate,
        )

        worker.register(handle_one_timeline_steps)
        # A gate that asks for a new plan (window closed, release postponed) gets one.
        if replan_after_gate not in REPLAN_HOOKS:
            REPLAN_HOOKS.append(replan_after_gate)
