"""Staff timeline page, the release-page include, and the POST-only controls behind them."""

from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from releasedesk.catalog.models import Instance
from releasedesk.core.queue_models import WorkState
from releasedesk.portal.auth import SESSION_KEY
from releasedesk.releases.models import Release
from tests.timeline.conftest import SLOT, audit_actions, run_worker, set_executor

pytestmark = pytest.mark.django_db


def _reload(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def test_timeline_page_shows_local_and_utc_times(
    release: Release, make_step: Any, staff_client: Client
) -> None:
    make_step()
    response = staff_client.get(f"/timeline/releases/{release.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "2027-04-01 16:00 CEST (Europe/Amsterdam)" in html
    assert "2027-04-01 14:00 UTC" in html
    assert "Pause timeline" in html
    filtered = staff_client.get(f"/timeline/releases/{release.pk}/", {"state": "done"})
    assert "2027-04-01 16:00 CEST" not in filtered.content.decode()


def test_release_page_include_renders_the_panel(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    make_step(kind="task", key="t1", label="Update the lending shop")
    request = RequestFactory().get(f"/releases/{release.pk}/")
    request.user = vendor_admin
    html = render_to_string(
        "timeline/_release_timeline.html", {"release": release}, request=request
    )
    assert 'data-testid="timeline"' in html
    assert "Update the lending shop" in html
    assert f'action="/timeline/steps/{release.steps.get().pk}/done/"' in html
    assert f'value="/releases/{release.pk}/"' in html  # back to the release page
    assert "csrfmiddlewaretoken" in html


def test_pause_and_resume_through_the_page(
    release: Release, make_step: Any, staff_client: Client
) -> None:
    step = make_step()
    back = f"/releases/{release.pk}/"
    response = staff_client.post(
        f"/timeline/releases/{release.pk}/pause/", {"reason": "incident", "next": back}
    )
    assert (response.status_code, response["Location"]) == (302, back)
    assert (_reload(release).status, _reload(step).state) == ("paused", WorkState.BLOCKED)
    staff_client.post(f"/timeline/releases/{release.pk}/resume/")
    assert (_reload(release).status, _reload(step).state) == ("scheduled", WorkState.PENDING)
    assert audit_actions(release)[-1] == "timeline.resumed"
    # An outside "next" is ignored.
    response = staff_client.post(
        f"/timeline/releases/{release.pk}/pause/", {"next": "https://evil.test/"}
    )
    assert response["Location"] == f"/timeline/releases/{release.pk}/"


def test_manual_step_done_and_skip_without_reason_through_the_page(
    release: Release, make_step: Any, staff_client: Client, saas_eu: Instance
) -> None:
    set_executor(saas_eu, kind="manual")
    step = make_step()
    run_worker(SLOT)
    page = staff_client.get(f"/timeline/releases/{release.pk}/").content.decode()
    assert "waiting for a person" in page
    refused = staff_client.post(f"/timeline/steps/{step.pk}/skip/", {"reason": ""}, follow=True)
    assert "say why (skipping a step)" in refused.content.decode()
    assert _reload(step).state == WorkState.BLOCKED
    staff_client.post(f"/timeline/steps/{step.pk}/done/", {"comment": "deployed by hand"})
    assert (_reload(step).state, _reload(saas_eu).current_version) == (WorkState.DONE, "5.4.0")


def test_get_never_changes_state_and_csrf_is_required(
    release: Release, make_step: Any, vendor_admin: Any
) -> None:
    step = make_step()
    client = Client(enforce_csrf_checks=True)
    client.force_login(vendor_admin)
    assert client.get(f"/timeline/steps/{step.pk}/skip/").status_code == 405
    assert client.post(f"/timeline/steps/{step.pk}/skip/", {"reason": "x"}).status_code == 403
    assert _reload(step).state == WorkState.PENDING


def test_outsider_gets_404_and_anonymous_is_sent_to_sign_in(
    release: Release, make_step: Any, outsider_contact: Any
) -> None:
    step = make_step()
    anonymous = Client()
    response = anonymous.get(f"/timeline/releases/{release.pk}/")
    assert response.status_code == 302
    assert "login" in response["Location"]
    contact = Client()
    session = contact.session
    session[SESSION_KEY] = outsider_contact.pk
    session.save()
    assert contact.get(f"/timeline/releases/{release.pk}/").status_code == 404
    assert contact.post(f"/timeline/steps/{step.pk}/skip/", {"reason": "x"}).status_code == 404
    assert _reload(step).state == WorkState.PENDING


def test_unknown_step_is_404(staff_client: Client, release: Release) -> None:
    assert staff_client.post("/timeline/steps/999999/skip/", {"reason": "x"}).status_code == 404
