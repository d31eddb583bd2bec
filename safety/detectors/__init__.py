"""Alert detectors, one module per kind behind an explicit registry. Placeholder until the rules land."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from safety.alerts import Alert
from safety.signals import StudySignal

if TYPE_CHECKING:
    from safety.alerts import GradedObservation
    from safety.events import Event
    from safety.ruleset import RuleSet
    from safety.subject import SubjectState


@dataclass
class RuleOutcome:
    alerts: list[Alert] = field(default_factory=list)
    signals: list[StudySignal] = field(default_factory=list)


def evaluate(
    event: Event, graded: list[GradedObservation], state: SubjectState, rules: RuleSet, *, correction: bool
) -> RuleOutcome:
    """Every alert (and DLT study signal) this event raises or withdraws for its subject."""
    return RuleOutcome()
