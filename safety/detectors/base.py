"""What every detector shares: the evaluation context and the alert candidate it returns.

A detector never builds the final alert: it returns candidates, each with a content key (the ``alert_id`` of its
first raising). :mod:`safety.detectors` decides per key whether it is new (raise), already raised (keep: replay,
redelivery and corrections never duplicate) or no longer produced by a corrected event (withdraw).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from safety.model.outputs import alert_id

if TYPE_CHECKING:
    from safety.model.events import Event
    from safety.model.memory import RuleMemory
    from safety.model.outputs import GradedObservation
    from safety.model.state import SubjectState
    from safety.rules.ruleset import RuleSet


class Candidate:
    """An alert a detector found for the current event (not yet an Alert: it may already exist)."""

    __slots__ = (
        "also_matched",
        "basis",
        "ctcae_term",
        "episode",
        "event_ids",
        "grade",
        "key",
        "kind",
        "rule_id",
        "study_day",
    )

    def __init__(
        self,
        kind: str,
        rule_id: str,
        subject_id: str,
        event_ids: list[str],
        *,
        study_day: int | None,
        ctcae_term: str | None,
        grade: int | None,
        basis: dict[str, Any],
        also_matched: list[str] | None = None,
        identity: tuple[str, ...] = (),
        episode: str | None = None,
    ) -> None:
        self.kind = kind
        self.rule_id = rule_id
        self.event_ids = event_ids
        self.study_day = study_day
        self.ctcae_term = ctcae_term
        self.grade = grade
        self.basis = basis
        self.also_matched = also_matched
        self.episode = episode
        self.key = alert_id(kind, rule_id, subject_id, event_ids, *identity)


class Context:
    """One event's evaluation: the event, its graded rows, the subject state and the rules."""

    __slots__ = ("correction", "day", "dlt_matched", "event", "graded", "memory", "rules", "state")

    def __init__(
        self,
        event: Event,
        graded: list[GradedObservation],
        state: SubjectState,
        rules: RuleSet,
        day: int | None,
        correction: bool,
    ) -> None:
        self.event = event
        self.graded = graded
        self.state = state
        self.rules = rules
        self.day = day  # study day of the event's occurred_at (the onset day for an AE; docs/rules.md, Time)
        self.memory: RuleMemory = state.rules
        self.correction = correction
        self.dlt_matched = False  # set by the DLT detector, read by SUSPECTED_DLT-AE (a DLT needs no attribution)

    def in_window(self, day: int | None) -> bool:
        window = self.rules.protocol.window
        return day is not None and window.first_day <= day <= window.last_day


def iso(moment: datetime) -> str:
    return moment.isoformat()
