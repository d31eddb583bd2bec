"""The ingest agent, without a broker: parse -> step -> table -> outputs; poison records -> dead letters."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import faust
import pytest

from safety.model.outputs import Alert
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import StepResult
from safety.signals import StudySignal
from safety.vocab import AlertKind
from streams.worker import ingest

STUDY = "ChiCTR2600125907"
SUBJECT_KEY = ingest.subject_key(STUDY, "AA-001")  # the subjects table key: study and subject
KAFKA_TS = 1_780_000_000.0  # record timestamp given to agent.put


def event(**fields: Any) -> bytes:
    base = {
        "type": "infusion",
        "event_id": "INF-1",
        "study_id": STUDY,
        "subject_id": "AA-001",
        "occurred_at": "2026-03-01T09:00:00+08:00",
        "recorded_at": "2026-03-01T10:00:00+08:00",
    }
    return json.dumps(base | fields).encode()


def seen_ids(app: faust.App, subject: bytes = SUBJECT_KEY) -> set[str]:
    """The event ids the seen table holds for ``subject``."""
    prefix = subject + b"/"
    return {key[len(prefix) :].decode() for key in app.safety.tables.seen if key.startswith(prefix)}


def dead_letters(sent: Any) -> list[dict[str, Any]]:
    return [json.loads(v) for _, v in sent.on("safety.deadletter")]


def hand_written_alert(event_id: str = "AE-1") -> Alert:
    return Alert(
        alert_id="a" * 24,
        kind=AlertKind.SAE,
        rule_id="SAE-SERIOUS",
        study_id=STUDY,
        subject_id="AA-001",
        study_day=3,
        event_ids=[event_id],
        recipients=["pi", "ethics"],
        raised_at=datetime(2026, 3, 4, tzinfo=UTC),
        rules_version="test",
    )


async def put(app: faust.App, *records: tuple[bytes | None, bytes]) -> None:
    async with app.agents["ingest"].test_context() as agent:
        for key, value in records:
            await agent.put(value, key=key, timestamp=KAFKA_TS)


@pytest.mark.asyncio
async def test_an_accepted_event_is_applied_to_the_subject_state_in_the_table(app, sent) -> None:
    await put(app, (b"AA-001", event()))
    state = SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY])
    assert state.applied == 1 and state.first_infusion_at is not None
    assert dead_letters(sent) == []


@pytest.mark.asyncio
async def test_a_graded_observation_is_produced_keyed_by_subject_as_replay_writes_it(app, sent) -> None:
    lab = event(type="lab", event_id="L-1", test="ALT", value=130, unit="U/L", ref_low=7, ref_high=40)
    await put(app, (b"AA-001", event()), (b"AA-001", lab))
    [(key, value)] = sent.on("safety.graded")
    row = json.loads(value)
    assert key == b"AA-001" and row["event_id"] == "L-1" and row["ctcae_term"] == "Alanine aminotransferase increased"
    assert row["grade"] == 2 and "basis" in row  # 3.25 x ULN: > 3.0 - 5.0 x ULN


@pytest.mark.asyncio
async def test_the_first_infusion_sends_an_infused_signal_keyed_by_study(app, sent) -> None:
    await put(app, (b"AA-001", event()))
    [(key, value)] = sent.on("safety.study")
    signal = StudySignal.model_validate_json(value)
    assert key == STUDY.encode() and signal.kind == "infused" and signal.subject_id == "AA-001"


@pytest.mark.asyncio
async def test_a_redelivered_event_is_a_no_op(app, sent) -> None:
    await put(app, (b"AA-001", event()), (b"AA-001", event()))
    assert len(sent.on("safety.study")) == 1
    assert app.safety.metrics.events.labels("infusion", "duplicate")._value.get() == 1


@pytest.mark.asyncio
async def test_non_json_is_dead_lettered_with_exact_bytes_position_and_reason(app, sent) -> None:
    await put(app, (b"AA-001", b"not json \xff\xfe"))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "invalid_json" and letter["reason"].startswith("not valid JSON")
    assert base64.b64decode(letter["raw_base64"]) == b"not json \xff\xfe"
    assert letter["topic"] == "safety.events" and {"partition", "offset", "dead_lettered_at"} <= letter.keys()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"foo": 1}', "type: required field is missing"),
        (b'{"type": "telepathy", "event_id": "X"}', "type: expected one of"),
        (event(occurred_at="yesterday"), "infusion.occurred_at"),
    ],
)
@pytest.mark.asyncio
async def test_wrong_shape_and_unknown_type_are_dead_lettered_as_invalid_event(app, sent, value, expected) -> None:
    await put(app, (b"AA-001", value))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "invalid_event" and expected in letter["reason"]
    assert letter["raw"] == value.decode()


@pytest.mark.asyncio
async def test_records_after_a_poison_record_in_the_same_partition_are_processed(app, sent) -> None:
    await put(app, (b"AA-001", b"{"), (b"AA-001", event()))
    assert len(dead_letters(sent)) == 1
    assert SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY]).applied == 1


@pytest.mark.asyncio
async def test_a_record_not_keyed_by_its_subject_is_dead_lettered(app, sent) -> None:
    await put(app, (b"AA-999", event()))
    [letter] = dead_letters(sent)
    assert "key safety.events by subject_id" in letter["reason"]
    assert SUBJECT_KEY not in app.safety.tables.subjects


@pytest.mark.asyncio
async def test_missing_recorded_at_is_taken_from_the_kafka_record_timestamp(app, sent, monkeypatch) -> None:
    seen = []
    real_step = ingest.step
    monkeypatch.setattr(
        ingest,
        "step",
        lambda state, ev, rules, raw=None, prior=None: seen.append(ev) or real_step(state, ev, rules, raw, prior),
    )
    raw = json.loads(event())
    del raw["recorded_at"]
    await put(app, (b"AA-001", json.dumps(raw).encode()))
    assert seen[0].recorded_at == datetime.fromtimestamp(KAFKA_TS, tz=UTC)


@pytest.mark.asyncio
async def test_a_processing_error_is_dead_lettered_and_the_partition_moves_on(app, sent, monkeypatch) -> None:
    real_step = ingest.step

    def flaky(state, ev, rules, raw=None, prior=None):  # type: ignore[no-untyped-def]
        if ev.event_id == "BOOM":
            raise RuntimeError("rule bug")
        return real_step(state, ev, rules, raw, prior)

    monkeypatch.setattr(ingest, "step", flaky)
    await put(app, (b"AA-001", event(event_id="BOOM")), (b"AA-001", event()))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "processing_error" and "RuntimeError: rule bug" in letter["reason"]
    assert SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY]).applied == 1


@pytest.mark.asyncio
async def test_alerts_are_emitted_with_emitted_at_keyed_by_subject_and_counted(app, sent, monkeypatch) -> None:
    alert = hand_written_alert()
    monkeypatch.setattr(
        ingest,
        "step",
        lambda state, ev, rules, raw=None, prior=None: StepResult(
            state=SubjectState(subject_id="AA-001", study_id=STUDY), alerts=[alert]
        ),
    )
    await put(app, (b"AA-001", event()))
    [(key, value)] = sent.on("safety.alerts")
    emitted = Alert.model_validate_json(value)
    assert key == b"AA-001" and emitted.alert_id == alert.alert_id and emitted.emitted_at is not None
    assert emitted.model_copy(update={"emitted_at": None}) == alert
    assert app.safety.metrics.alerts.labels("SAE")._value.get() == 1


@pytest.mark.asyncio
async def test_outputs_are_delivered_before_the_state_records_the_event(app, sent, monkeypatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(
        ingest,
        "step",
        lambda state, ev, rules, raw=None, prior=None: StepResult(
            state=SubjectState(subject_id="AA-001", study_id=STUDY), alerts=[hand_written_alert()]
        ),
    )
    real_emit = ingest.emit

    async def spy_emit(ctx, record, result, handed=None):  # type: ignore[no-untyped-def]
        futures = await real_emit(ctx, record, result, handed)

        async def delivered() -> None:
            await asyncio.gather(*futures)
            order.append("delivered, state written: " + str(SUBJECT_KEY in ctx.tables.subjects))

        return [delivered()]

    monkeypatch.setattr(ingest, "emit", spy_emit)
    await put(app, (b"AA-001", event()))
    assert order == ["delivered, state written: False"] and SUBJECT_KEY in app.safety.tables.subjects


async def settled(done: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait until ``done()`` (the agent handled what it was given), at most ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_a_batch_writes_each_subject_state_once_with_every_event_of_the_batch(app, sent, monkeypatch) -> None:
    writes: list[tuple[bytes, int]] = []
    real_store = ingest.STATES.store

    def spy_store(key: bytes, state: SubjectState) -> bytes:
        writes.append((key, state.applied))
        return real_store(key, state)

    monkeypatch.setattr(ingest.STATES, "store", spy_store)
    records = [(b"AA-001", event(event_id="INF-1")), (b"AA-002", event(subject_id="AA-002", event_id="INF-2"))]
    records += [
        (b"AA-001", event(type="vital", event_id=f"V-{n}", test="TEMP", value=37.0, unit="C")) for n in range(3)
    ]
    async with app.agents["ingest"].test_context() as agent:
        for key, value in records:
            await agent.put(value, key=key, timestamp=KAFKA_TS, wait=False)
        # one batch: the agent waits SAFETY_BATCH_WAIT for more records; on a busy machine it may start later
        await settled(lambda: len(writes) >= 2)
    assert sorted(writes) == [(SUBJECT_KEY, 4), (ingest.subject_key(STUDY, "AA-002"), 1)]
    assert SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY]).applied == 4
    assert seen_ids(app) == {"INF-1", "V-0", "V-1", "V-2"}


@pytest.mark.asyncio
async def test_a_failure_mid_batch_keeps_the_batch_s_earlier_events_of_that_subject(app, sent, monkeypatch) -> None:
    real_step = ingest.step

    def half_applied(state, ev, rules, raw=None, prior=None):  # type: ignore[no-untyped-def]
        if ev.event_id == "BOOM":
            state.applied += 1  # changed in place, then the rule raises
            raise RuntimeError("rule bug")
        return real_step(state, ev, rules, raw, prior)

    monkeypatch.setattr(ingest, "step", half_applied)
    records = [
        event(event_id="INF-1"),
        event(type="vital", event_id="BOOM", test="TEMP", value=37.0, unit="C"),
        event(type="vital", event_id="V-1", test="TEMP", value=37.0, unit="C"),
    ]
    async with app.agents["ingest"].test_context() as agent:
        for value in records:
            await agent.put(value, key=b"AA-001", timestamp=KAFKA_TS, wait=False)
        await settled(lambda: bool(dead_letters(sent)) and "V-1" in seen_ids(app))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "processing_error"
    assert SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY]).applied == 2
    assert seen_ids(app) == {"INF-1", "V-1"}


@pytest.mark.asyncio
async def test_study_signals_update_the_study_table_and_the_study_gauges(app, sent) -> None:
    signal = StudySignal(
        kind="infused",
        study_id=STUDY,
        subject_id="AA-001",
        event_id="INF-1",
        study_day=0,
        at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    async with app.agents["study"].test_context() as agent:
        await agent.put(signal.model_dump_json().encode(), key=STUDY.encode(), timestamp=KAFKA_TS)
    from safety.study import StudyState

    assert StudyState.from_json(app.safety.tables.study[STUDY.encode()]).infused.keys() == {"AA-001"}
    assert app.safety.metrics.registry.get_sample_value("safety_subjects_infused") == 1.0


def record(app: faust.App, partition: int, offset: int) -> faust.EventT[Any]:
    from faust.types import TP, Message

    tp = TP("safety.events", partition)
    message = Message("safety.events", partition, offset, KAFKA_TS, 0, [], b"AA-001", event(), None, tp=tp)
    return faust.Event(app, b"AA-001", event(), [], message)


def one_subject_batch(app: faust.App, applied: faust.EventT[Any]) -> ingest.Batch:
    """A batch that applied ``applied`` (an infusion of AA-001) and has yet to commit."""
    batch = ingest.Batch(app.safety)
    batch.states[SUBJECT_KEY] = SubjectState(subject_id="AA-001", study_id=STUDY)
    batch.applied[SUBJECT_KEY] = [(applied, parse_event(event(), ZoneInfo("Asia/Shanghai")), app.safety.rules)]
    return batch


@pytest.mark.asyncio
async def test_a_batch_writes_each_state_to_its_subject_s_changelog_partition(app, sent, monkeypatch) -> None:
    # faust routes table writes (and rocksdb reads) by the task's current event: the subject's own record must
    # decide, not whichever record the batch ended with.
    table = app.safety.tables.subjects
    written: list[tuple[bytes, int | None]] = []
    real_send = table.send_changelog

    def spy_send(partition: int | None, key: bytes, value: bytes, *args: Any, **kwargs: Any) -> Any:
        written.append((key, partition))
        return real_send(partition, key, value, *args, **kwargs)

    monkeypatch.setattr(table, "send_changelog", spy_send)
    ingest.route_table_access(record(app, 0, 9))  # the batch ended with a record of another partition
    batch = one_subject_batch(app, record(app, 2, 6))
    await batch.commit()
    assert written == [(SUBJECT_KEY, 2)]


@pytest.mark.asyncio
async def test_a_batch_whose_outputs_cannot_be_delivered_exits_the_worker_without_writing_states(
    app, sent, monkeypatch
) -> None:
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)  # os._exit never returns

    async def undeliverable() -> None:
        raise ConnectionError("brokers unreachable")

    monkeypatch.setattr(ingest.os, "_exit", fake_exit)
    batch = one_subject_batch(app, record(app, 0, 0))
    batch.outputs.append(undeliverable())
    with pytest.raises(SystemExit):
        await batch.commit()
    assert exits == [ingest.EXIT_OUTPUTS_LOST] and SUBJECT_KEY not in app.safety.tables.subjects


def lab(**fields: Any) -> bytes:
    base = {"type": "lab", "event_id": "L-1", "test": "ALT", "value": 30, "unit": "U/L", "ref_low": 7, "ref_high": 40}
    return event(**(base | fields))


@pytest.mark.asyncio
async def test_a_record_of_over_half_a_megabyte_is_dead_lettered_within_the_record_limit_and_the_partition_moves_on(
    app, sent
) -> None:
    # A unit of 0.6 MB: its dead letter (raw bytes escaped plus metadata) was over Kafka's 1 MB record limit,
    # the send raised inside the except block and the ingest agent died, stalling every partition of the batch.
    huge = lab(unit="U/L" + "\\" * 300_000)  # 0.6 MB as JSON; escaped again in a dead letter: 1.2 MB
    await put(app, (b"AA-001", huge), (b"AA-001", lab(event_id="L-2")))
    [letter] = dead_letters(sent)
    limit = app.conf.producer_max_request_size
    assert all(len(v) < limit for _, v in sent.on("safety.deadletter"))
    assert letter["reason_code"] == "record_too_large" and f"{len(huge):,} bytes" in letter["reason"]
    assert letter["raw_size"] == len(huge) and letter["raw_truncated"] is True
    assert letter["raw_sha256"] == hashlib.sha256(huge).hexdigest() and huge.decode().startswith(letter["raw"])
    assert [json.loads(v)["event_id"] for _, v in sent.on("safety.graded")] == ["L-2"]


@pytest.mark.asyncio
async def test_a_rejected_record_under_the_size_cap_gets_a_dead_letter_that_fits_whatever_it_holds(
    app, sent, monkeypatch
) -> None:
    # Escaping grows text up to six times (a control character is \u0000): the raw excerpt is bounded instead.
    monkeypatch.setattr(ingest, "MAX_RECORD_BYTES", 2_000_000, raising=False)
    poison = b'{"type": "lab", "note": "' + b"\x01" * 600_000 + b'"}'
    await put(app, (b"AA-001", poison), (b"AA-001", lab()))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "invalid_event" and "bytes, more than the" in letter["reason"]  # bounds.py
    assert letter["raw_size"] == len(poison)
    assert [json.loads(v)["event_id"] for _, v in sent.on("safety.graded")] == ["L-1"]


@pytest.mark.asyncio
async def test_an_output_too_large_to_send_is_dead_lettered_in_its_place_and_the_event_s_alert_still_sent(
    app, sent, monkeypatch
) -> None:
    real_step = ingest.step

    def huge_basis(state, ev, rules, raw=None, prior=None):  # type: ignore[no-untyped-def]
        result = real_step(state, ev, rules, raw=raw, prior=prior)
        result.graded = [dataclasses.replace(g, basis="x" * 1_100_000) for g in result.graded]
        result.alerts.append(hand_written_alert(ev.event_id))
        return result

    monkeypatch.setattr(ingest, "step", huge_basis)
    await put(app, (b"AA-001", lab()))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "output_too_large" and "safety.graded" in letter["reason"]
    assert (letter["event_id"], letter["subject_id"]) == ("L-1", "AA-001")
    assert letter["raw"].startswith('{"event_id":"L-1"') and letter["raw_truncated"] is True
    assert len(sent.on("safety.alerts")) == 1 and sent.on("safety.graded") == []
    assert seen_ids(app) == {"L-1"}


@pytest.mark.asyncio
async def test_a_subject_state_too_large_for_a_kafka_record_is_not_written_and_its_events_are_dead_lettered(
    app, sent, monkeypatch
) -> None:
    # The changelog write would fail inside faust's producer, and again on every restart; the last state that
    # fits is kept and the event is dead-lettered with why (its outputs went out).
    # A state of ~480 bytes against a limit of 400 (a real one is 1 MB; field limits keep states far below it).
    monkeypatch.setattr(ingest, "RECORD_OVERHEAD_BYTES", app.conf.producer_max_request_size - 400, raising=False)
    await put(app, (b"AA-001", event(event_id="INF-" + "9" * 190)))
    [letter] = dead_letters(sent)
    assert letter["reason_code"] == "state_too_large" and letter["event_id"].startswith("INF-999")
    assert SUBJECT_KEY not in app.safety.tables.subjects
    assert len(sent.on("safety.study")) == 1  # the infused signal went out


def vital(event_id: str, value: float = 37.0) -> bytes:
    return event(type="vital", event_id=event_id, test="TEMP", value=value, unit="C")


@pytest.mark.asyncio
async def test_the_batch_s_entries_are_flushed_to_the_broker_before_the_state_that_applied_them(app, sent) -> None:
    # The reverse order could lose an entry while keeping the state: the event would be applied twice after kill -9.
    await put(app, (b"AA-001", event()))
    [flushed] = sent.flushed
    assert SUBJECT_KEY not in flushed["subjects"] and set(flushed["seen"]) == {ingest.seen_key(SUBJECT_KEY, "INF-1")}
    assert SubjectState.from_json(app.safety.tables.subjects[SUBJECT_KEY]).applied == 1


@pytest.mark.asyncio
async def test_an_entry_counted_beyond_the_stored_state_is_ignored_and_its_event_applied(app, sent) -> None:
    # kill -9 after the flush, before the state reached the broker: the entry says applied, the state does not.
    await put(app, (b"AA-001", event()))
    table = app.safety.tables.seen
    recorded = table[ingest.seen_key(SUBJECT_KEY, "INF-1")].decode().rpartition("@")[0]
    table.data[ingest.seen_key(SUBJECT_KEY, "V-1")] = f"{recorded}@2".encode()  # the state applied 1
    table.data[ingest.seen_key(SUBJECT_KEY, "V-0")] = table.data[ingest.seen_key(SUBJECT_KEY, "INF-1")]  # @1
    await put(app, (b"AA-001", vital("V-1")), (b"AA-001", vital("V-0")))
    assert [json.loads(v)["event_id"] for _, v in sent.on("safety.graded")] == ["V-1"]
    assert [letter["reason_code"] for letter in dead_letters(sent)] == ["conflicting_duplicate"]  # V-0: trusted


@pytest.mark.asyncio
async def test_a_state_that_still_holds_its_seen_map_keeps_its_duplicates_and_moves_them_to_the_table(
    app, sent
) -> None:
    # States written before the seen table carry every event id: they are read as they are, and the batch that next
    # writes the subject puts the map in the table (flushed first) and writes the state without it.
    await put(app, (b"AA-001", event()), (b"AA-001", vital("V-1")))
    table = app.safety.tables.seen
    old = {
        event_id: table[ingest.seen_key(SUBJECT_KEY, event_id)].decode().rpartition("@")[0]
        for event_id in ("INF-1", "V-1")
    }
    stored = json.loads(app.safety.tables.subjects[SUBJECT_KEY])
    app.safety.tables.subjects.data[SUBJECT_KEY] = json.dumps(stored | {"seen": old}).encode()
    table.data.clear()
    await put(app, (b"AA-001", vital("V-1")), (b"AA-001", vital("V-1", value=39.0)))  # a duplicate, a conflicting one
    assert len(sent.on("safety.graded")) == 1 and "seen" in json.loads(app.safety.tables.subjects[SUBJECT_KEY])
    assert [letter["reason_code"] for letter in dead_letters(sent)] == ["conflicting_duplicate"]
    await put(app, (b"AA-001", vital("V-2")))
    assert set(sent.flushed[-1]["seen"]) == {ingest.seen_key(SUBJECT_KEY, e) for e in ("INF-1", "V-1", "V-2")}
    assert "seen" in json.loads(sent.flushed[-1]["subjects"][SUBJECT_KEY])  # the old state until then
    assert "seen" not in json.loads(app.safety.tables.subjects[SUBJECT_KEY])
    await put(app, (b"AA-001", event()), (b"AA-001", vital("V-1")))  # still duplicates, from the table
    assert len(sent.on("safety.graded")) == 2 and len(sent.on("safety.study")) == 1
