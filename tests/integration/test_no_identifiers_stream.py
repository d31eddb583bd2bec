"""No identifier leaves the stream worker (README, "No identifiers"): topics, log, pages, feed and e-mail.

The events of tests/phi_fixtures.py (fake names, a resident ID number and a phone number in every free-text
field) go through a real worker with every plug-in on (the default SAFETY_PLUGINS, as `make demo` and
production) and apprise e-mail to a loopback SMTP server (aiosmtpd). Then every record of every topic of the run
except the input (safety.events, and safety.deadletter which keeps rejected input verbatim), the worker's log at
info level, every page, the Atom feed, the summary (JSON, CSV, HTML) and every e-mail are searched for them.
"""

from __future__ import annotations

import json
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import phi_fixtures as phi
import pytest
from aiosmtpd.controller import Controller

from streams.admin import admin_client
from tests.integration.conftest import Stream
from tests.streams.delivery_helpers import SmtpSink, free_port

pytestmark = pytest.mark.slow

TOKEN = "phi-test-officer-token-0123456789abcdef"
PAGES = (
    "/overview",
    "/alerts",
    f"/subjects/{phi.SUBJECT}",
    "/edish",
    "/feeds/ethics.atom",
    "/reports/safety-summary.json",
    "/reports/safety-summary.csv",
    "/reports/safety-summary.html",
)


def _mail_text(message: EmailMessage) -> str:
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _get(port: int, path: str) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode("utf-8")


def test_identifiers_in_free_text_reach_no_topic_log_page_feed_or_mail(stream: Stream, tmp_path: Path) -> None:
    sink = SmtpSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        config = tmp_path / "apprise.yml"
        base = f"mailto://127.0.0.1:{smtp.port}?from=safety-bot@example.org&mode=insecure&cto=5"
        config.write_text(
            "version: 1\nurls:\n"
            f'  - "{base}&to=pi@example.org":\n      - tag: pi\n'
            f'  - "{base}&to=ethics@example.org":\n      - tag: ethics\n'
            f'  - "{base}&to=officer@example.org":\n      - tag: safety_officer\n',
            encoding="utf-8",
        )
        plain_env = stream.env

        def env(name: str) -> dict[str, str]:
            values = {k: v for k, v in plain_env(name).items() if k != "SAFETY_PLUGINS"}  # default plug-ins
            values.update(
                SAFETY_NOTIFY_CONFIG=str(config),
                SAFETY_AUTH_TOKENS=f"safety_officer:{TOKEN},pi:phi-test-pi-token-0123456789abcdef,ethics:phi-test-ethics-token-0123456789abcdef",
                SAFETY_LINK_SECRET="phi-test-link-secret-0123456789abcdef",
            )
            return values

        stream.env = env  # type: ignore[method-assign]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SAFETY_TEST_WORKER_LOGLEVEL", "info")
            worker = stream.start_worker("w1")
        ends = stream.produce([line.encode() for line in phi.lines(phi.events())])
        stream.wait_for(lambda: stream.caught_up(ends), 120, "the events and study signals to be processed")
        stream.wait_for(lambda: len(stream.alerts()) >= 7, 60, "the 7 alerts")
        alerts = stream.alerts()
        recipients = sum(len(a["recipients"]) for a in alerts)
        stream.wait_for(lambda: len(sink.messages) >= recipients, 120, f"{recipients} e-mails")
        port = stream.ports[worker.pid]
        stream.wait_for(
            lambda: len(json.loads(_get(port, "/reports/safety-summary.json"))["line_listing"]) == 5,
            60,
            "the summary to list the 5 SAE/SUSAR alerts",
        )
        pages = {path: _get(port, path) for path in PAGES}
    finally:
        smtp.stop()
        stream.stop_all()

    assert sorted(a["rule_id"] for a in alerts) == sorted(
        ["SAE-SERIOUS", "SUSAR-15D", "DLT-2", "SAE-SERIOUS", "SAE-DEATH", "SUSAR-7D", "DLT-5"]
    )
    assert "uncoded term" in pages["/reports/safety-summary.csv"] and "Death NOS" in pages["/feeds/ethics.atom"]
    leaks: dict[str, list[str]] = {}
    for path, text in pages.items():
        if phi.found(text):
            leaks[f"page {path}"] = phi.found(text)
    for number, (_, message) in enumerate(sink.messages):
        if phi.found(_mail_text(message)):
            leaks[f"e-mail {number}"] = phi.found(_mail_text(message))
    prefix = stream.settings.kafka.app_id.removesuffix("-safety")
    admin = admin_client(stream.settings)
    try:
        topics = sorted(t for t in admin.list_topics() if t.startswith(prefix))
    finally:
        admin.close()
    dead = [json.loads(v) for v in stream.read(stream.settings.topics.deadletter)]
    flagged = [d["event_id"] for d in dead if d["reason"].startswith("uncoded term:")]
    assert flagged == ["PHI-AE-1"]  # the uncoded ctcae_term is flagged (the dead letter keeps the input verbatim)
    inputs = {stream.settings.topics.events, stream.settings.topics.deadletter}
    searched = [t for t in topics if t not in inputs]
    assert stream.settings.topics.alerts in searched and any(t.endswith("changelog") for t in searched)
    for topic in searched:
        text = b"\n".join(stream.read(topic)).decode("utf-8", errors="replace")
        if phi.found(text):
            leaks[f"topic {topic}"] = phi.found(text)
    log = (stream.workdir / "w1.log").read_text(encoding="utf-8", errors="replace")
    assert "INFO" in log or "[I]" in log or "info" in log.lower()
    if phi.found(log):
        leaks["worker log"] = phi.found(log)
    assert leaks == {}
