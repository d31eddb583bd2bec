"""The PI's attribution becomes an adverse_event of the contract (docs/rules.md, "The PI's
attribution"): built from the alert and the acknowledgement alone, with one identity per attribution."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from delivery_fixtures import make_alert

from safety.delivery.attribution import attribution_event, new_attributions
from safety.delivery.ledger import Ack, open_entry, record_ack
from safety.model.events import AdverseEvent
from safety.model.outputs import Alert
from safety.model.parse import parse_event
from safety.replay import replay_lines
from safety.rules.ruleset import RuleSet

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
AT = datetime(2026, 7, 8, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, day 7


def pi_ack(ack_id: str = "a1", causality: str | None = "probable", role: str = "pi", **extra: Any) -> Ack:
    return Ack(ack_id=ack_id, who="staff-07", role=role, at=AT, conclusion="assessed", causality=causality, **extra)


def suspected(**extra: Any) -> Alert:
    basis = {"criterion": "treatment-emergent lab grade >= 3", "observed_at": "2026-07-07T09:00:00+08:00"}
    fields: dict[str, Any] = {"rule_id": "SUSPECTED_DLT-LAB", "ctcae_term": "Colitis", "basis": basis}
    return make_alert("SUSPECTED_DLT", **{**fields, **extra})


def test_the_attribution_event_is_what_the_scenario_shows_the_rules(ruleset: RuleSet) -> None:
    """Built from the alert replay raised and the PI's acknowledgement, it is the scenario's attribution line."""
    lines = (SCENARIOS / "attribution_related_raises_dlt2.jsonl").read_text(encoding="utf-8").splitlines()
    alert = next(
        a for outputs in replay_lines(lines[:-1], ruleset) for a in outputs.alerts if a.kind == "SUSPECTED_DLT"
    )
    recorded = datetime.fromisoformat(json.loads(lines[-1])["recorded_at"]).replace(tzinfo=ruleset.tz)
    ack = Ack(ack_id="a1", who="staff-07", role="pi", at=recorded, conclusion="attributed", causality="probable")

    event = attribution_event(alert, ack, 1)

    assert event is not None
    assert parse_event(json.dumps(event), ruleset.tz) == parse_event(lines[-1], ruleset.tz)


def test_it_carries_the_alert_s_subject_term_grade_onset_and_the_attribution_time() -> None:
    alert = suspected()
    event = attribution_event(alert, pi_ack(serious=("hospitalization",)), 1)
    assert event is not None
    parsed = AdverseEvent.model_validate(event)
    assert (parsed.event_id, parsed.revision, parsed.source) == (f"ATTR-{alert.alert_id}", 1, "attribution")
    assert (parsed.study_id, parsed.subject_id) == (alert.study_id, alert.subject_id)
    assert (parsed.ctcae_term, parsed.grade, parsed.causality) == ("Colitis", 3, "probable")
    assert parsed.occurred_at == datetime.fromisoformat("2026-07-07T09:00:00+08:00")
    assert parsed.recorded_at == AT
    assert parsed.serious == ["hospitalization"]
    assert (event["who"], event["attribution_of"]) == ("staff-07", alert.alert_id)


def test_an_ae_based_suspicion_takes_the_ae_s_onset() -> None:
    alert = suspected(rule_id="SUSPECTED_DLT-AE", basis={"onset": "2026-07-09T09:00:00+08:00", "causality": None})
    event = attribution_event(alert, pi_ack(), 1)
    assert event is not None and event["occurred_at"] == "2026-07-09T09:00:00+08:00"
    assert event["serious"] == []  # the PI stated none


def test_only_the_pi_s_causality_on_a_suspected_dlt_is_an_attribution() -> None:
    assert attribution_event(suspected(), pi_ack(causality=None), 1) is None  # acknowledged, not attributed
    assert attribution_event(suspected(), pi_ack(role="safety_officer"), 1) is None  # the investigator attributes
    dlt = make_alert("DLT", basis={"onset": "2026-07-09T09:00:00+08:00"})
    assert attribution_event(dlt, pi_ack(), 1) is None  # a DLT asks for a review, not an attribution
    assert attribution_event(suspected(basis={"criterion": "x"}), pi_ack(), 1) is None  # no onset to carry


def test_each_attribution_is_sent_once_and_a_later_one_is_a_higher_revision() -> None:
    entry = open_entry(suspected(), [], AT)
    first = record_ack(entry, pi_ack("a1", "unlikely"))
    (event,) = new_attributions(entry, first)
    assert (event["revision"], event["causality"]) == (1, "unlikely")

    assert new_attributions(first, record_ack(first, pi_ack("a1", "unlikely"))) == []  # the same ack redelivered
    plain = record_ack(first, pi_ack("a2", causality=None))
    assert new_attributions(first, plain) == []  # a follow-up without a causality

    second = record_ack(plain, pi_ack("a3", "possible"))
    (later,) = new_attributions(plain, second)
    assert (later["event_id"], later["revision"], later["causality"]) == (event["event_id"], 2, "possible")
    assert [e["revision"] for e in new_attributions(None, second)] == [1, 2]  # re-derived, the same identities
