from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from releasedesk.audit.models import AuditEvent
from releasedesk.core.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from releasedesk.releases import services
from releasedesk.releases.models import Approval, Release, RiskAssessment
from releasedesk.releases.schemas import ChangeItemData
from releasedesk.releases.selectors import missing_approvals
from tests.releases.conftest import actor_of

pytestmark = pytest.mark.django_db

MIGRATION = {"kind": "database_migration", "title": "Split the sessions table"}


def _assess(release: Any, user: Any, impact: int, likelihood: int, **kw: Any) -> RiskAssessment:
    return services.assess_release(
        release=release,
        actor=actor_of(user),
        assessor=user,
        impact=impact,
        likelihood=likelihood,
        **kw,
    )


def _approve(release: Any, user: Any, role: str, comment: str = "ok") -> Approval:
    return services.approve_release(
        release=release, actor=actor_of(user), user=user, role=role, comment=comment
    )


def test_create_release_records_changes_and_one_audit_event(
    make_release: Any, presenter: Any
) -> None:
    release = make_release(
        changes=[MIGRATION, {"kind": "fix", "title": "Login loop", "significant": True}]
    )
    assert release.status == "draft"
    assert [(c.kind, c.title, c.position) for c in release.changes.all()] == [
        ("database_migration", "Split the sessions table", 0),
        ("fix", "Login loop", 1),
    ]
    assert list(release.products.all()) == [presenter]
    events = AuditEvent.objects.filter(scope=f"release:{release.pk}")
    assert [e.action for e in events] == ["release.created"]


def test_database_migration_floor_raises_1x1_to_medium_with_reason(
    make_release: Any, product_manager: Any
) -> None:
    release = make_release(changes=[MIGRATION])
    assessment = _assess(release, product_manager, 1, 1)
    assert (assessment.base_level, assessment.level) == ("negligible", "medium")
    floors = [f for f in assessment.factors if f["source"] == "floor"]
    assert len(floors) == 1
    assert floors[0]["reason"] == "Database changes carry higher operational risk"
    assert floors[0]["level"] == "medium"
    assert assessment.required_approvals == [{"role": "product_manager", "count": 1}]
    release.refresh_from_db()
    assert release.status == "assessed"
    assert release.policy_version == assessment.policy_version


@pytest.mark.parametrize(
    ("impact", "likelihood", "field"),
    [(0, 3, "impact"), (6, 3, "impact"), (3, 0, "likelihood"), (3, 6, "likelihood")],
)
def test_impact_and_likelihood_outside_1_to_5_are_refused(
    make_release: Any, product_manager: Any, impact: int, likelihood: int, field: str
) -> None:
    release = make_release()
    with pytest.raises(ValidationFailed) as exc:
        _assess(release, product_manager, impact, likelihood)
    assert field in exc.value.fields
    assert "1 to 5" in exc.value.message
    assert not RiskAssessment.objects.exists()
    assert Release.objects.get().status == "draft"


def test_unknown_change_kind_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown change kind 'rewrite' \(allowed: feature, fix, security, performance, database_migration, ux, other\)",
    ):
        ChangeItemData(kind="rewrite", title="Rewrite everything")


def test_reassessment_keeps_history(make_release: Any, product_manager: Any) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    second = _assess(release, product_manager, 4, 4, rationale="More schools affected")
    assert second.version == 2
    assert list(release.assessments.values_list("version", "level")) == [
        (2, "high"),
        (1, "negligible"),
    ]


def test_self_approval_refused(make_release: Any, product_manager: Any) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    with pytest.raises(
        PermissionDenied, match=r"Nobody approves their own release: 5.4.0 was created by pm"
    ):
        _approve(release, product_manager, "product_manager")
    assert not Approval.objects.exists()


def test_approving_without_the_role_refused(
    make_release: Any, product_manager: Any, cto: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    with pytest.raises(PermissionDenied, match=r"cto does not hold the role 'product_manager'"):
        _approve(release, cto, "product_manager")
    assert not Approval.objects.exists()


def test_role_not_demanded_refused(make_release: Any, product_manager: Any, cto: Any) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    with pytest.raises(
        ValidationFailed,
        match=r"role 'cto' is not required for release 5.4.0 at level negligible \(required: product_manager\)",
    ):
        _approve(release, cto, "cto")


def test_approving_twice_refused(
    make_release: Any, product_manager: Any, cto: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 4, 4)
    _approve(release, second_pm, "product_manager")
    with pytest.raises(Conflict, match=r"pm2 already approved release 5.4.0 as product_manager"):
        _approve(release, second_pm, "product_manager")
    assert Approval.objects.count() == 1
    assert Release.objects.get().status == "assessed"


def test_all_approvals_make_it_approved_and_revoke_steps_back(
    make_release: Any, product_manager: Any, cto: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 4, 4)
    _approve(release, second_pm, "product_manager")
    assert [r.role for r in missing_approvals(Release.objects.get())] == ["cto"]
    approval = _approve(release, cto, "cto")
    release.refresh_from_db()
    assert release.status == "approved"
    assert missing_approvals(release) == []
    with pytest.raises(ValidationFailed, match=r"say why"):
        services.revoke_approval(
            release=release, approval_id=approval.pk, actor=actor_of(cto), user=cto, comment=""
        )
    services.revoke_approval(
        release=release,
        approval_id=approval.pk,
        actor=actor_of(cto),
        user=cto,
        comment="Load test failed",
    )
    release.refresh_from_db()
    assert release.status == "assessed"
    assert [r.role for r in missing_approvals(release)] == ["cto"]
    approval.refresh_from_db()
    assert (approval.decision, approval.revoked_by, approval.revoke_comment) == (
        "revoked",
        cto,
        "Load test failed",
    )


def test_extreme_is_recorded_but_cannot_be_approved(
    make_release: Any, product_manager: Any, cto: Any
) -> None:
    release = make_release()
    assessment = _assess(release, product_manager, 5, 5)
    assert (assessment.level, assessment.releasable) == ("extreme", False)
    release.refresh_from_db()
    assert release.status == "assessed"
    with pytest.raises(Conflict) as exc:
        _approve(release, cto, "cto")
    assert (
        exc.value.message
        == "Risk level 'extreme' is not releasable under policy school-saas: Reduce the risk and re-assess"
    )
    assert exc.value.code == "not_releasable"
    assert not Approval.objects.exists()


def test_editing_changes_after_approval_voids_and_requires_reassessment(
    make_release: Any, product_manager: Any, cto: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 4, 4)
    _approve(release, second_pm, "product_manager")
    _approve(release, cto, "cto")
    outcome = services.add_change(
        release=release, actor=actor_of(product_manager), data=ChangeItemData(**MIGRATION)
    )
    release.refresh_from_db()
    assert release.status == "draft"
    assert release.approvals_generation == 2
    assert outcome.notice == (
        "Approvals voided because a change item was added ('Split the sessions table') (cto, product_manager must approve again)."
        " Re-assess the risk before asking for approvals."
    )
    assert release.notice == outcome.notice
    assert set(Approval.objects.values_list("void_reason", flat=True)) == {
        "a change item was added ('Split the sessions table')"
    }


def test_editing_date_after_approval_voids_and_returns_to_assessed(
    make_release: Any, product_manager: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    _approve(release, second_pm, "product_manager")
    assert Release.objects.get().status == "approved"
    outcome = services.edit_release(
        release=release, actor=actor_of(product_manager), target_date=dt.date(2027, 4, 8)
    )
    assert outcome.release.status == "assessed"
    assert outcome.notice.startswith(
        "Approvals voided because the target date changed (2027-04-01 → 2027-04-08)"
    )
    assert [r.role for r in missing_approvals(outcome.release)] == ["product_manager"]
    # The same person approves again in the new generation.
    _approve(outcome.release, second_pm, "product_manager")
    assert Release.objects.get().status == "approved"


def test_title_edit_keeps_approvals(
    make_release: Any, product_manager: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    _approve(release, second_pm, "product_manager")
    outcome = services.edit_release(
        release=release, actor=actor_of(product_manager), title="Whiteboards"
    )
    assert (outcome.release.status, outcome.notice) == ("approved", "")


def test_start_refused_naming_missing_roles_then_allowed(
    make_release: Any, product_manager: Any, cto: Any, second_pm: Any
) -> None:
    release = make_release()
    with pytest.raises(Conflict, match=r"Cannot start 5.4.0: its risk has not been assessed"):
        services.start_release(release=release, actor=actor_of(product_manager))
    _assess(release, product_manager, 4, 4)
    with pytest.raises(
        Conflict, match=r"Cannot start 5.4.0: missing approvals from product_manager, cto"
    ):
        services.start_release(release=release, actor=actor_of(product_manager))
    _approve(release, second_pm, "product_manager")
    with pytest.raises(Conflict, match=r"Cannot start 5.4.0: missing approval from cto"):
        services.start_release(release=release, actor=actor_of(product_manager))
    _approve(release, cto, "cto")
    started = services.start_release(release=release, actor=actor_of(product_manager))
    assert started.status == "in_progress"
    assert started.started_at is not None


def test_illegal_transition_names_current_and_allowed(
    make_release: Any, product_manager: Any
) -> None:
    release = make_release()
    with pytest.raises(InvalidTransition) as exc:
        services.complete_release(release=release, actor=actor_of(product_manager))
    assert (
        exc.value.message
        == "Cannot move from 'draft' to 'completed' (allowed from 'draft': assessed, postponed, cancelled)"
    )
    assert Release.objects.get().status == "draft"


def test_cancelled_is_terminal(make_release: Any, product_manager: Any) -> None:
    release = make_release()
    services.cancel_release(release=release, actor=actor_of(product_manager), reason="Superseded")
    with pytest.raises(InvalidTransition, match=r"allowed from 'cancelled': none"):
        services.postpone_release(release=release, actor=actor_of(product_manager))


def test_pause_resume_complete_revert(
    make_release: Any, product_manager: Any, second_pm: Any
) -> None:
    release = make_release()
    _assess(release, product_manager, 1, 1)
    _approve(release, second_pm, "product_manager")
    actor = actor_of(product_manager)
    services.start_release(release=release, actor=actor)
    assert services.pause_release(release=release, actor=actor).status == "paused"
    assert services.resume_release(release=release, actor=actor).status == "in_progress"
    assert services.complete_release(release=release, actor=actor).status == "completed"
    assert (
        services.revert_release(release=release, actor=actor, reason="Broke logins").status
        == "reverted"
    )
    actions = list(
        AuditEvent.objects.filter(scope=f"release:{release.pk}")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "release.created",
        "release.assessed",
        "release.approved",
        "timeline.planned",
        "release.started",
        "release.paused",
        "release.resumed",
        "release.completed",
        "release.reverted",
    ]


def test_lost_race_is_a_conflict(make_release: Any, product_manager: Any) -> None:
    release = make_release()
    Release.objects.filter(pk=release.pk).update(status="cancelled")
    stale = release  # still thinks it is draft
    with pytest.raises(InvalidTransition):
        services.postpone_release(release=stale, actor=actor_of(product_manager))


def test_hotfix_needs_reason(make_release: Any) -> None:
    with pytest.raises(ValidationFailed, match=r"a hotfix needs a reason"):
        make_release(kind="hotfix")
    release = make_release("5.4.1", kind="hotfix", hotfix_reason="security")
    assert (release.kind, release.hotfix_reason) == ("hotfix", "security")


def test_duplicate_version_refused(make_release: Any) -> None:
    make_release()
    with pytest.raises(Conflict, match=r"release 5.4.0 already exists under policy school-saas"):
        make_release()
