"""The functional core of the safety surveillance service: pure functions from events and rules to graded rows,
alerts and delivery decisions. It reads no clock and no environment and does no I/O (docs/architecture.md).

The path of one event: ``parse_event`` (JSON to an ``Event`` or a ``Rejection``), ``admit`` (its study's
``RuleSet`` from the ``RuleBook``), ``step`` (grade, detect: a ``StepResult``), then ``study_step`` for the study's
stopping rule. ``replay`` folds the same functions over a file. Packages: ``safety.model``, ``safety.rules``,
``safety.grading``, ``safety.detectors``, ``safety.delivery``, ``safety.reports``.
"""

# safety.grading is imported before safety.model.state: the subject state holds grading's composite memory, and
# grading reads the subject state, so grading must be complete when the state module is first loaded.
from safety.errors import ContractError, DeliveryConfigError, RuleFileError, SafetyError
from safety.grading import grade_observation
from safety.model import Alert, Event, GradedObservation, Rejection, parse_event
from safety.model.state import SubjectState
from safety.pipeline import StepResult, step
from safety.replay import ReplayState, replay, replay_lines
from safety.routing import admit
from safety.rules import Document, RuleBook, RuleSet, build_rulebook, build_ruleset
from safety.signals import StudySignal
from safety.study import StudyState, study_step

__all__ = [
    "Alert",
    "ContractError",
    "DeliveryConfigError",
    "Document",
    "Event",
    "GradedObservation",
    "Rejection",
    "ReplayState",
    "RuleBook",
    "RuleFileError",
    "RuleSet",
    "SafetyError",
    "StepResult",
    "StudySignal",
    "StudyState",
    "SubjectState",
    "admit",
    "build_rulebook",
    "build_ruleset",
    "grade_observation",
    "parse_event",
    "replay",
    "replay_lines",
    "step",
    "study_step",
]
