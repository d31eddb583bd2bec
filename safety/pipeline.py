"""THE core: one event, one pass. ``step`` is called identically by the stream worker and by replay.

step(state, event, rules, prior=...) -> StepResult(state, graded, alerts, rejections, signals, recorded). It reads
no clock and does no I/O: times come from the event (recorded_at, else occurred_at; the stream passes the Kafka
timestamp as ``recorded_at`` when the producer did not send one). It is deterministic, not pure: it updates the
subject's state in place (see ``step``).

Duplicates and corrections are told apart by the "revision:digest" entry of the event's id applied before
(``prior``), which the caller keeps and passes in; ``recorded`` is the entry to keep for the next one. The state does
not hold them, so it stays bounded by the subject's tests and open episodes however many events it sees: replay keeps
the entries in memory, the stream in a table of its own (streams/worker/ingest.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from safety import detectors, heartbeat
from safety.coding import uncoded_term
from safety.grading.grade import grade_observation
from safety.model.events import AdverseEvent, Ecg, Event, Infusion, Lab, Vital
from safety.model.outputs import Alert, GradedObservation, Rejection
from safety.model.state import SubjectState, reading_of
from safety.model.studyday import study_day
from safety.rules.ruleset import RuleSet
from safety.signals import StudySignal

GRADED_STATUSES = ("final", "corrected")


@dataclass
class StepResult:
    state: SubjectState
    graded: list[GradedObservation] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    signals: list[StudySignal] = field(default_factory=list)
    duplicate: bool = False
    recorded: str | None = None  # "revision:digest" to keep for the event id; None for a duplicate


def digest(event: Event, raw: str | bytes | None = None) -> str:
    """Fingerprint of an event revision, to tell a true duplicate from a conflicting one.

    The raw line when the shell has it (a redelivery or a resent record carries the same bytes, and hashing them
    is cheap on the hot path); the validated content otherwise. Bytes (replay reads them) hash without a decode:
    a line that parsed can only carry JSON whitespace around it, which ``bytes.strip`` and ``str.strip`` remove
    alike, so both forms of a line give the same digest.
    """
    if isinstance(raw, bytes):
        data = raw.strip()
    else:
        data = (raw.strip() if raw is not None else event.model_dump_json()).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _raw_text(event: Event, raw: str | bytes | None) -> str:
    """The line as text for a Rejection's ``raw`` (only on the rare rejection paths)."""
    if raw is None:
        return event.model_dump_json()
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def _all_ungradable(graded: list[GradedObservation]) -> bool:
    """Every row has a null grade (a plain loop: a generator in ``all`` costs more on every observation)."""
    for row in graded:
        if row.grade is not None:
            return False
    return True


def new_state(event: Event) -> SubjectState:
    return SubjectState(subject_id=event.subject_id, study_id=event.study_id)


def step(
    state: SubjectState | None,
    event: Event,
    rules: RuleSet,
    raw: str | bytes | None = None,
    prior: str | None = None,
) -> StepResult:
    """Apply one event to its subject's state; return the state and every output it causes.

    The state is updated in place and returned as ``result.state`` (the same object; a new one when ``state`` is
    None, the subject's first event): a caller that needs the state as it was must keep its JSON (the stream's
    table holds it, replay does not need it). Updating in place keeps a subject's derived baselines with it and
    spares a copy of the state on every event. The same event and state always give the same outputs.

    ``raw`` is the line the event was parsed from (str from the stream, UTF-8 bytes from replay), if known.
    ``prior`` is ``result.recorded`` of the last event applied with this event's id and subject (None: none was):
    the same revision again is a duplicate (a conflicting one when its content differs), a lower one is ignored, a
    higher one is a correction.
    """
    state = state if state is not None else new_state(event)
    fingerprint = digest(event, raw)
    correction = False
    if prior is not None:
        seen_revision, seen_digest = prior.split(":", 1)
        if event.revision <= int(seen_revision):
            result = StepResult(state=state, duplicate=True)
            if event.revision == int(seen_revision) and fingerprint != seen_digest:
                result.rejections.append(
                    Rejection(
                        kind="conflicting_duplicate",
                        event_id=event.event_id,
                        subject_id=event.subject_id,
                        raw=_raw_text(event, raw),
                        reason=(
                            f"conflicting duplicate: event_id {event.event_id!r} revision {event.revision} was "
                            "already applied with different content; send a higher revision to correct it"
                        ),
                    )
                )
            return result
        correction = True
    state.applied += 1

    first_infusion = isinstance(event, Infusion) and state.record_infusion(event.occurred_at, rules.tz, rules.criteria)
    day = study_day(event.occurred_at, state.day0, rules.tz)  # once per event: grading, detectors, heartbeat
    graded: list[GradedObservation] = []
    if isinstance(event, (Lab, Vital, Ecg)):
        if not isinstance(event, Lab) or event.status in GRADED_STATUSES:
            graded = grade_observation(event, state, rules, day)
            if state.first_infusion_at is None or event.occurred_at < state.first_infusion_at:
                state.remember_pre_infusion(reading_of(event), rules.criteria)
    rejections: list[Rejection] = []
    if graded and _all_ungradable(graded):
        rejections.append(
            Rejection(
                kind="ungradable",
                event_id=event.event_id,
                subject_id=event.subject_id,
                raw=_raw_text(event, raw),
                reason="ungradable: " + "; ".join(dict.fromkeys(row.basis for row in graded)),
            )
        )
    if isinstance(event, AdverseEvent):
        flag = uncoded_term(event, rules.criteria)  # kept and evaluated; flagged so it is counted and coded
        if flag is not None:
            rejections.append(
                Rejection(
                    kind="uncoded_term",
                    event_id=event.event_id,
                    subject_id=event.subject_id,
                    raw=_raw_text(event, raw),
                    reason=flag,
                )
            )
    outcome = detectors.evaluate(event, graded, state, rules, day=day, correction=correction)
    alerts = outcome.alerts  # the outcome's own lists: this event's outputs
    late = heartbeat.observe(state, event, rules, day)  # what arrived for the schedule; withdraws overdue alerts
    if late:
        alerts.extend(late)
    signals = [_infused(event, day), *outcome.signals] if first_infusion else outcome.signals
    return StepResult(state, graded, alerts, rejections, signals, recorded=f"{event.revision}:{fingerprint}")


def _infused(event: Event, day: int | None) -> StudySignal:
    """The subject's first infusion record (it defined day 0; a late record of an earlier infusion moves day 0
    back, and only the first record is a signal)."""
    return StudySignal(
        kind="infused",
        study_id=event.study_id,
        subject_id=event.subject_id,
        event_id=event.event_id,
        study_day=day,
        at=event.clock_start,
    )
