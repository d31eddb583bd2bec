"""Replay: a fold of ``pipeline.step`` (and ``study.study_step``) over JSON lines, in the order given.

It is the same engine the stream worker runs, without Kafka: the tool for validating a rule change on past data
and the reference the stream is checked against. No file handles here; the CLI does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from safety.alerts import Alert, GradedObservation, Rejection
from safety.parsing import parse_event
from safety.pipeline import step
from safety.ruleset import RuleSet
from safety.subject import SubjectState

OutputKind = Literal["event", "graded", "alert", "rejected"]


@dataclass
class ReplayState:
    """Everything a replay remembers: per-subject states and the study-level aggregates."""

    subjects: dict[tuple[str, str], SubjectState] = field(default_factory=dict)
    studies: dict[str, object] = field(default_factory=dict)


def replay(
    lines: Iterable[bytes | str], rules: RuleSet, state: ReplayState | None = None
) -> Iterator[tuple[OutputKind, str | GradedObservation | Alert | Rejection]]:
    """Yield ("event", raw line) for each accepted event, then its graded rows, alerts and rejections."""
    from safety.study import study_step

    state = state or ReplayState()
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        parsed = parse_event(raw, rules.tz, line=number)
        if isinstance(parsed, Rejection):
            yield "rejected", parsed
            continue
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        key = (parsed.study_id, parsed.subject_id)
        result = step(state.subjects.get(key), parsed, rules, raw=text.rstrip("\n"))
        state.subjects[key] = result.state
        if not result.duplicate:
            yield "event", text
        for graded in result.graded:
            yield "graded", graded
        for alert in result.alerts:
            yield "alert", alert
        for rejection in result.rejections:
            yield "rejected", rejection.model_copy(update={"line": number})
        for signal in result.signals:
            study_state, study_alerts = study_step(state.studies.get(signal.study_id), signal, rules)  # type: ignore[arg-type]
            state.studies[signal.study_id] = study_state
            for alert in study_alerts:
                yield "alert", alert
