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
    ViewWriter,
    ack_key,
    observation_key,
    report_from,
    subject_key,
)


def _writer() -> ViewWriter:
    """The view of the report fixtures, written as the worker writes it (every graded row with its event)."""
    writer = ViewWriter({})
    graded: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for g in fx.graded():
        graded.setdefault((g["event_id"], g.get("revision", 1)), []).append(g)
    writer.add((e, graded.get((e["event_id"], e.get("revision", 1)), [])) for e in fx.events())
    for a in fx.alerts():
        writer.add_alert(a)
    return writer


def _view_items() -> list[tuple[bytes, bytes]]:
    items = list(_writer().view.items())
    acks: dict[str, list[Any]] = {}
    for ack in fx.acks():
        acks.setdefault(ack["alert_id"], []).append(ack)
    items += [(ack_key(k).encode(), json.dumps(v).encode()) for k, v in acks.items()]
    return items


def _lab(i: int, test: str = "NEUT", **fields: Any) -> dict[str, Any]:
    return {
        "type": "lab",
        "study_id": fx.STUDY,
        "event_id": f"L-{test}-{i}",
        "subject_id": "AA-001",
        "test": test,
        "occurred_at": f"2026-07-01T00:00:00+08:00+{i:05d}",
    } | fields


def _kept(writer: ViewWriter, test: str = "NEUT") -> list[str]:
    """The event ids the view holds for AA-001's test, in time order; what the writer tracks is what the view has."""
    tracked = [event_id for _, event_id, _ in writer.kept((fx.STUDY, "AA-001", test))]
    stored = [k for k in writer.view if k.startswith(b"o:") and json.loads(k[2:])[:3] == [fx.STUDY, "AA-001", test]]
    assert sorted(tracked) == sorted(json.loads(k[2:])[4] for k in stored)
    return tracked


def _key(lab: dict[str, Any]) -> bytes:
    return observation_key([fx.STUDY, "AA-001", lab["test"], lab["occurred_at"], lab["event_id"], 1])


def test_view_gives_the_same_report_as_the_offline_inputs() -> None:
    report, events, graded = report_from(_view_items(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT)
    ov = report.overview
    assert (ov.subjects_infused, ov.subjects_with_dlt, ov.subjects_with_sae) == (3, 2, 2)
    assert ov.stopping_boundary_crossed is True
    assert {r.status for r in report.listing if r.subject_id == "AA-001" and r.kind == "SAE"} == {"acknowledged"}
    assert len(graded) == len(fx.graded()) and len(events) == len(fx.events())


def test_redelivered_alert_is_kept_once() -> None:
    view = SubjectView()
    view.add_alert(fx.alerts()[0])
    view.add_alert(fx.alerts()[0])
    assert len(view.alerts) == 1


def test_labs_per_test_are_bounded_keeping_the_first_and_the_latest() -> None:
    writer = ViewWriter({})
    total = KEEP_FIRST + KEEP_LAST + 50
    for i in range(total):
        writer.add([(_lab(i), [])])
    ids = _kept(writer)
    assert len(ids) == KEEP_FIRST + KEEP_LAST
    assert ids[:KEEP_FIRST] == [f"L-NEUT-{i}" for i in range(KEEP_FIRST)] and ids[-1] == f"L-NEUT-{total - 1}"
    # the observations that fell out of the window are deleted (_kept compares with the view's keys)
    assert _key(_lab(KEEP_FIRST)) not in writer.view and _key(_lab(total - 1)) in writer.view


def test_a_late_result_is_placed_by_its_time_and_an_old_one_past_the_window_is_not_written() -> None:
    writer = ViewWriter({})
    for i in range(KEEP_FIRST + KEEP_LAST):
        writer.add([(_lab(i * 2 + 2), [])])
    writer.add([(_lab(1, event_id="L-EARLY"), [])])  # before every other: a baseline candidate
    writer.add([(_lab(KEEP_FIRST * 2 - 1, event_id="L-OLD"), [])])  # after the first ones, before the latest ones
    ids = _kept(writer)
    assert ids[0] == "L-EARLY" and "L-OLD" not in ids and len(ids) == KEEP_FIRST + KEEP_LAST
    assert _key(_lab(KEEP_FIRST * 2 - 1, event_id="L-OLD")) not in writer.view


def test_results_given_with_other_offsets_are_ordered_by_their_instant() -> None:
    writer = ViewWriter({})
    writer.add([(_lab(0, event_id="L-LATER", occurred_at="2026-07-01T09:00:00+08:00"), [])])  # 01:00 UTC
    writer.add([(_lab(1, event_id="L-EARLIER", occurred_at="2026-07-01T00:30:00+00:00"), [])])
    assert _kept(writer) == ["L-EARLIER", "L-LATER"]


class _Counting(dict[bytes, bytes]):
    """A view that records the keys written to it (each one a changelog record in the worker)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def test_accepting_a_result_writes_that_result_only_whatever_the_history() -> None:
    view = _Counting()
    writer = ViewWriter(view)
    for i in range(KEEP_FIRST + KEEP_LAST):
        writer.add([(_lab(i), [])])
    view.writes.clear()
    writer.add([(_lab(10_000), [])])
    assert view.writes == [_key(_lab(10_000))]


def test_a_batch_over_the_window_writes_only_the_values_it_keeps() -> None:
    view = _Counting()
    writer = ViewWriter(view)
    writer.add([(_lab(i), []) for i in range(KEEP_FIRST + KEEP_LAST + 10)] + [(_lab(1, test="K"), [])])
    assert len(view.writes) == KEEP_FIRST + KEEP_LAST + 1  # the values dropped at once are never written
    assert _kept(writer)[KEEP_FIRST] == f"L-NEUT-{KEEP_FIRST + 10}"


def test_after_a_rebalance_the_window_is_read_again_from_the_view() -> None:
    # a subject that moved here may have been written by another worker since this one last looked
    generation = [1]
    writer = ViewWriter({}, lambda: generation[0])
    for i in range(KEEP_FIRST + KEEP_LAST):
        writer.add([(_lab(i), [])])
    elsewhere = ViewWriter(writer.view)
    elsewhere.add([(_lab(i), []) for i in range(KEEP_FIRST + KEEP_LAST, KEEP_FIRST + KEEP_LAST + 5)])
    generation[0] = 2
    writer.add([(_lab(10_000), [])])
    ids = _kept(writer)
    assert len(ids) == KEEP_FIRST + KEEP_LAST and ids[-1] == "L-NEUT-10000"
    assert f"L-NEUT-{KEEP_FIRST + KEEP_LAST + 4}" in ids and f"L-NEUT-{KEEP_FIRST + 5}" not in ids


def test_every_test_vital_sign_ecg_and_transfusion_is_kept_for_the_timeline() -> None:
    writer = ViewWriter({})
    writer.add([(_lab(1, test="K"), [])])
    writer.add([({"type": "vital", "event_id": "V-1", "subject_id": "AA-001", "test": "TEMP"}, [])])
    writer.add([({"type": "ecg", "event_id": "E-1", "subject_id": "AA-001", "test": "QTCF"}, [{"x": 1}])])
    writer.add([({"type": "transfusion", "event_id": "T-1", "subject_id": "AA-001", "product": "RBC"}, [])])
    stored = {json.loads(k[2:])[4]: json.loads(v) for k, v in writer.view.items() if k.startswith(b"o:")}
    assert sorted(stored) == ["E-1", "L-K-1", "V-1"] and stored["E-1"]["graded"] == [{"x": 1}]
    subject = SubjectView.model_validate_json(writer.view[subject_key("AA-001").encode()])
    assert [e["event_id"] for e in subject.events] == ["T-1"]


def test_every_graded_row_of_an_observation_is_kept() -> None:
    # one row per observation and criterion: a potassium value is graded for hypo- and hyperkalemia
    rows = [{"event_id": "L-K-1", "ctcae_term": "Hypokalemia"}, {"event_id": "L-K-1", "ctcae_term": "Hyperkalemia"}]
    writer = ViewWriter({})
    writer.add([(_lab(1, test="K"), rows)])
    writer.add([(_lab(1, test="K"), [])])  # a true duplicate, accepted again without rows
    stored = json.loads(writer.view[_key(_lab(1, test="K"))])
    assert stored["graded"] == rows


def test_a_correction_is_kept_beside_the_earlier_revision() -> None:
    writer = ViewWriter({})
    rash = [e for e in fx.events() if e["event_id"] == "AE-002-2"]
    for e in rash + rash:
        writer.add([(e, [])])
    subject = SubjectView.model_validate_json(writer.view[subject_key(rash[0]["subject_id"]).encode()])
    assert [e.get("revision", 1) for e in subject.events] == [1, 2]
    writer.add([(_lab(1) | {"revision": 2}, [])])
    writer.add([(_lab(1), [])])
    assert _kept(writer) == ["L-NEUT-1", "L-NEUT-1"]


def test_an_entry_of_an_older_version_with_observations_inside_is_still_read() -> None:
    lab = next(e for e in fx.events() if e["type"] == "lab")
    row = next(g for g in fx.graded() if g["event_id"] == lab["event_id"])
    legacy = SubjectView(events=[lab], graded=[row]).model_dump_json().encode()
    _, events, graded = report_from(
        [(subject_key(lab["subject_id"]).encode(), legacy)], study_id=fx.STUDY, generated_at=fx.GENERATED_AT
    )
    assert [e.event_id for e in events] == [lab["event_id"]] and [g.event_id for g in graded] == [lab["event_id"]]


def _huge_lab() -> dict[str, Any]:
    lab = next(e for e in fx.events() if e["type"] == "lab" and e["test"] == "ALT")
    return lab | {"event_id": "L-HUGE", "value": json.loads("1" + "0" * 400)}


def test_one_unreadable_entry_of_the_view_leaves_out_only_itself() -> None:
    # A lab value of 10^400 raised OverflowError on every page read, also after a restart (the view is in a
    # changelog); an entry that is not JSON at all is skipped the same way.
    items = _view_items()
    huge = _huge_lab()
    series = [huge["study_id"], huge["subject_id"], huge["test"], huge["occurred_at"], huge["event_id"], 1]
    items.append((observation_key(series), json.dumps({"event": huge, "graded": []}).encode()))
    items.append((subject_key("AA-009").encode(), b"{not json"))
    items.append((observation_key(["S", "AA-009", "K", "2026-07-01", "L-9", 1]), b"{not json"))
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


def _observations(app: Any, subject: str) -> list[dict[str, Any]]:
    view = app.safety.tables.extra["dashboard_view"]
    keys = [k for k in view if k.startswith(b"o:") and json.loads(k[2:])[1] == subject]
    return [json.loads(view[k]) for k in keys]


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
    (stored,) = _observations(app, lab["subject_id"])
    assert stored["event"]["event_id"] == lab["event_id"] and stored["graded"]
    assert {g["event_id"] for g in stored["graded"]} == {lab["event_id"]}


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
