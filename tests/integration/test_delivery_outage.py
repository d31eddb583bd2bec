"""An SMTP outage longer than the retry window loses nothing (issue "Nothing lost", item 7; README "Alert delivery").

A real `safety worker` with every plug-in (the default SAFETY_PLUGINS, as `make demo` and production) on the
embedded broker, a real aiosmtpd server that is down while the worker delivers a small trial's alerts and comes
back later, and a loopback webhook as the safety officer's second channel. Retry timings are shortened by the
settings users have (SAFETY_RETRY_*, SAFETY_SWEEP_INTERVAL), so the outage outlasts the retry window in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from safety.delivery.ledger import LedgerEntry
from streams.dev.broker import free_port
from streams.worker.delivery import delivery_id
from tests.integration.conftest import ROOT, Stream

pytestmark = pytest.mark.slow

RETRY_ENV = {
    "SAFETY_RETRY_BASE_SECONDS": "1",
    "SAFETY_RETRY_MAX_ATTEMPTS": "3",  # the retry window: about 1 + 2 s
    "SAFETY_RETRY_MAX_DELAY_SECONDS": "2",  # the capped back-off an owed message is retried at
    "SAFETY_SWEEP_INTERVAL": "1",
    "SAFETY_CONNECT_TIMEOUT": "2",
}


class Mailbox:
    """aiosmtpd handler keeping each message's delivery id and recipient."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, str]] = []  # (delivery id, rcpt, subject)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        for rcpt in envelope.rcpt_tos:
            self.received.append((str(msg["X-Safety-Delivery-Id"]), rcpt, str(msg["Subject"])))
        return "250 OK"


class Officer(BaseHTTPRequestHandler):
    """The safety officer's webhook (a second route, as the README recommends)."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append({"id": self.headers.get("X-Safety-Delivery-Id"), "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture()
def officer_hook() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (Officer,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()


def start_full_worker(stream: Stream, env: dict[str, str], name: str = "w1") -> subprocess.Popen[bytes]:
    """`safety worker` as users run it: every default plug-in on (conftest's workers run the stream only)."""
    full = {k: v for k, v in stream.env(name).items() if k != "SAFETY_PLUGINS"} | env
    port = free_port()
    with open(stream.workdir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.worker.run", "--web-port", str(port), "--loglevel", "warn"],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    stream.workers.append(proc)
    stream.ports[proc.pid] = port
    return proc


def gauge(stream: Stream, proc: subprocess.Popen[bytes], name: str) -> float:
    """Sum of a metric's samples on the worker's /metrics (0 when absent or unreachable)."""
    try:
        text = stream.metrics(proc)
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def ledger(stream: Stream) -> dict[str, LedgerEntry]:
    """The latest ledger entry per alert from the compacted safety.deliveries topic."""
    latest: dict[str, LedgerEntry] = {}
    for raw in stream.read(stream.settings.topics.deliveries):
        entry = LedgerEntry.model_validate_json(raw)
        latest[entry.alert_id] = entry
    return latest


def wait(condition: Callable[[], bool], timeout: float, what: str, stream: Stream) -> None:
    stream.wait_for(condition, timeout, what)


def test_an_smtp_outage_longer_than_the_retry_window_loses_and_duplicates_no_message(
    stream: Stream, trial_lines: list[bytes], officer_hook: tuple[int, list[dict[str, Any]]], tmp_path: Path
) -> None:
    hook_port, officer_received = officer_hook
    smtp_port = free_port()  # the mail server is down from the start
    base = f"mailto://127.0.0.1:{smtp_port}?from=safety-bot@example.org&mode=insecure&cto=2"
    config = tmp_path / "apprise.yml"
    config.write_text(
        "version: 1\nurls:\n"
        f'  - "{base}&to=pi@example.org":\n      - tag: pi\n'
        f'  - "{base}&to=ethics@example.org":\n      - tag: ethics\n'
        f'  - "{base}&to=officer@example.org":\n      - tag: safety_officer\n'
        f'  - "json://127.0.0.1:{hook_port}/officer":\n      - tag: safety_officer\n',
        encoding="utf-8",
    )
    lines = [line for line in trial_lines if json.loads(line)["subject_id"] in ("AA-001", "AA-002", "AA-003")]
    worker = start_full_worker(stream, RETRY_ENV | {"SAFETY_NOTIFY_CONFIG": str(config)})
    events_end = stream.produce(lines)
    wait(lambda: stream.caught_up(events_end), 180, "the worker to process the trial", stream)
    alerts = [a for a in stream.alerts() if a["kind"] != "DELIVERY_FAILED"]
    pairs = {(a["alert_id"], r) for a in alerts for r in a["recipients"]}
    assert any(a["kind"] in ("DLT", "STOPPING_BOUNDARY") for a in alerts) and len(pairs) >= 4

    def notices() -> list[dict[str, Any]]:
        return [r for r in officer_received if "DELIVERY_FAILED" in r["json"]["title"]]

    # The outage outlasts the retry window: every pair reported to the officer over the webhook, still owed.
    wait(lambda: len(notices()) >= len(pairs), 120, f"{len(pairs)} DELIVERY_FAILED notices", stream)
    time.sleep(3 * float(RETRY_ENV["SAFETY_RETRY_MAX_DELAY_SECONDS"]))  # and longer still
    owed_during = gauge(stream, worker, "safety_deliveries_owed")
    oldest_during = gauge(stream, worker, "safety_deliveries_owed_oldest_seconds")
    assert owed_during >= len(pairs)  # every message (and the escalations of overdue reports) is owed
    assert oldest_during > 3
    entries = ledger(stream)
    for alert_id, recipient in pairs:
        deliveries = [d for d in entries[alert_id].deliveries if d.recipient == recipient and d.message == "alert"]
        assert deliveries and all(d.state == "pending" and len(d.attempts) > 3 for d in deliveries), (
            alert_id,
            recipient,
        )
    assert all(n == 1 for n in Counter(r["id"] for r in notices()).values())  # each notice sent once

    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()  # the server returns
    try:
        wait(lambda: gauge(stream, worker, "safety_deliveries_owed") == 0, 120, "the owed gauge to return to 0", stream)
        assert gauge(stream, worker, "safety_deliveries_owed_oldest_seconds") == 0
        time.sleep(4 * float(RETRY_ENV["SAFETY_SWEEP_INTERVAL"]))  # later sweeps send nothing again
    finally:
        smtp.stop()

    entries = ledger(stream)
    expected = {
        delivery_id(e.alert_id, d.key): (e.alert_id, d.recipient)
        for e in entries.values()
        for d in e.deliveries
        if d.scheme == "mailto"
    }
    assert all(d.state == "delivered" for e in entries.values() for d in e.deliveries)
    counts = Counter(ident for ident, _, _ in mailbox.received)
    assert set(counts) == set(expected), "every owed message arrived, nothing else"  # 0 lost
    assert [ident for ident, n in counts.items() if n > 1] == []  # 0 duplicated
    arrived = {expected[ident] for ident in counts}
    assert pairs <= arrived  # every (alert, recipient) of the trial reached its person
    assert not any("DELIVERY_FAILED" in subject for _, _, subject in mailbox.received)  # notices took the webhook


class SlowMailbox(Mailbox):
    """A busy relay: each message takes a while to be accepted, so a stopping worker has sends in flight."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        import asyncio

        await asyncio.sleep(2.0)
        return await super().handle_DATA(server, session, envelope)


def test_a_sigtermed_worker_hands_its_unfinished_deliveries_to_the_next_worker(
    stream: Stream, trial_lines: list[bytes], tmp_path: Path
) -> None:
    mailbox = SlowMailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        base = f"mailto://127.0.0.1:{smtp.port}?from=safety-bot@example.org&mode=insecure&cto=10"
        config = tmp_path / "apprise.yml"
        config.write_text(
            "version: 1\nurls:\n"
            f'  - "{base}&to=pi@example.org":\n      - tag: pi\n'
            f'  - "{base}&to=ethics@example.org":\n      - tag: ethics\n'
            f'  - "{base}&to=officer@example.org":\n      - tag: safety_officer\n',
            encoding="utf-8",
        )
        env = RETRY_ENV | {"SAFETY_NOTIFY_CONFIG": str(config), "SAFETY_CONNECT_TIMEOUT": "15"}  # > 2 s accept
        lines = [line for line in trial_lines if json.loads(line)["subject_id"] in ("AA-001", "AA-002", "AA-003")]
        first = start_full_worker(stream, env, "w1")
        events_end = stream.produce(lines)
        wait(lambda: bool(mailbox.received), 180, "the first message to arrive", stream)
        first.terminate()  # SIGTERM while the other messages are still being sent
        try:
            first.wait(60)
        except subprocess.TimeoutExpired:  # faust can wait for an unacknowledged ingest event for ever (README)
            first.kill()
            first.wait(10)
        before = len(mailbox.received)
        second = start_full_worker(stream, env, "w2")
        wait(lambda: stream.caught_up(events_end), 180, "the second worker to catch up", stream)
        alerts = [a for a in stream.alerts() if a["kind"] != "DELIVERY_FAILED"]
        pairs = {(a["alert_id"], r) for a in alerts for r in a["recipients"]}

        def delivered() -> bool:
            entries = ledger(stream)
            stream.progress = f"ledger {[(e.alert.kind, [(d.recipient, d.state) for d in e.deliveries]) for e in entries.values()]}, mailbox {len(mailbox.received)}"  # noqa: E501
            return all(
                any(d.recipient == r and d.message == "alert" and d.state == "delivered" for d in entries[a].deliveries)
                for a, r in pairs
                if a in entries
            ) and {a for a, _ in pairs} <= set(entries)

        wait(delivered, 180, "every (alert, recipient) message to be delivered", stream)
        wait(lambda: gauge(stream, second, "safety_deliveries_owed") == 0, 60, "nothing owed", stream)
    finally:
        smtp.stop()
    entries = ledger(stream)
    sent = Counter(ident for ident, _, _ in mailbox.received)
    wanted = {delivery_id(a, d.key) for a, r in pairs for d in entries[a].deliveries if d.recipient == r}
    assert wanted <= set(sent), "every (alert, recipient) message arrived"  # 0 lost across the SIGTERM
    assert before < len(pairs), "the first worker was stopped with messages still to send"
    # A send the stopping worker completed but could not record is sent again by its successor with the same
    # delivery id, so the receiver can drop it; no message ever arrives under two ids.
    ids_per_message: dict[tuple[str, str], set[str]] = {}
    for ident, rcpt, subject in mailbox.received:
        ids_per_message.setdefault((rcpt, subject), set()).add(ident)
    assert all(len(ids) == 1 for ids in ids_per_message.values()), ids_per_message
