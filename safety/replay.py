"""Replay: a fold of ``pipeline.step`` (and ``study.study_step``) over JSON lines, in the order given.

It is the same engine the stream worker runs, without Kafka: the tool for validating a rule change on past data
and the reference the stream is checked against. Each event is evaluated under its own study's rules
(safety/routing.py); an event of an unknown study is rejected. No file handles here; the CLI does the I/O.

The fold has two levels, as the stream has two agents: :func:`replay_subjects` steps each line through its
subject's state, and :func:`fold_study` runs the study-level stopping rule over the signals those steps give, in
input order. Subjects share nothing, so the first level can run on shards of subjects (:func:`shard_key`) in
separate processes; the second then runs once over the shards' outputs merged back into input order, and the
result is the same as :func:`replay_lines` gives in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic_core import from_json

from safety import heartbeat
from safety.model.outputs import Alert, GradedObservation, Rejection
from safety.model.parse import parse_event
from safety.model.state import SubjectState
from safety.pipeline import step
from safety.routing import admit
from safety.rules.ruleset import RuleBook, RuleSet
from safety.signals import StudySignal

if TYPE_CHECKING:
    from safety.study import StudyState

OutputKind = Literal["event", "graded", "alert", "rejected"]


@dataclass
class ReplayState:
    """Everything a replay remembers: per-subject states, the entry of each event id applied (study, subject,
    event_id -> ``StepResult.recorded``: duplicates and corrections) and the study-level aggregates."""

    subjects: dict[tuple[str, str], SubjectState] = field(default_factory=dict)
    studies: dict[str, StudyState] = field(default_factory=dict)
    seen: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass(slots=True)
class LineOutputs:
    """What one input line gave: the accepted raw line (None for a rejected line or a duplicate) and its outputs.

    One record per line instead of one per output: the CLI writes each list to its file, so a large replay does
    not pay a generator hop per graded row (bench/replay_bench.py). ``signals`` are what the line tells the study
    level; ``study_alerts`` are those they raised there (the stopping boundary), after the subject's own, filled
    from what :func:`fold_study` returns.
    """

    raw: bytes | str | None
    graded: list[GradedObservation]
    alerts: list[Alert]
    rejections: list[Rejection]
    signals: list[StudySignal] = field(default_factory=list)
    study_alerts: list[Alert] = field(default_factory=list)


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
    state = state or ReplayState()
    book = rules if isinstance(rules, RuleBook) else RuleBook.of(rules)
    for outputs in replay_subjects(enumerate(lines, 1), book, state.subjects, state.seen, as_of):
        outputs.study_alerts = fold_study(outputs.signals, book, state.studies)
        yield outputs


def replay_subjects(
    numbered: Iterable[tuple[int, bytes | str]],
    book: RuleBook,
    subjects: dict[tuple[str, str], SubjectState],
    seen: dict[tuple[str, str, str], str],
    as_of: datetime | None = None,
) -> Iterator[LineOutputs]:
    """The subject level of the fold: each non-blank (line number, line) stepped through its subject's state in
    ``subjects`` and the entries of its event ids in ``seen``; ``study_alerts`` are left for :func:`fold_study`.

    The expected data of a subject (``as_of``) is settled here, from that subject's state alone, so a shard of
    subjects gives each line the same DATA_OVERDUE alerts as one pass over every subject."""
    tz = book.parse_tz
    for number, raw in numbered:
        if not raw.strip():
            continue
        parsed = parse_event(raw, tz, line=number)
        if isinstance(parsed, Rejection):
            yield LineOutputs(None, [], [], [parsed])
            continue
        line = raw.rstrip(b"\n") if isinstance(raw, bytes) else raw.rstrip("\n")
        admitted = admit(parsed, book, line, number)
        if isinstance(admitted, Rejection):
            yield LineOutputs(None, [], [], [admitted])
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
        rejections = result.rejections
        if rejections:  # rare: most lines have none, and an empty list needs no copy
            rejections = [rejection.model_copy(update={"line": number}) for rejection in rejections]
        alerts = [*due, *result.alerts] if due else result.alerts
        yield LineOutputs(None if result.duplicate else raw, result.graded, alerts, rejections, result.signals)


def overdue_at(
    subjects: dict[tuple[str, str], SubjectState], rules: RuleBook | RuleSet, as_of: datetime
) -> list[Alert]:
    """The DATA_OVERDUE alerts the ``subjects`` (``ReplayState.subjects``, or a shard's) still owe at ``as_of``,
    ordered by study and subject: shards of subjects give lists that merge, by that key, into one pass's list."""
    book = rules if isinstance(rules, RuleBook) else RuleBook.of(rules)
    alerts: list[Alert] = []
    for (study_id, _), subject in sorted(subjects.items()):
        study_rules = book.get(study_id)
        if study_rules is not None:
            alerts.extend(heartbeat.check(subject, as_of, study_rules))
    return alerts


def fold_study(signals: list[StudySignal], book: RuleBook, studies: dict[str, StudyState]) -> list[Alert]:
    """The study level of the fold: one line's ``signals`` through the stopping rule of their study, in order
    (the study agent's step in the stream); the alerts they raise."""
    if not signals:
        return []
    from safety.study import study_step

    raised: list[Alert] = []
    for signal in signals:
        state, alerts = study_step(studies.get(signal.study_id), signal, book.studies[signal.study_id])
        studies[signal.study_id] = state
        raised.extend(alerts)
    return raised


_SUBJECT_KEY = b'"subject_id"'
_SUBJECT_VALUE = re.compile(rb'"subject_id"[ \t\r\n]*:[ \t\r\n]*"([^"]*)"')


def shard_key(raw: bytes) -> bytes | None:
    """The subject a line belongs to, for sharding: its ``subject_id`` as UTF-8 bytes, or None for a line without
    one (it is rejected, whichever shard steps it). All lines of a subject get the same key, so a subject's events
    are never split across shards; lines of one study may be.

    Read from the bytes when the line allows it, else with the event parser's JSON parser. The shortcut gives the
    parser's value for every line that is a valid event, and only such lines touch a subject's state (any other
    line is rejected, in whichever shard): with no backslash in the line there are no escapes, so every ``"``
    delimits a string whose bytes are its content; an event's top-level ``subject_id`` key is then written as
    exactly those twelve bytes, and when they occur once they are that key, followed by its string value verbatim.
    """
    if raw.count(_SUBJECT_KEY) == 1 and b"\\" not in raw:
        match = _SUBJECT_VALUE.search(raw)
        if match is not None:
            return match.group(1)
    try:
        data = from_json(raw)
    except ValueError:
        return None
    subject = data.get("subject_id") if isinstance(data, dict) else None
    return subject.encode() if isinstance(subject, str) else None


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
        for alert in overdue_at(state.subjects, rules, as_of):
            yield "alert", alert
