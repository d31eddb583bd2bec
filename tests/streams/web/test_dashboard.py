"""streams.web.dashboard: the bounded per-subject view the pages read, and the report built from it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import report_fixtures as fx

from streams.web.dashboard import (
    KEEP_FIRST,
    KEEP_LAST,
    SubjectView,
    ack_key,
    report_from,
    subject_key,
)


def _view_items() -> list[tuple[bytes, bytes]]:
    views: dict[str, SubjectView] = {}
    for e in fx.events():
        views.setdefault(e["subject_id"], SubjectView()).add_event(e)
    for g in fx.graded():
        views.setdefault(g["subject_id"], SubjectView()).add_graded(g)
    for a in fx.alerts():
        views.setdefault(a["subject_id"], SubjectView()).add_alert(a)
    items = [(subject_key(s).encode(), v.model_dump_json().encode()) for s, v in views.items()]
    acks: dict[str, list[Any]] = {}
    for ack in fx.acks():
        acks.setdefault(ack["alert_id"], []).append(ack)
    items += [(ack_key(k).encode(), json.dumps(v).encode()) for k, v in acks.items()]
    return items


def test_view_gives_the_same_report_as_the_offline_inputs() -> None:
    report, events, graded = report_from(_view_items(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT)
    ov = report.overview
    assert (ov.subjects_infused, ov.subjects_with_dlt, ov.subjects_with_sae) == (3, 2, 2)
    assert ov.stopping_boundary_crossed is True
    assert {r.status for r in report.listing if r.subject_id == "AA-001" and r.kind == "SAE"} == {"acknowledged"}
    assert len(graded) == len(fx.graded())


def test_redelivered_alert_is_kept_once() -> None:
    view = SubjectView()
    view.add_alert(fx.alerts()[0])
    view.add_alert(fx.alerts()[0])
    assert len(view.alerts) == 1


def test_labs_per_test_are_bounded_keeping_the_first_and_the_latest() -> None:
    view = SubjectView()
    total = KEEP_FIRST + KEEP_LAST + 50
    for i in range(total):
        view.add_event(
            {
                "type": "lab",
                "event_id": f"L-{i}",
                "subject_id": "AA-001",
                "test": "NEUT",
                "occurred_at": f"2026-07-01T00:00:00+08:00+{i:05d}",
            }
        )
    ids = [e["event_id"] for e in view.events]
    assert len(ids) == KEEP_FIRST + KEEP_LAST
    assert ids[:KEEP_FIRST] == [f"L-{i}" for i in range(KEEP_FIRST)] and ids[-1] == f"L-{total - 1}"


def test_every_test_vital_sign_ecg_and_transfusion_is_kept_for_the_timeline() -> None:
    view = SubjectView()
    view.add_event({"type": "lab", "event_id": "L-1", "subject_id": "AA-001", "test": "K"})
    view.add_event({"type": "vital", "event_id": "V-1", "subject_id": "AA-001", "test": "TEMP"})
    view.add_event({"type": "ecg", "event_id": "E-1", "subject_id": "AA-001", "test": "QTCF"})
    view.add_event({"type": "transfusion", "event_id": "T-1", "subject_id": "AA-001", "product": "RBC"})
    view.add_graded({"event_id": "E-1", "revision": 1, "test": "QTCF"})
    assert [e["event_id"] for e in view.events] == ["L-1", "V-1", "E-1", "T-1"]
    assert [g["test"] for g in view.graded] == ["QTCF"]


def test_a_view_over_the_record_limit_keeps_the_first_and_fewer_of_the_latest_values() -> None:
    view = SubjectView()
    infusion = {"type": "infusion", "event_id": "I-1", "subject_id": "AA-001", "occurred_at": "2026-07-01"}
    view.add_event(infusion)
    for test in ("K", "NEUT"):
        for i in range(KEEP_FIRST + KEEP_LAST):
            view.add_event(
                {
                    "type": "lab",
                    "event_id": f"L-{test}-{i}",
                    "subject_id": "AA-001",
                    "test": test,
                    "occurred_at": f"2026-07-01T00:00:00+{i:05d}",
                }
            )
    full = len(view.model_dump_json())
    data = view.dump(full // 3)
    assert data is not None and len(data) <= full // 3
    kept = json.loads(data)["events"]
    assert kept[0] == infusion
    for test in ("K", "NEUT"):
        ids = [e["event_id"] for e in kept if e.get("test") == test]
        assert ids[:KEEP_FIRST] == [f"L-{test}-{i}" for i in range(KEEP_FIRST)]
        assert ids[-1] == f"L-{test}-{KEEP_FIRST + KEEP_LAST - 1}" and len(ids) < KEEP_FIRST + KEEP_LAST
    assert SubjectView().dump(10) is None  # not even an empty view fits: nothing is written


def test_a_correction_is_kept_beside_the_earlier_revision() -> None:
    view = SubjectView()
    rash = [e for e in fx.events() if e["event_id"] == "AE-002-2"]
    for e in rash + rash:
        view.add_event(e)
    assert [e.get("revision", 1) for e in view.events] == [1, 2]


def _huge_lab() -> dict[str, Any]:
    lab = next(e for e in fx.events() if e["type"] == "lab" and e["test"] == "ALT")
    return lab | {"event_id": "L-HUGE", "value": json.loads("1" + "0" * 400)}


def test_one_unreadable_entry_of_the_view_leaves_out_only_itself() -> None:
    # A lab value of 10^400 raised OverflowError on every page read, also after a restart (the view is in a
    # changelog); a subject entry that is not JSON at all is skipped the same way.
    items = _view_items()
    key, value = next((k, v) for k, v in items if k == subject_key("AA-001").encode())
    poisoned = json.loads(value)
    poisoned["events"].append(_huge_lab())
    items = [(k, json.dumps(poisoned).encode() if k == key else v) for k, v in items]
    items.append((subject_key("AA-009").encode(), b"{not json"))
    report, events, _ = report_from(items, study_id=fx.STUDY, generated_at=fx.GENERATED_AT)
    assert (report.overview.subjects_infused, report.overview.subjects_with_dlt) == (3, 2)
    assert "L-HUGE" not in {e.event_id for e in events} and len(events) == len(
        report_from(_view_items(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT)[1]
    )


def test_text_that_utf8_cannot_carry_is_kept_as_a_replacement_character() -> None:
    from streams.web.dashboard import view_record

    record = view_record(json.loads('{"subject_id": "AA-001", "term": "Rash \\ud800"}'))
    assert record is not None and record["term"] == "Rash ?"
    assert view_record([1, 2]) is None


def _ae(**fields: Any) -> bytes:
    ae = next(e for e in fx.events() if e["type"] == "adverse_event" and e["subject_id"] == "AA-001")
    return json.dumps(ae | fields).encode()


def _view(app: Any, subject: str) -> SubjectView:
    raw = app.safety.tables.extra["dashboard_view"].get(subject_key(subject).encode())
    return SubjectView.model_validate_json(raw) if raw else SubjectView()


@pytest.mark.asyncio
async def test_the_view_holds_only_what_ingest_accepted(app, sent) -> None:
    # Before, a dashboard agent read safety.events raw: a conflicting duplicate replaced the original, a record
    # keyed by another subject was shown, and a value of 10^400 took every page down.
    async with app.agents["ingest"].test_context() as agent:
        await agent.put(_ae(), key=b"AA-001")
        await agent.put(_ae(grade=1 if json.loads(_ae())["grade"] != 1 else 2), key=b"AA-001")  # conflicting
        await agent.put(_ae(event_id="AE-WRONG-KEY"), key=b"AA-002")
        await agent.put(json.dumps(_huge_lab()).encode(), key=b"AA-001")
    events = _view(app, "AA-001").events
    original = json.loads(_ae())
    assert [e["event_id"] for e in events] == [original["event_id"]]
    assert events[0]["grade"] == original["grade"]
    assert _view(app, "AA-002").events == []
    letters = [json.loads(v) for _, v in sent.on("safety.deadletter")]
    assert len(letters) == 3 and letters[0]["reason_code"] == "conflicting_duplicate"  # and the two others


@pytest.mark.asyncio
async def test_the_view_keeps_the_graded_rows_of_accepted_labs(app, sent) -> None:
    lab = next(e for e in fx.events() if e["type"] == "lab" and e["test"] == "ALT")
    async with app.agents["ingest"].test_context() as agent:
        await agent.put(json.dumps(lab).encode(), key=lab["subject_id"].encode())
    view = _view(app, lab["subject_id"])
    assert [e["event_id"] for e in view.events] == [lab["event_id"]]
    assert [g["event_id"] for g in view.graded] == [lab["event_id"]]


@pytest.mark.asyncio
async def test_a_poison_burst_on_the_alerts_topic_does_not_stop_the_dashboard_agent(app, sent) -> None:
    # A lone surrogate and JSON nested 1,000 deep crashed the agent (it caught only ValueError); faust restarted
    # it after 5 s, once per poison record, and its partitions froze meanwhile.
    alert = fx.alerts()[0]
    poison = [
        json.dumps(alert | {"alert_id": "x" * 24, "basis": "\ud800"}, ensure_ascii=True).encode(),
        b'{"subject_id": "AA-001", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b"\xff\xfe not json",
    ]
    async with app.agents["dashboard_alerts"].test_context() as agent:
        for value in poison:
            await agent.put(value, key=alert["subject_id"].encode())
        await agent.put(json.dumps(alert).encode(), key=alert["subject_id"].encode())
    alerts = _view(app, alert["subject_id"]).alerts
    assert alert["alert_id"] in [a["alert_id"] for a in alerts]
    assert all(a.get("basis") != "\ud800" for a in alerts)


@pytest.mark.asyncio
async def test_a_subject_view_too_large_for_a_kafka_record_is_not_written_and_ingest_goes_on(
    app, sent, monkeypatch
) -> None:
    from streams.web import dashboard
    from streams.worker import ingest

    monkeypatch.setattr(dashboard, "MAX_VIEW_BYTES", 100)
    async with app.agents["ingest"].test_context() as agent:
        await agent.put(_ae(), key=b"AA-001")
    assert _view(app, "AA-001").events == []
    assert ingest.subject_key(fx.STUDY, "AA-001") in app.safety.tables.subjects and sent.on("safety.alerts")
