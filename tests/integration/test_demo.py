"""`safety demo` end to end: embedded broker, worker, delivery (README, "Quick start" and
"Alert delivery").

A small trial (6 subjects: the scripted DLT-1, DLT-2, DLT-4 and stopping-boundary stories) keeps it short. With
SAFETY_NOTIFY_CONFIG pointing at a loopback SMTP server (aiosmtpd), the demo's alerts arrive there as e-mail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from streams.dev.parity import clock_driven
from tests.streams.delivery_helpers import SmtpSink, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_demo(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
    return subprocess.run(
        [sys.executable, "-m", "streams", "demo", "--subjects", "6", "--port", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**clean, **env},
    )


def test_demo_streams_the_trial_delivers_by_email_and_stops_cleanly(tmp_path: Path) -> None:
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
        result = run_demo(tmp_path / "out", {"SAFETY_NOTIFY_CONFIG": str(config)})
    finally:
        smtp.stop()
    assert result.returncode == 0, result.stderr[-3000:]

    out = tmp_path / "out"
    events = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(events) > 500
    kinds = {alert["kind"] for alert in alerts}
    assert {"DLT", "STOPPING_BOUNDARY"} <= kinds
    assert f"{len(events)} events -> {len(alerts)} alerts" in result.stdout
    assert re.search(r"graded observations: [1-9]\d* \(G0: \d+", result.stdout)
    assert re.search(
        r"through the adapters \(AA-001, AA-003\): [1-9]\d* laboratory results in [1-9]\d* HL7 "
        r"ORU\^R01 messages over MLLP, [1-9]\d* FHIR AdverseEvents",
        result.stdout,
    )
    from_events = [a for a in alerts if not clock_driven(a)]  # the heartbeat's: replay --as-of (streams/dev/parity.py)
    assert f"gives {len(from_events)} alerts, the same as the stream" in result.stdout  # replay of the topic
    assert "HL7 v2 ORU^R01 over MLLP: 127.0.0.1:" in result.stdout and "/fhir" in result.stdout
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.name != "subjects.csv")
    assert "70000001" not in written  # AA-001's record number, held only in the site's mapping
    for alert in alerts:  # each alert printed as a readable line: subject, day, kind, rule
        assert any(alert["subject_id"] in line and alert["rule_id"] in line for line in result.stdout.splitlines())

    dlt = next(a for a in alerts if a["kind"] == "DLT")
    to_pi = sink.to("pi@example.org")
    assert any(dlt["subject_id"] in str(m["Subject"]) and "剂量限制性毒性" in str(m["Subject"]) for m in to_pi)
    boundary = [m for m in sink.to("ethics@example.org") if "STOPPING_BOUNDARY" in str(m["Subject"])]
    assert boundary, "the stopping boundary reaches the ethics committee"
