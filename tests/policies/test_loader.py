"""Policy files: every example validates; broken files point at the right line and column."""

from __future__ import annotations

import json
import textwrap

import pytest

from releasedesk.policies.demo import EXAMPLE_FILES
from releasedesk.policies.loader import PolicyInvalid, check_source, load_policy
from releasedesk.policies.schema import PolicyDocument, json_schema
from tests.policies.conftest import example_source

BASE = """\
policy: broken
zone: Europe/Amsterdam
default_level: standard
levels:
  standard:
    approvals: [product_manager]
"""


def errors_of(source: str, filename: str = "p.yaml") -> list[str]:
    document, errors = check_source(textwrap.dedent(source), filename)
    assert document is None
    return [str(e) for e in errors]


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_each_example_validates_and_round_trips(name: str) -> None:
    doc = load_policy(example_source(name), name)
    stored = doc.model_dump(mode="json", by_alias=True)
    assert PolicyDocument.model_validate(json.loads(json.dumps(stored))) == doc


def test_wrong_type_at_exact_line_and_column() -> None:
    assert errors_of(BASE + "    releasable: maybe\n", "broken.yaml") == [
        "broken.yaml:7:17: levels.standard.releasable: Input should be a valid boolean, unable to interpret input"
    ]


def test_unknown_key_lists_allowed_keys() -> None:
    assert errors_of(BASE + "    colour: red\n") == [
        "p.yaml:7:5: levels.standard.colour: unknown key 'colour' (allowed: releasable, advice, window, approvals, notice, verification)"
    ]


def test_unknown_top_level_key_lists_the_time_sections() -> None:
    (error,) = errors_of(BASE + "window: {}\n")
    assert error == (
        "p.yaml:7:1: window: unknown key 'window' (allowed: policy, zone, description, "
        "audiences, roles, risk, default_level, levels, hotfix, release_notes, roadmap, "
        "feedback, verification, windows, blackouts, stages, targets, timeline, publication, "
        "documentation)"
    )


def test_matrix_not_5x5() -> None:
    source = example_source("school-saas.yaml")
    broken = source.replace(
        "    5: [medium,     medium,     high,   high,   extreme]\n", ""
    ).replace(
        "    2: [negligible, low,        low,    medium, medium]",
        "    2: [negligible, low,        low,    medium]",
    )
    errors = errors_of(broken, "s.yaml")
    assert errors == [
        "s.yaml:23:3: risk.matrix: the matrix needs exactly the impact rows 1, 2, 3, 4, 5 (missing 5)",
        "s.yaml:25:5: risk.matrix.2: impact row 2 has 4 levels; each row needs 5 (likelihood 1..5)",
    ]


def test_undefined_level_name() -> None:
    source = example_source("school-saas.yaml").replace("at_least: medium", "at_least: moderate")
    assert errors_of(source, "s.yaml") == [
        "s.yaml:31:17: risk.floors.0.at_least: level 'moderate' is not defined in levels (allowed: negligible, low, medium, high, extreme)"
    ]


def test_default_level_required_without_risk_model() -> None:
    source = BASE.replace("default_level: standard\n", "")
    assert errors_of(source) == [
        "p.yaml:1:1: default_level: required when the policy has no risk model (allowed: standard)"
    ]


def test_unknown_role() -> None:
    (error,) = errors_of(BASE.replace("[product_manager]", "[product_manager, ceo]"))
    assert error.startswith(
        "p.yaml:6:34: levels.standard.approvals.1: unknown role 'ceo'; use a known role or declare it under roles (allowed: admin, product_manager, cto,"
    )


def test_declared_role_is_accepted() -> None:
    doc = load_policy(
        BASE.replace("[product_manager]", "[{role: release_captain, count: 2}]")
        + "roles: [release_captain]\n"
    )
    assert [(a.role, a.count) for a in doc.levels["standard"].approvals] == [("release_captain", 2)]


def test_unknown_change_kind() -> None:
    source = example_source("school-saas.yaml").replace(
        "change_kind: database_migration", "change_kind: schema_change"
    )
    assert errors_of(source, "s.yaml") == [
        "s.yaml:30:27: risk.floors.0.when.change_kind: 'schema_change' is not allowed (allowed: feature, fix, security, performance, database_migration, ux, other)"
    ]


def test_unknown_hotfix_reason_and_tier() -> None:
    source = example_source("school-saas.yaml").replace(
        "reasons: [performance, functional, security, operational]",
        "reasons: [performance, cosmetic]",
    )
    source = source.replace("org_admins: public", "org_admins: everyone")
    assert errors_of(source, "s.yaml") == [
        "s.yaml:19:15: audiences.org_admins: 'everyone' is not allowed (allowed: internal, partner, public)",
        "s.yaml:56:26: hotfix.reasons.1: 'cosmetic' is not allowed (allowed: performance, functional, security, operational)",
    ]


def test_duplicate_keys_all_reported() -> None:
    source = BASE + "zone: Europe/Berlin\n" + "default_level: standard\n"
    assert errors_of(source) == [
        "p.yaml:7:1: zone: duplicate key (each key may appear once)",
        "p.yaml:8:1: default_level: duplicate key (each key may appear once)",
    ]


def test_yaml_syntax_error() -> None:
    assert errors_of("policy: x\nlevels: [a, b\nzone: y\n") == [
        "p.yaml:3:5: YAML syntax error: while parsing a flow sequence expected ',' or ']', but got ':'"
    ]


def test_bad_duration_and_zone() -> None:
    source = (
        BASE.replace("zone: Europe/Amsterdam", "zone: Mars/Olympus")
        + "    notice: {lead: 7 days, to: instance_contacts}\n"
    )
    assert errors_of(source) == [
        "p.yaml:2:7: zone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Amsterdam)",
        "p.yaml:7:20: levels.standard.notice.lead: '7 days' is not a duration (use e.g. 7d, 48h, 30m, 2w, 1d12h or 0)",
    ]


def test_all_errors_reported_at_once() -> None:
    source = (
        BASE.replace("[product_manager]", "[nobody]") + "    window: 42\n    extra: 1\nlevelz: {}\n"
    )
    assert len(errors_of(source)) == 4


def test_load_policy_raises_with_all_errors() -> None:
    with pytest.raises(PolicyInvalid) as exc:
        load_policy("policy: x\n", "x.yaml")
    assert [e.path for e in exc.value.errors] == ["zone", "levels", "default_level"]
    assert exc.value.status == 422


def test_not_a_mapping_and_hostile_input() -> None:
    assert errors_of("- a\n- b\n") == [
        "p.yaml:1:1: a policy is a mapping of keys (policy, zone, levels, …)"
    ]
    assert errors_of("[" * 5000)[0].startswith("p.yaml:")


def test_json_schema_for_editors() -> None:
    schema = json_schema()
    assert schema["title"] == "ReleaseDesk policy"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"policy", "zone", "levels"}
    assert "with" in schema["$defs"]["RoadmapShare"]["properties"]
