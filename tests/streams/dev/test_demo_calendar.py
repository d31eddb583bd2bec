"""The demo's calendar (streams.dev.synthetic.anchored_start): the trial's last data arrive now, every date moved
by the same whole number of days, so study days, times of day and the seed's data are unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.dev.synthetic import DEFAULT_START, TZ, anchored_start, generate_trial

SUBJECTS = 8  # the scripted stories of the first subjects; the calendar logic is the same for 48


def _moved(events: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """``events`` with every time moved by ``days``; an infusion's lot names its month, so it is left out."""

    def move(text: str) -> str:
        return (datetime.fromisoformat(text) + timedelta(days=days)).isoformat(timespec="seconds")

    return [{k: move(v) if k.endswith("_at") else v for k, v in e.items() if k != "lot"} for e in events]


def _last(events: list[dict[str, Any]]) -> datetime:
    return max(datetime.fromisoformat(e["recorded_at"]) for e in events)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (datetime(2027, 3, 9, 20, 0, tzinfo=TZ), "2027-03-09"),  # past the last arrival's time of day: today
        (datetime(2027, 3, 9, 12, 0, 0, tzinfo=TZ) - timedelta(hours=8), "2027-03-08"),  # 04:00 local: yesterday
    ],
)
def test_the_last_event_arrives_on_the_latest_day_that_is_not_after_now(now: datetime, day: str) -> None:
    events = generate_trial(SUBJECTS, start=anchored_start(now, SUBJECTS))
    last = _last(events)
    assert last.astimezone(TZ).date().isoformat() == day
    assert now - timedelta(days=1) < last <= now  # nothing in the future, and the latest data arrive within a day


def test_the_last_event_is_today_in_the_study_zone_when_now_is_given_in_utc() -> None:
    now = datetime.fromisoformat("2026-12-07T13:30:00+00:00")  # 21:30 in the study's zone (+08:00)
    last = _last(generate_trial(SUBJECTS, start=anchored_start(now, SUBJECTS)))
    assert last.astimezone(TZ).date().isoformat() == "2026-12-07" and last <= now


def test_anchoring_moves_every_date_by_whole_days_and_changes_nothing_else() -> None:
    now = datetime(2027, 3, 9, 20, 0, tzinfo=TZ)
    start = anchored_start(now, SUBJECTS)
    days = (start - DEFAULT_START).days
    assert start - DEFAULT_START == timedelta(days=days)  # a whole number of days: study days are unchanged
    assert _moved(generate_trial(SUBJECTS, start=start), 0) == _moved(generate_trial(SUBJECTS), days)
    assert anchored_start(now, SUBJECTS) == start  # the same moment gives the same calendar
