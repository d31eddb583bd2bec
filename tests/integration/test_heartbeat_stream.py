"""The heartbeat in a real worker (streams/worker/heartbeat.py, on by default): a source that stops sending raises
FEED_SILENT to the safety officer once, however many times the timer runs, and is told again only after it has
sent again and stopped again.

The silence limit and the timer's interval come from the settings (``SAFETY_FEED_SILENCE_HOURS`` 0.001 h = 3.6 s,
``SAFETY_EXPECTED_CHECK_SECONDS`` 1 s) so the test is short; production takes the study schedule's 24 h and 60 s.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LIMIT_S = 3.6
GAUGE = re.compile(r'^safety_feed_silent_seconds\{source="LIS"\} (\S+)$', re.MULTILINE)


def lab(n: int) -> bytes:
    """A result from the laboratory system (source LIS) of a subject not infused yet: nothing else is expected."""
    return json.dumps(
        {
            "type": "lab",
            "event_id": f"L-HB-{n}",
            "study_id": "ChiCTR2600125907",
            "subject_id": "AA-001",
            "occurred_at": "2026-06-24T08:00:00+08:00",
            "recorded_at": "2026-06-24T10:00:00+08:00",
            "source": "LIS",
            "test": "NEUT",
            "value": 2.1,
            "unit": "10^9/L",
            "ref_low": 1.8,
            "ref_high": 6.3,
        }
    ).encode()


def test_a_silent_feed_is_told_once_and_again_only_after_it_has_sent_again(stream: Any) -> None:
    stream.plugins = "streams.worker.heartbeat"
    stream.extra_env = {"SAFETY_FEED_SILENCE_HOURS": str(LIMIT_S / 3600), "SAFETY_EXPECTED_CHECK_SECONDS": "1"}
    worker = stream.start_worker()

    def silent_alerts() -> list[dict[str, Any]]:
        return [a for a in stream.alerts() if a["kind"] == "FEED_SILENT"]

    def quiet_for() -> float:
        try:
            found = GAUGE.search(stream.metrics(worker))
        except OSError:  # the web server is not up yet
            return -1.0
        return float(found.group(1)) if found else -1.0

    stream.produce([lab(1)])
    stream.wait_for(lambda: len(silent_alerts()) == 1, 90, "FEED_SILENT for LIS")
    (told,) = silent_alerts()
    assert told["subject_id"] == "LIS" and told["recipients"] == ["safety_officer"]
    assert told["basis"]["source"] == "LIS" and told.get("report_due_at") is None

    stream.wait_for(lambda: quiet_for() >= 3 * LIMIT_S, 60, "several timer runs of the same silence")
    assert len(silent_alerts()) == 1, "told once until the source sends again"

    stream.produce([lab(2)])
    stream.wait_for(lambda: 0 <= quiet_for() < LIMIT_S, 60, "the silence to clear when LIS sends again")
    stream.wait_for(lambda: len(silent_alerts()) == 2, 60, "FEED_SILENT again once LIS stops again")
    again = silent_alerts()[1]
    assert again["alert_id"] != told["alert_id"]  # a new silence: it starts at the second result
    assert again["basis"]["last_event_at"] > told["basis"]["last_event_at"]
