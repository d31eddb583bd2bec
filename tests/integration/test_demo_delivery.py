"""`safety demo` ends only when every (alert, recipient) delivery is final (issue "Nothing lost", item 9).

A slow mail server (each message takes seconds to accept, as a busy relay does) keeps the delivery stage behind
the stream; the demo must still not print its closing line before the last message is out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.streams.delivery_helpers import SmtpSink, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ACCEPT_SECONDS = 6.0  # per message: the six-subject trial's messages take longer than the old 20 s settle time


class SlowSink(SmtpSink):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        await asyncio.sleep(ACCEPT_SECONDS)
        return await super().handle_DATA(server, session, envelope)


def test_the_demo_ends_only_after_every_alert_reached_every_recipient(tmp_path: Path) -> None:
    sink = SlowSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        base = f"mailto://127.0.0.1:{smtp.port}?from=safety-bot@example.org&mode=insecure&cto=15"
        config = tmp_path / "apprise.yml"
        config.write_text(
            "version: 1\nurls:\n"
            f'  - "{base}&to=pi@example.org":\n      - tag: pi\n'
            f'  - "{base}&to=ethics@example.org":\n      - tag: ethics\n'
            f'  - "{base}&to=officer@example.org":\n      - tag: safety_officer\n',
            encoding="utf-8",
        )
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
        out = tmp_path / "out"
        result = subprocess.run(
            [sys.executable, "-m", "streams", "demo", "--subjects", "6", "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
            env={**clean, "SAFETY_NOTIFY_CONFIG": str(config)},
        )
        received_at_exit = [rcpt for env, _ in sink.messages for rcpt in env.rcpt_tos]
    finally:
        smtp.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [(a["alert_id"], r) for a in alerts for r in a["recipients"]]
    address = {"pi": "pi@example.org", "ethics": "ethics@example.org", "safety_officer": "officer@example.org"}
    by_rcpt: dict[str, int] = {}
    for rcpt in received_at_exit:
        by_rcpt[rcpt] = by_rcpt.get(rcpt, 0) + 1
    for role, mail in address.items():
        wanted = sum(1 for _, r in pairs if r == role)
        assert by_rcpt.get(mail, 0) >= wanted, f"{role}: {by_rcpt.get(mail, 0)} of {wanted} messages sent at exit"
    summary = re.search(r"deliveries: (\d+) delivered, (\d+) failed, (\d+) pending", result.stdout)
    assert summary is not None and summary.group(2, 3) == ("0", "0") and int(summary.group(1)) >= len(pairs)
