"""`safety audit export`: the records of a period, in time order, as CSV a spreadsheet cannot execute and JSON."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from streams.cli import safety
from streams.cli.audit import in_period, write

RECORDS = [
    {
        "at": "2026-09-01T10:00:00+00:00",
        "person": "Dr Test",
        "role": "pi",
        "action": "ack",
        "target": "a" * 24,
        "reason": "HTTP 202",
        "source": "10.0.0.5",
        "forwarded_for": "",
        "via": "session",
    },
    {
        "at": "2026-09-01T09:00:00+00:00",
        "person": '=HYPERLINK("http://x")',
        "role": "",
        "action": "login_failed",
        "target": "/login",
        "reason": "name or password not recognised",
        "source": "10.0.0.9",
        "forwarded_for": "",
        "via": "none",
    },
    {
        "at": "2026-09-02T00:00:00+00:00",
        "person": "officer",
        "role": "safety_officer",
        "action": "login",
        "target": "/login",
        "reason": "password",
        "source": "10.0.0.6",
        "forwarded_for": "",
        "via": "session",
    },
]


def test_export_keeps_the_period_in_time_order_and_neutralises_formulas(tmp_path: Path) -> None:
    kept = in_period(RECORDS, datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 2, tzinfo=UTC))
    assert [r["action"] for r in kept] == ["login_failed", "ack"]
    as_csv, as_json = write(kept, tmp_path)
    rows = list(csv.DictReader(as_csv.open(encoding="utf-8")))
    assert rows[0]["person"] == '\'=HYPERLINK("http://x")' and rows[1]["person"] == "Dr Test"
    assert json.loads(as_json.read_text(encoding="utf-8")) == kept


def test_the_command_is_in_the_safety_group_and_refuses_a_malformed_period(tmp_path: Path) -> None:
    args = ["audit", "export", "--from", "yesterday", "--to", "now", "--out", str(tmp_path)]
    result = CliRunner().invoke(safety, args)
    assert result.exit_code == 2 and "ISO 8601" in result.output
