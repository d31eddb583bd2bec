"""A subject's state is bounded by its tests and open episodes, not by its events (safety/model/state.py).

The state the stream writes to its changelog on every batch used to carry every event id it applied (about 15 KB of
a 25 KB year); the revision applied per event id is now kept beside it (replay's mapping, the stream's ``seen``
table), so five years of daily vitals stay within the same few kilobytes as the first month.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from safety.replay import ReplayState, replay_lines
from streams.rulefiles import load_ruleset

STUDY = "ChiCTR2600125907"
VITALS = (("TEMP", 36.6, "C"), ("SYSBP", 118, "mmHg"), ("DIABP", 76, "mmHg"), ("PULSE", 72, "beats/min"))
DAYS = 5 * 365 + 1


def line(event_type: str, event_id: str, day: date, **fields: object) -> bytes:
    event = {
        "type": event_type,
        "event_id": event_id,
        "study_id": STUDY,
        "subject_id": "AA-001",
        "occurred_at": f"{day.isoformat()}T09:00",
        "recorded_at": f"{day.isoformat()}T11:00",
        **fields,
    }
    return json.dumps(event).encode()


def five_years_of_daily_vitals() -> list[bytes]:
    """Enrolment, vitals before the infusion (the baselines), the infusion, then every vital every day for five
    years: a fever every 30 days (an episode opens and closes) and every temperature sent twice (a duplicate)."""
    start = date(2026, 7, 1)
    lines = [line("enrollment", "ENR-1", start - timedelta(days=7), sex="F", age=34, severity="SAA")]
    lines += [
        line("vital", f"PRE-{test}", start - timedelta(days=1), test=test, value=v, unit=u) for test, v, u in VITALS
    ]
    lines.append(line("infusion", "INF-1", start, infusion_number=1, dose_per_kg=1e6))
    for n in range(1, DAYS + 1):
        day = start + timedelta(days=n)
        for test, value, unit in VITALS:
            reading = 38.6 if test == "TEMP" and n % 30 == 0 else value
            lines.append(line("vital", f"D{n}-{test}", day, test=test, value=reading, unit=unit))
        lines.append(lines[-len(VITALS)])  # the day's temperature again
    return lines


def test_five_years_of_daily_vitals_keep_the_serialised_state_under_10_kb() -> None:
    lines = five_years_of_daily_vitals()
    state = ReplayState()
    outputs = list(replay_lines(lines, load_ruleset(), state))
    [subject] = state.subjects.values()
    size = len(subject.to_json().encode())
    assert size < 10_000, f"a five-year state is {size:,} bytes"
    # the memory moved, it did not vanish: every event applied once, every resend a duplicate without output
    assert subject.applied == len(state.seen) == 2 + len(VITALS) + DAYS * len(VITALS)
    resent = [out for n, out in enumerate(outputs) if n > len(VITALS) + 1 and (n - len(VITALS) - 1) % 5 == 0]
    assert len(resent) == DAYS and all(out.raw is None and not out.graded and not out.alerts for out in resent)
    fevers = [row for out in outputs for row in out.graded if row.grade]
    assert len(fevers) == DAYS // 30  # graded against the rules, each fever once
