"""PHI guard: a name-like field in an input event never reaches any message body (README, "Alert delivery":
never a name)."""

from __future__ import annotations

import json

from delivery_fixtures import make_alert

from safety.delivery.messages import render
from safety.model.outputs import Alert
from safety.model.parse import parse_event
from safety.pipeline import step

NAME = "张三"
AE_EVENT = {
    "type": "adverse_event",
    "event_id": "AE-PHI-1",
    "study_id": "ChiCTR2600125907",
    "subject_id": "AA-009",
    "occurred_at": "2026-08-01T09:00:00+08:00",
    "recorded_at": "2026-08-01T10:00:00+08:00",
    "patient_name": NAME,
    "term": f"{NAME} 输液后寒战高热",
    "ctcae_term": "Infusion related reaction",
    "grade": 3,
    "serious": ["hospitalization"],
    "causality": "related",
    "expected": False,
}


def _every_text(alert: Alert) -> str:
    out = []
    for esc in (None, "UNACKNOWLEDGED", "ETHICS_REPORT_DUE", "REPORT_OVERDUE"):
        m = render(alert, time_zone="Asia/Shanghai", escalation=esc, ack_url="https://x.example/ack")
        out += [m.title, m.short, m.text, m.html]
    return "\n".join(out)


def test_an_alert_built_from_a_name_carrying_payload_shows_no_name() -> None:
    payload = json.loads(make_alert().model_dump_json())
    payload["patient_name"] = NAME
    payload["basis"] = {
        "causality": "related",
        "term": AE_EVENT["term"],
        "patient_name": NAME,
        "verbatim": AE_EVENT["term"],
        "nested": {"name": NAME, "value": NAME},
    }
    payload["ctcae_term"] = AE_EVENT["term"]  # a verbatim term put where a CTCAE term belongs
    text = _every_text(Alert.model_validate(payload))
    assert NAME not in text and "输液后寒战高热" not in text
    assert "causality: related" in text  # the whitelisted basis still shows


def test_alerts_from_the_pipeline_for_a_name_carrying_event_show_no_name(ruleset) -> None:  # type: ignore[no-untyped-def]
    infusion = {
        "type": "infusion",
        "event_id": "INF-PHI-1",
        "study_id": "ChiCTR2600125907",
        "subject_id": "AA-009",
        "occurred_at": "2026-08-01T08:00:00+08:00",
        "infusion_number": 1,
        "dose_per_kg": 1e6,
        "patient_name": NAME,
    }
    state, alerts = None, []
    for raw in (infusion, AE_EVENT):
        event = parse_event(json.dumps(raw, ensure_ascii=False), ruleset.tz)
        assert not hasattr(event, "reason"), event
        result = step(state, event, ruleset)
        state, alerts = result.state, alerts + list(result.alerts)
    assert "SAE" in {str(a.kind) for a in alerts}
    for alert in alerts:
        assert NAME not in _every_text(alert)
        assert NAME not in alert.to_json()


def test_a_ctcae_term_carrying_a_name_never_reaches_a_message(ruleset) -> None:  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    alerts = phi.alerts(ruleset)
    assert {a.rule_id for a in alerts} == {"SAE-SERIOUS", "SUSAR-15D", "DLT-2", "SAE-DEATH", "SUSAR-7D", "DLT-5"}
    for alert in alerts:
        assert phi.found(_every_text(alert)) == [], alert.rule_id
        assert phi.found(alert.to_json()) == [], alert.rule_id
