"""Episodes: alert once per episode for the lab-based kinds (docs/rules.md, "Episodes and re-alerting").

For ``SUSPECTED_DLT`` (threshold grade 3) and ``POTENTIAL_SAE`` (grade 4) the episode key is (subject, kind,
CTCAE term); the subject is implicit because episodes live in the subject's state. Inside an episode only a grade
above the episode's highest so far alerts again; the episode ends when a later value of the term grades below the
threshold. Two tests grading one term (SYSBP and DIABP for Hypertension) share the episode, so a normal diastolic
value does not end an episode that a high systolic value keeps open: the episode ends when every test that was at
or above the threshold has a later value below it. "Later" is by ``occurred_at``, so a lab entered days late does
not end an episode that newer values keep open (events are processed in arrival order).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Episode(BaseModel):
    """One open episode of a (kind, term): its highest grade and the tests currently at/above the threshold."""

    max_grade: int = 0
    open_tests: dict[str, datetime] = Field(default_factory=dict)  # test -> occurred_at of its latest high value
    alerted: dict[str, int] = Field(default_factory=dict)  # event_id -> grade of each alert raised in it


def episode_key(kind: str, term: str) -> str:
    return f"{kind}|{term}"


def below_threshold(episodes: dict[str, Episode], key: str, test: str, at: datetime) -> None:
    """A value under the threshold: it ends its test's part of the episode if it is later than that test's last
    high value; the episode ends when no test is left above the threshold."""
    episode = episodes.get(key)
    if episode is None:
        return
    since = episode.open_tests.get(test)
    if since is not None and at > since:
        del episode.open_tests[test]
        if not episode.open_tests:
            del episodes[key]


def at_or_above_threshold(
    episodes: dict[str, Episode], key: str, test: str, grade: int, at: datetime
) -> tuple[bool, int]:
    """A qualifying value: open or extend the episode; return (grade is above the episode's highest so far,
    that highest before this value). The caller raises the alert and then calls :func:`record_alert`."""
    episode = episodes.get(key)
    if episode is None:
        episode = Episode(max_grade=0, open_tests={}, alerted={})
        episodes[key] = episode
    since = episode.open_tests.get(test)
    if since is None or at > since:
        episode.open_tests[test] = at
    before = episode.max_grade
    if grade > before:
        episode.max_grade = grade
        return True, before
    return False, before


def record_alert(episodes: dict[str, Episode], key: str, event_id: str, grade: int) -> None:
    episode = episodes.get(key)
    if episode is not None:
        episode.alerted[event_id] = grade


def retract(episodes: dict[str, Episode], event_id: str) -> None:
    """Before a corrected observation is re-evaluated, forget what its earlier revision did to the episodes:
    its alerts no longer count towards the highest grade (the correction decides again)."""
    for key in list(episodes):
        episode = episodes[key]
        if event_id in episode.alerted:
            del episode.alerted[event_id]
            episode.max_grade = max(episode.alerted.values(), default=0)
