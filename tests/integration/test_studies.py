"""Two studies and an unknown third through one worker on the embedded broker, every plug-in on (docs/rules.md,
"Several studies"): each event is graded under its own study's rules (one study on CTCAE v6),
the unknown study is dead-lettered naming the known ones, each study's alerts reach only its own PI by e-mail
(loopback aiosmtpd, apprise tags ``<study_id>:<role>``), and the stopping rule is per study. The alerts are those
``safety replay`` gives on the same lines with the same rules directory (the heartbeat's, which follow the wall
clock, as streams/dev/parity.py compares them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from study_fixtures import STUDY_A, STUDY_B, UNKNOWN, lines, studies_dir, two_study_stream

from streams.dev.broker import free_port
from streams.dev.parity import differences
from streams.rulefiles import load_rulebook
from streams.settings import Settings

pytestmark = pytest.mark.slow

MAILBOXES = {
    f"{STUDY_A}:pi": "pi-a@example.org",
    f"{STUDY_A}:ethics": "ec-a@example.org",
    f"{STUDY_B}:pi": "pi-b@example.org",
    f"{STUDY_B}:ethics": "ec-b@example.org",
    "safety_officer": "so@example.org",
}


class Inbox:
    """aiosmtpd handler: (recipients, subject line) of every message received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), str(message["Subject"])))
        return "250 OK"

    def subjects_to(self, mailbox: str) -> list[str]:
        return [subject for to, subject in self.received if mailbox in to]


@pytest.fixture()
def inbox() -> Iterator[tuple[int, Inbox]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def apprise_config(tmp_path: Path, port: int) -> Path:
    rows = ["version: 1", "urls:"]
    for tag, mailbox in MAILBOXES.items():
        rows += [f"  - mailto://127.0.0.1:{port}?from=sae-bot@example.org&to={mailbox}:", f"      - tag: {tag}"]
    path = tmp_path / "apprise.yml"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def without_emitted_at(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["alert_id"]: {k: v for k, v in a.items() if k != "emitted_at"} for a in alerts}


def test_two_studies_and_an_unknown_third_in_one_stream(stream, inbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port, received = inbox
    studies = studies_dir(tmp_path)
    config = apprise_config(tmp_path, port)
    plain_env = stream.env

    def env(name: str) -> dict[str, str]:  # as users run it: the default plug-ins, the rules directory
        return {
            **plain_env(name),
            "SAFETY_PLUGINS": Settings().worker.plugins,
            "SAFETY_RULES_FILE": str(studies),
            "SAFETY_NOTIFY_CONFIG": str(config),
        }

    stream.env = env
    events = lines(*two_study_stream())
    stream.start_worker()
    ends = stream.produce([line.encode() for line in events])
    stream.wait_for(lambda: stream.caught_up(ends), 120, "the worker to process both studies")

    book = load_rulebook(studies)
    assert differences(stream.alerts(), events, book) == []  # the heartbeat's alerts as streams/dev/parity.py says
    alerts = without_emitted_at(stream.alerts())
    by_kind = {(a["kind"], a["subject_id"]): a for a in alerts.values()}
    assert by_kind[("DLT", "BB-001")]["rules_version"] == book.studies[STUDY_B].version
    assert by_kind[("DLT", "AA-001")]["rules_version"] == book.studies[STUDY_A].version
    assert [(a["study_id"], a["subject_id"]) for a in alerts.values() if a["kind"] == "STOPPING_BOUNDARY"] == [
        (STUDY_B, "BB-002")
    ]

    graded = [json.loads(v) for v in stream.read(stream.settings.topics.graded)]
    neut = {row["subject_id"]: (row["ctcae_version"], row["grade"]) for row in graded if row["test"] == "NEUT"}
    assert neut == {"AA-001": ("5.0", 4), "AA-002": ("5.0", 4), "BB-001": ("6.0", 3), "BB-002": ("6.0", 3)}

    letters = [json.loads(v) for v in stream.read(stream.settings.topics.deadletter)]
    assert [letter["event_id"] for letter in letters] == ["L-CC-001"]
    assert f"unknown study '{UNKNOWN}'" in letters[0]["reason"]
    assert STUDY_A in letters[0]["reason"] and STUDY_B in letters[0]["reason"]

    # NEUT 0.3 is grade 4 (potential SAE) only under study A's CTCAE v5.0
    assert sorted(a["study_id"] for a in alerts.values() if a["kind"] == "POTENTIAL_SAE") == [STUDY_A, STUDY_A]

    def delivered() -> bool:  # A: 2 DLTs and 2 potential SAEs; B: 2 DLTs and the boundary (and any DATA_OVERDUE)
        boundary = any("BB-002" in subject for subject in received.subjects_to("ec-b@example.org"))
        pis = len(received.subjects_to("pi-a@example.org")) >= 4 and len(received.subjects_to("pi-b@example.org")) >= 3
        return boundary and pis

    stream.wait_for(delivered, 60, "the PIs' e-mails")
    assert all("BB-" not in subject for subject in received.subjects_to("pi-a@example.org"))
    assert all("AA-" not in subject for subject in received.subjects_to("pi-b@example.org"))
    assert any("BB-002" in subject for subject in received.subjects_to("ec-b@example.org"))  # the boundary
    assert received.subjects_to("ec-a@example.org") == []  # study A raised nothing for its committee
