"""The live adapters (streams/feeds/live.py) on a real worker and the embedded broker.

The worker runs the plug-in as a site would enable it (SAFETY_PLUGINS=streams.feeds.live, the site file of
rules/sites and the site-held subjects file of the test data); the public samples are those of
tests/fixtures/feeds/README.md. Each test covers several behaviours, since each starts a worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streams.dev.broker import EmbeddedBroker, free_port
from streams.feeds.live import END as END_BLOCK
from streams.feeds.live import START as START_BLOCK
from tests.integration.conftest import Stream
from tests.streams.feeds.test_hl7v2_fhir import IDENTIFIERS, START, neutrophils

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
LIS_TOKEN = "lis-token-3f9a1c7e5b2d8046af"
EDC_TOKEN = "edc-token-8b1e4d7a2c9f3065be"
MAX_BYTES = 20_000
NAMES = (*IDENTIFIERS, "Everywoman")  # and a Patient resource's name sent by mistake


def feeds_env(stream: Stream, mllp_port: int, ack_timeout: float = 10.0) -> None:
    stream.plugins = "streams.feeds.live"
    stream.extra_env = {
        "SAFETY_FEEDS_SUBJECTS_FILE": str(FIXTURES / "subjects.csv"),
        "SAFETY_FEEDS_TOKENS": f"lis={LIS_TOKEN},edc={EDC_TOKEN}",
        "SAFETY_FEEDS_MLLP_PORT": str(mllp_port),
        "SAFETY_FEEDS_MAX_MESSAGE_BYTES": str(MAX_BYTES),
        "SAFETY_FEEDS_ACK_TIMEOUT": str(ack_timeout),
    }


def post(stream: Stream, path: str, body: bytes, authorization: str | None) -> tuple[int, Any]:
    """(status, JSON answer) of a POST to the worker's web server."""
    [port] = stream.ports.values()
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def event_ids(stream: Stream) -> list[str]:
    return [json.loads(v)["event_id"] for v in stream.read(stream.settings.topics.events)]


def feed_letters(stream: Stream) -> list[dict[str, Any]]:
    """The adapters' dead letters (ingest dead-letters to the same topic under its own reason codes)."""
    letters = [json.loads(v) for v in stream.read(stream.settings.topics.deadletter)]
    return [letter for letter in letters if letter["reason_code"].startswith("feed_")]


def test_http_feeds_authenticate_limit_acknowledge_and_explain_every_rejection(stream: Stream) -> None:
    feeds_env(stream, free_port())
    worker = stream.start_worker()
    stream.wait_for(lambda: stream.page(worker, "/login")[0] == 200, 90, "the worker's web server")
    lab = {
        "type": "lab",
        "event_id": "L-103-1",
        "study_id": "ChiCTR2600125907",
        "subject_id": "AA-103",
        "occurred_at": "2010-12-22T08:00:00-08:00",
        "test": "NEUT",
        "value": 0.4,
        "unit": "10^9/L",
        "ref_low": 1.5,
        "ref_high": 7.0,
        "patient_name": "Jones William",
    }
    one = json.dumps(lab, indent=2).encode()  # one event, written over several lines

    # No token, another scheme, a wrong token, a prefix of the right one: refused, nothing sent.
    wrong = (None, f"Basic {EDC_TOKEN}", "Bearer not-a-token-of-any-source-at-all", f"Bearer {EDC_TOKEN[:-1]}")
    for authorization in wrong:
        status, answer = post(stream, "/events", one, authorization)
        assert status == 401 and "Authorization: Bearer" in answer["error"], authorization
    assert event_ids(stream) == []
    # Over the size limit: 413, nothing sent.
    status, answer = post(stream, "/events", b"\n".join([json.dumps(lab).encode()] * 200), f"Bearer {EDC_TOKEN}")
    assert status == 413 and "split it" in answer["error"]
    assert event_ids(stream) == []

    # One event: 202 once the broker has it, so it can be read back at once, without the field the contract lacks.
    status, answer = post(stream, "/events", one, f"Bearer {EDC_TOKEN}")
    assert (status, answer) == (202, {"accepted": 1, "rejected": []})
    [sent] = [json.loads(v) for v in stream.read(stream.settings.topics.events)]
    assert sent == {k: v for k, v in lab.items() if k != "patient_name"}

    # NDJSON: the good lines sent, each bad one answered with its line and reason.
    bad_value = {**lab, "event_id": "L-103-2", "value": "high"}
    lines = [json.dumps(START[0]), "", "not json at all", json.dumps(bad_value), json.dumps(START[1])]
    status, answer = post(stream, "/events", "\n".join(lines).encode(), f"Bearer {LIS_TOKEN}")
    assert status == 202 and answer["accepted"] == 2
    assert [r["where"] for r in answer["rejected"]] == ["line 3", "line 4"]
    assert "value" in answer["rejected"][1]["reason"]
    assert event_ids(stream) == ["L-103-1", "E-103", "I-103"]

    # FHIR: an Observation, an AdverseEvent, a batch with a Patient in it, a transaction that is all or nothing.
    lis = f"Bearer {LIS_TOKEN}"
    status, outcome = post(stream, "/fhir", json.dumps(fixture("Observation-f001.json")).encode(), lis)
    assert status == 202 and outcome["issue"][0]["severity"] == "information"
    status, outcome = post(stream, "/fhir", json.dumps(fixture("AdverseEvent-example.json")).encode(), lis)
    assert status == 202 and outcome["resourceType"] == "OperationOutcome"
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Everywoman", "given": ["Eve"]}]}
    heart_rate = fixture("Observation-heart-rate.json")  # 1999, a date without a time: the contract refuses it
    glucose = {**fixture("Observation-f001.json"), "id": "f001-batch"}
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": glucose}, {"resource": patient}, {"resource": heart_rate}],
    }
    status, outcome = post(stream, "/fhir", json.dumps(batch).encode(), lis)
    assert status == 202
    assert [(i["severity"], i["location"]) for i in outcome["issue"]] == [
        ("error", ["Bundle.entry[1]"]),
        ("error", ["fhir example-lis-obs-heart-rate"]),
    ]
    assert "resourceType 'Patient' is not accepted" in outcome["issue"][0]["diagnostics"]
    assert "occurred_at" in outcome["issue"][1]["diagnostics"]
    transaction = {
        **batch,
        "type": "transaction",
        "entry": [{"resource": {**glucose, "id": "f001-tx"}}, {"resource": patient}],
    }
    status, outcome = post(stream, "/fhir", json.dumps(transaction).encode(), lis)
    assert status == 422 and [i["location"] for i in outcome["issue"]] == [["Bundle.entry[1]"]]
    status, outcome = post(stream, "/fhir", b"{not json", lis)
    assert status == 400 and outcome["issue"][0]["location"] == ["body"]

    # Subscription rest-hook: the handshake (empty) is answered, a notification's resources are sent.
    assert post(stream, "/fhir/subscription", b"", lis)[0] == 200
    f001 = fixture("Observation-f001.json")
    amended = {**f001, "status": "amended", "valueQuantity": {**f001["valueQuantity"], "value": 7.1}}
    notification = {
        "resourceType": "Bundle",
        "type": "history",
        "entry": [
            {
                "resource": {
                    "resourceType": "Parameters",
                    "parameter": [{"name": "type", "valueCode": "event-notification"}],
                }
            },
            {"resource": amended},
        ],
    }
    status, outcome = post(stream, "/fhir/subscription", json.dumps(notification).encode(), lis)
    assert status == 202 and outcome["issue"][0]["severity"] == "information"
    assert post(stream, "/fhir/subscription", json.dumps(batch).encode(), None)[0] == 401

    ids = event_ids(stream)
    assert len(ids) == 7 and len(set(ids)) == 6  # lab, enrollment, infusion, f001, AE, f001-batch; f001 amended
    last = json.loads(stream.read(stream.settings.topics.events)[-1])
    assert (last["event_id"], last["revision"], last["value"]) == ("example-lis-obs-f001", 2, 7.1)
    assert not [i for i in ids if "f001-tx" in i]  # the refused transaction sent nothing

    # Every rejection is a dead letter with its reason; none holds an identifier, on any topic.
    letters = feed_letters(stream)
    reasons = sorted((letter["reason_code"], letter["reason"].split(":", 1)[0]) for letter in letters)
    assert reasons == sorted(
        [
            ("feed_http", "line 3"),
            ("feed_http", "line 4"),
            ("feed_fhir", "Bundle.entry[1]"),
            ("feed_fhir", "fhir example-lis-obs-heart-rate"),
            ("feed_fhir", "Bundle.entry[1]"),
            ("feed_fhir", "body"),
        ]
    )
    [bad_line] = [letter for letter in letters if letter["reason"].startswith("line 4")]
    assert json.loads(bad_line["raw"])["event_id"] == "L-103-2"  # enough to find it at its source
    written = b"".join(v for topic in stream.settings.topics.names().values() for v in stream.read(topic)).decode()
    written += (stream.workdir / "w1.log").read_text(encoding="utf-8", errors="replace")
    assert [name for name in NAMES if name.lower() in written.lower()] == []
    metrics = stream.metrics(worker)
    assert 'safety_feed_messages_total{adapter="fhir",outcome="rejected"} 2.0' in metrics
    assert 'safety_feed_events_total{adapter="http"} 3.0' in metrics


def mllp_send(port: int, message: str, timeout: float = 30.0) -> str:
    """Send one MLLP frame and read the answer; "" when none comes (the listener closed, or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(START_BLOCK + message.encode() + END_BLOCK)
        answer = b""
        try:
            while not answer.endswith(END_BLOCK):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    return answer.decode(errors="replace")


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def replayed_alert_ids(stream: Stream) -> set[str]:
    """What `safety replay` raises on the events the adapters put on the topic (duplicates included)."""
    from safety.replay import ReplayState, replay
    from streams.rulefiles import load_ruleset

    lines = [v.decode() for v in stream.read(stream.settings.topics.events)]
    return {o.alert_id for kind, o in replay(lines, load_ruleset(), ReplayState()) if kind == "alert"}  # type: ignore[union-attr]


def test_hl7_results_over_mllp_raise_the_alert_and_get_no_aa_while_the_broker_is_stopped(
    own_broker_stream: tuple[Stream, EmbeddedBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, broker = own_broker_stream
    monkeypatch.setenv("SAFETY_TEST_WORKER_LOGLEVEL", "info")  # more of what the worker says, all grepped below
    port = free_port()
    feeds_env(stream, port, ack_timeout=3)
    stream.extra_env["SAFETY_BROKER_DOWN_EXIT_SECONDS"] = "300"  # the worker outlives the stop
    worker = stream.start_worker()
    stream.wait_for(lambda: stream.page(worker, "/login")[0] == 200 and listening(port), 90, "web and MLLP")
    enrolled = [
        *START,
        *({**e, "event_id": str(e["event_id"]).replace("103", "101"), "subject_id": "AA-101"} for e in START),
    ]
    assert post(stream, "/events", "\n".join(map(json.dumps, enrolled)).encode(), f"Bearer {EDC_TOKEN}")[0] == 202

    # A grade 4 neutropenia of AA-103 (the LRI sample's patient): AA, and its alert on safety.alerts.
    answer = mllp_send(port, neutrophils("0.3", "F", "M-1"))
    assert "MSA|AA|M-1" in answer
    first = "example-lis-R-991133-NEUT"
    stream.wait_for(lambda: any(a["event_ids"] == [first] for a in stream.alerts()), 120, "the first alert")

    # The same kind of result for AA-101, sent while the broker is stopped: no AA (AE, or no answer at all).
    second = neutrophils("0.2", "F", "M-2").replace("PATID1234", "10006579").replace("R-991133", "R-991134")
    os.kill(broker.process.pid, signal.SIGSTOP)
    try:
        answer = mllp_send(port, second, timeout=20)
    finally:
        os.kill(broker.process.pid, signal.SIGCONT)
    assert "MSA|AA" not in answer
    assert answer == "" or "MSA|AE|M-2|the broker did not acknowledge" in answer

    # The broker is back: the resend gets AA, a second resend (a duplicate) too, and the result one alert.
    assert "MSA|AA|M-2" in mllp_send(port, second)
    assert "MSA|AA|M-2b" in mllp_send(port, second.replace("|M-2|", "|M-2b|"))
    stream.wait_for(lambda: stream.caught_up(stream.end_offsets(stream.settings.topics.events)), 120, "caught up")
    alerts = stream.alerts()
    second_id = "example-lis-R-991134-NEUT"
    assert len({a["alert_id"] for a in alerts if a["event_ids"] == [second_id]}) == 1
    assert {a["alert_id"] for a in alerts} == replayed_alert_ids(stream)
    assert all(a["subject_id"] in ("AA-101", "AA-103") for a in alerts)

    # Nothing the worker wrote, on any topic or in its log, names the patients or their physician.
    written = b"".join(v for topic in stream.settings.topics.names().values() for v in stream.read(topic)).decode()
    log = (stream.workdir / "w1.log").read_text(encoding="utf-8", errors="replace")
    assert "MLLP listener" in log  # the log was captured at info
    assert [name for name in (*NAMES, "Radon") if name.lower() in (written + log).lower()] == []
