"""Replay: a fold of ``pipeline.step`` (and ``study.study_step``) over JSON lines, in the order given.

It is the same engine the stream worker runs, without Kafka: the tool for validating a rule change on past data
and the reference the stream is checked against. Each event is evaluated under its own study's rules
(safety/routing.py); an event of an unknown study is rejected. No file handles here; the CLI does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from safety import heartbeat
from safety.model.outputs import Alert, GradedObservation, Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.routing import admit
from safety.rules.ruleset import RuleBook, RuleSet

OutputKind = Literal["event", "graded", "alert", "rejected"]


@dataclass
class ReplayState:
    """Everything a replay remembers: per-subject states, the entry of each event id applied (study, subject,
    event_id -> ``StepResult.recorded``: duplicates and corrections) and the study-level aggregates."""

    subjects: dict[tuple[str, str], SubjectState] = field(default_factory=dict)
    studies: dict[str, object] = field(default_factory=dict)
    seen: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass(slots=True)
class LineOutputs:
    """What one input line gave: the accepted raw line (None for a rejected line or a duplicate) and its outputs.

    One record per line instead of one per output: the CLI writes each list to its file, so a large replay does
    not pay a generator hop per graded row (bench/replay_bench.py). ``study_alerts`` are those the line's study
    signals raised (the stopping boundary), after the subject's own.
    """

    raw: bytes | str | None
    graded: list[GradedObservation]
    alerts: list[Alert]
    rejections: list[Rejection]
    study_alerts: list[Alert]


def replay_lines(
    lines: Iterable[bytes | str],
    rules: RuleBook | RuleSet,
    state: ReplayState | None = None,
    as_of: datetime | None = None,
) -> Iterator[LineOutputs]:
    """Fold every line into ``state``; yield what each non-blank line produced, in input order.

    ``rules`` is every study of the deployment (a single ``RuleSet`` is a deployment of that one study).
    ``raw`` is the line as read (bytes stay bytes: the CLI writes them back unchanged); rejections carry their
    line number.

    ``as_of`` evaluates the schedule of expected data (safety/heartbeat.py) as the stream's timer would have up to
    that moment: before a subject's event is applied, its visits due by the event's clock start (at most ``as_of``)
    are settled, and their DATA_OVERDUE alerts lead the line's alerts; :func:`overdue_at` settles the rest at
    ``as_of`` after the last line. Without it, nothing is expected and the output is what it was before.
    """
    from safety.study import study_step

    state = state or ReplayState()
    subjects = state.subjects
    studies = state.studies
    seen = state.seen
    book = rules if isinstance(rules, RuleBook) else RuleBook.of(rules)
    tz = book.parse_tz
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        parsed = parse_event(raw, tz, line=number)
        if isinstance(parsed, Rejection):
            yield LineOutputs(None, [], [], [parsed], [])
            continue
        line = raw.rstrip(b"\n") if isinstance(raw, bytes) else raw.rstrip("\n")
        admitted = admit(parsed, book, line, number)
        if isinstance(admitted, Rejection):
            yield LineOutputs(None, [], [], [admitted], [])
            continue
        parsed, study_rules = admitted
        key = (parsed.study_id, parsed.subject_id)
        due: list[Alert] = []
        if as_of is not None and key in subjects:
            start = parsed.clock_start
            due = heartbeat.check(subjects[key], start if start < as_of else as_of, study_rules)
        seen_key = (*key, parsed.event_id)
        result = step(subjects.get(key), parsed, study_rules, raw=line, prior=seen.get(seen_key))
        subjects[key] = result.state
        if result.recorded is not None:
            seen[seen_key] = result.recorded
        study_alerts: list[Alert] = []
        for signal in result.signals:
            study_state, raised = study_step(studies.get(signal.study_id), signal, study_rules)  # type: ignore[arg-type]
            studies[signal.study_id] = study_state
            study_alerts.extend(raised)
        rejections = result.rejections
        if rejections:  # rare: most lines have none, and an empty list needs no copy
            rejections = [rejection.model_copy(update={"line": number}) for rejection in rejections]
        alerts = [*due, *result.alerts] if due else result.alerts
        yield LineOutputs(None if result.duplicate else raw, result.graded, alerts, rejections, study_alerts)


def overdue_at(state: ReplayState, rules: RuleBook | RuleSet, as_of: datetime) -> list[Alert]:
    """The DATA_OVERDUE alerts every subject of ``state`` still owes at ``as_of``, by study and subject."""
    book = rules if isinstance(rules, RuleBook) else RuleBook.of(rules)
    alerts: list[Alert] = []
    for (study_id, _), subject in sorted(state.subjects.items()):
        study_rules = book.get(study_id)
        if study_rules is not None:
            alerts.extend(heartbeat.check(subject, as_of, study_rules))
    return alerts


def replay(
    lines: Iterable[bytes | str],
    rules: RuleBook | RuleSet,
    state: ReplayState | None = None,
    as_of: datetime | None = None,
) -> Iterator[tuple[OutputKind, str | GradedObservation | Alert | Rejection]]:
    """Yield ("event", raw line) for each accepted event, then its graded rows, alerts and rejections; with
    ``as_of``, the alerts of the expected data still missing at that moment last."""
    state = state or ReplayState()
    for outputs in replay_lines(lines, rules, state, as_of):
        raw = outputs.raw
        if raw is not None:
            yield "event", raw.decode("utf-8") if isinstance(raw, bytes) else raw
        for graded in outputs.graded:
            yield "graded", graded
        for alert in outputs.alerts:
            yield "alert", alert
        for rejection in outputs.rejections:
            yield "rejected", rejection
        for alert in outputs.study_alerts:
            yield "alert", alert
    if as_of is not None:
        for alert in overdue_at(state, rules, as_of):
            yield "alert", alert
