"""The data the core reads and writes: input events (the contract), graded rows, alerts, rejections, and the
bounded memories a subject's state keeps between events.

``SubjectState`` (safety/model/state.py) is exported by ``safety`` rather than here: it holds grading's composite
memory, so it is imported after ``safety.grading``, which itself reads these models.
"""

from safety.model.episodes import Episode
from safety.model.events import (
    DEFAULT_TZ,
    EVENT_TYPES,
    AdverseEvent,
    Death,
    Ecg,
    EndOfStudy,
    Enrollment,
    Event,
    Infusion,
    Lab,
    Transfusion,
    Vital,
)
from safety.model.memory import AlertRef, RuleMemory
from safety.model.outputs import Alert, GradedObservation, Rejection, alert_id
from safety.model.parse import parse_event
from safety.model.studyday import study_day
from safety.model.values import Measured, fmt, parse_measured
from safety.vocab import AlertKind

__all__ = [
    "DEFAULT_TZ",
    "EVENT_TYPES",
    "AdverseEvent",
    "Alert",
    "AlertKind",
    "AlertRef",
    "Death",
    "Ecg",
    "EndOfStudy",
    "Enrollment",
    "Episode",
    "Event",
    "GradedObservation",
    "Infusion",
    "Lab",
    "Measured",
    "Rejection",
    "RuleMemory",
    "Transfusion",
    "Vital",
    "alert_id",
    "fmt",
    "parse_event",
    "parse_measured",
    "study_day",
]
