"""The ingest and study agents of a deployment of two studies, without a broker (docs/rules.md, "Several
studies"); the broker test is tests/integration/test_studies.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faust
import pytest
from prometheus_client import CollectorRegistry
from study_fixtures import STUDY_A, STUDY_B, UNKNOWN, infusion, infusion_reaction, neut, studies_dir

from safety.model.outputs import Alert, Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.study import StudyState
from streams.settings import Settings
from streams.web.metrics import SafetyMetrics
from streams.worker import codec, ingest
from streams.worker.app import create_app

KAFKA_TS = 1_780_000_000.0


@pytest.fixture()
def app(tmp_path: Path) -> faust.App:
    settings = Settings(
        kafka={"bootstrap": "127.0.0.1:1"},
        worker={"store": "memory://"},
        web={"enabled": False},
        rules={"file": studies_dir(tmp_path)},
    )
    worker = create_app(settings, metrics=SafetyMetrics.create(CollectorRegistry()))
    worker.finalize()
    worker.flow_control.resume()
    return worker


async def put(app: faust.App, *events: dict[str, Any]) -> None:
    async with app.agents["ingest"].test_context() as agent:
        for event in events:
            await agent.put(
                json.dumps(event, ensure_ascii=False).encode(), key=event["subject_id"].encode(), timestamp=KAFKA_TS
            )


def dead_letters(sent: Any) -> list[tuple[bytes | None, dict[str, Any]]]:
    return [(key, json.loads(value)) for key, value in sent.on("safety.deadletter")]


def alerts(sent: Any) -> list[Alert]:
    return [Alert.model_validate_json(value) for _, value in sent.on("safety.alerts")]


@pytest.mark.asyncio
async def test_the_worker_loads_every_study_of_its_rules_directory(app) -> None:  # type: ignore[no-untyped-def]
    assert list(app.safety.rulebook.studies) == [STUDY_A, STUDY_B] and app.safety.rules.protocol.study_id == STUDY_A


@pytest.mark.asyncio
async def test_each_event_is_graded_under_its_own_study_and_its_dlt_carries_that_study_s_rules(app, sent) -> None:  # type: ignore[no-untyped-def]
    await put(
        app,
        infusion(STUDY_A, "AA-001"),
        infusion(STUDY_B, "BB-001"),
        neut(STUDY_A, "AA-001", 0.3, "L-A"),
        neut(STUDY_B, "BB-001", 0.3, "L-B"),
        infusion_reaction(STUDY_B, "BB-001"),
    )
    graded = {row["study_id"]: row for row in (json.loads(v) for _, v in sent.on("safety.graded"))}
    assert (graded[STUDY_A]["ctcae_version"], graded[STUDY_A]["grade"]) == ("5.0", 4)
    assert (graded[STUDY_B]["ctcae_version"], graded[STUDY_B]["grade"]) == ("6.0", 3)
    (dlt,) = [a for a in alerts(sent) if a.kind == "DLT"]
    assert dlt.study_id == STUDY_B and dlt.rules_version == app.safety.rulebook.studies[STUDY_B].version


@pytest.mark.asyncio
async def test_an_event_of_an_unknown_study_is_dead_lettered_naming_the_known_studies(app, sent) -> None:  # type: ignore[no-untyped-def]
    await put(app, neut(UNKNOWN, "CC-001", 0.3, "L-C"))
    ((key, letter),) = dead_letters(sent)
    assert letter["reason"].startswith(f"study_id: unknown study '{UNKNOWN}'")
    assert STUDY_A in letter["reason"] and STUDY_B in letter["reason"] and key == b"CC-001"
    assert sent.on("safety.graded") == [] and ingest.subject_key(UNKNOWN, "CC-001") not in app.safety.tables.subjects


@pytest.mark.asyncio
async def test_a_phone_number_as_subject_id_is_dead_lettered_without_the_number(app, sent) -> None:  # type: ignore[no-untyped-def]
    await put(app, neut(STUDY_A, "13800138000", 0.3, "L-P"))
    ((key, letter),) = dead_letters(sent)
    assert letter["reason"].startswith("subject_id: does not match subject_code_pattern ^AA-[0-9]{3,4}$")
    assert key is None and "13800138000" not in json.dumps(letter) and letter["event_id"] == "L-P"
    assert letter.get("subject_id") is None and sent.on("safety.graded") == []


@pytest.mark.asyncio
async def test_one_subject_code_in_two_studies_gives_two_subject_states(tmp_path: Path, sent) -> None:  # type: ignore[no-untyped-def]
    loose = tmp_path / "loose"
    for path in studies_dir(tmp_path).iterdir():
        loose.mkdir(exist_ok=True)
        text = path.read_text(encoding="utf-8").replace('subject_code_pattern: "^BB-[0-9]{3}$"\n', "")
        (loose / path.name).write_text(text, encoding="utf-8")
    settings = Settings(
        kafka={"bootstrap": "127.0.0.1:1"}, worker={"store": "memory://"}, web={"enabled": False}, rules={"file": loose}
    )
    worker = create_app(settings, metrics=SafetyMetrics.create(CollectorRegistry()))
    worker.finalize()
    worker.flow_control.resume()
    await put(worker, infusion(STUDY_A, "AA-001", "2026-07-01"), infusion(STUDY_B, "AA-001", "2026-07-03"))
    table = worker.safety.tables.subjects
    states = {study: SubjectState.from_json(table[ingest.subject_key(study, "AA-001")]) for study in (STUDY_A, STUDY_B)}
    assert {study: str(state.day0) for study, state in states.items()} == {STUDY_A: "2026-07-01", STUDY_B: "2026-07-03"}


@pytest.mark.asyncio
async def test_a_state_written_before_several_studies_is_still_read_for_its_own_study(app, sent) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(infusion(STUDY_A, "AA-001"), ensure_ascii=False).encode()
    parsed = parse_event(raw)
    assert not isinstance(parsed, Rejection)
    applied = step(None, parsed, app.safety.rules, raw=raw)
    legacy = {**json.loads(codec.encode_state(applied.state)), "seen": {parsed.event_id: applied.recorded}}
    app.safety.tables.subjects.data[b"AA-001"] = json.dumps(legacy).encode()  # the key and form before the seen table
    await put(app, infusion(STUDY_A, "AA-001"))
    assert dead_letters(sent) == []
    assert sent.on("safety.study") == []  # the infusion was already applied: a no-op, no second signal


@pytest.mark.asyncio
async def test_the_study_agent_folds_each_study_with_its_own_stopping_rule(app, sent) -> None:  # type: ignore[no-untyped-def]
    events = []
    for a, b in (("AA-001", "BB-001"), ("AA-002", "BB-002")):
        events += [
            infusion(STUDY_A, a),
            infusion(STUDY_B, b),
            infusion_reaction(STUDY_A, a),
            infusion_reaction(STUDY_B, b),
        ]
    await put(app, *events)
    async with app.agents["study"].test_context() as agent:
        for key, value in sent.on("safety.study"):
            await agent.put(value, key=key)
    boundaries = [a for a in alerts(sent) if a.kind == "STOPPING_BOUNDARY"]
    assert [(a.study_id, a.subject_id) for a in boundaries] == [(STUDY_B, "BB-002")]
    study = {s: StudyState.from_json(app.safety.tables.study[s.encode()]) for s in (STUDY_A, STUDY_B)}
    assert {s: (state.x, state.n, state.crossed) for s, state in study.items()} == {
        STUDY_A: (2, 2, False),
        STUDY_B: (2, 2, True),
    }
