"""No identifier leaves the service (README, "No identifiers"), end to end: offline replay, report and delivery.

Names (Chinese and Latin), an 18-character resident ID number and a phone number (obvious fakes, tests/
phi_fixtures.py) go through every free-text field of the events; then every output is searched for them: the
replay's graded rows and alerts, the ethics committee's summary (JSON, CSV, HTML) and Atom feed, the static pages
of `safety report`, and the messages `safety deliver` renders into its outbox (and its ledger). The replay's
``events.jsonl`` (the accepted input) and ``rejected.jsonl`` (the rejected lines, verbatim) are copies of the
site's input, kept so nothing is lost, and are not outputs in this sense. The stream worker runs the same core
(tests/integration/test_no_identifiers_stream.py checks its topics and log).
"""

from __future__ import annotations

import json
from pathlib import Path

import phi_fixtures as phi
import pytest

from streams.cli import main
from streams.cli.replay import run as replay_run

INPUT_COPIES = frozenset({"events.jsonl", "rejected.jsonl"})


def _text(path: Path) -> str:
    """A file's text as a reader sees it: a PDF's extracted text, any other file's UTF-8."""
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() for page in PdfReader(path).pages)
    return path.read_text(encoding="utf-8")


def _outputs(tmp_path: Path, records: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Replay, report and deliver ``records``; every output file's text by its path under tmp_path."""
    monkeypatch.delenv("SAFETY_NOTIFY_CONFIG", raising=False)
    events = phi.write_events(tmp_path / "events.jsonl", records)
    replay, report, outbox = tmp_path / "replay", tmp_path / "report", tmp_path / "outbox"
    assert replay_run(events, replay, None, quiet=True) == 0
    assert main(["report", "--from-replay", str(replay), "--out", str(report)]) == 0
    assert main(["deliver", "--alerts", str(replay / "alerts.jsonl"), "--outbox", str(outbox)]) == 0
    return {
        str(path.relative_to(tmp_path)): _text(path)
        for folder in (replay, report, outbox)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in INPUT_COPIES
    }


def test_identifiers_in_free_text_fields_reach_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = _outputs(tmp_path, phi.events(), monkeypatch)
    alerts = [json.loads(line) for line in outputs["replay/alerts.jsonl"].splitlines()]
    assert sorted(a["rule_id"] for a in alerts) == sorted(
        ["SAE-SERIOUS", "SUSAR-15D", "DLT-2", "SAE-SERIOUS", "SAE-DEATH", "SUSAR-7D", "DLT-5"]
    )  # the SAEs are raised: only the text is withheld
    messages = [json.loads(line) for line in outputs["outbox/outbox.jsonl"].splitlines()]
    assert len(messages) >= len(alerts)
    for name in (
        "safety-summary.json",
        "safety-summary.csv",
        "safety-summary.html",
        "safety-summary.pdf",
        "ethics.atom",
        "overview.html",
        "alerts.html",
        "edish.html",
        f"subject-{phi.SUBJECT}.html",
    ):
        assert f"report/{name}" in outputs
    leaks = {path: phi.found(text) for path, text in outputs.items() if phi.found(text)}
    assert leaks == {}
    console = capsys.readouterr()
    assert phi.found(console.out + console.err) == []
    rejected = [json.loads(line) for line in (tmp_path / "replay" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["event_id"]) for r in rejected if r["kind"] != "ungradable"] == [
        ("uncoded_term", "PHI-AE-1")
    ]  # flagged so it is counted and coded; its raw line is the input
    summary = json.loads(outputs["report/safety-summary.json"])
    assert {row["term"] for row in summary["line_listing"]} == {"uncoded term", "Death NOS"}


def test_a_subject_id_that_is_a_phone_number_or_a_name_is_rejected_and_reaches_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = _outputs(tmp_path, phi.events() + phi.BAD_SUBJECT_EVENTS, monkeypatch)
    rejected = (tmp_path / "replay" / "rejected.jsonl").read_text(encoding="utf-8").splitlines()
    bad_ids = {event["event_id"] for event in phi.BAD_SUBJECT_EVENTS}
    reasons = [record["reason"] for record in map(json.loads, rejected) if record.get("event_id") in bad_ids]
    assert len(reasons) == len(bad_ids) and all(r.startswith("subject_id:") for r in reasons)
    leaks = {path: phi.found(text) for path, text in outputs.items() if phi.found(text)}
    assert leaks == {}
