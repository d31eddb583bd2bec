"""Alert detectors, one module per kind behind an explicit registry (docs/rules.md, "Alert kinds").

``evaluate`` is called by :func:`safety.pipeline.step` once per applied event, after grading. Each detector
returns candidates keyed by content (``alert_id`` of kind, rule, subject, triggering events and, for the episode
kinds, term and grade); this module settles them against the subject's alert ledger (``RuleMemory``):

* a key never raised is raised: the ``Alert`` gets ``rules_version``, ``raised_at`` (the event's clock start,
  ``recorded_at`` else ``occurred_at``), ``report_due_at`` from the study's clocks and the kind's recipients;
* a key already raised and still active is kept silently (replay and redelivery never duplicate an alert);
* on a correction (a higher revision), every active alert of the event that the new revision no longer produces
  is followed by an ``ALERT_WITHDRAWN`` record (docs/rules.md, "Duplicates, corrections and withdrawals"); an
  alert raised again after a withdrawal gets a new id (the revision is part of it), so it is not mistaken for the
  old one.

DLT alerts and their withdrawals become ``StudySignal``s for the study-level stopping rule (:mod:`safety.study`).
Events that cannot alert return early, and an observation that reaches no episode rule is seen only by the
detectors that read the values of its test (DLT-4, Hy's law): most events of a replay are normal results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from safety.clocks import in_study_time, report_due_at
from safety.detectors import dlt, hys_law, potential_sae, sae, susar, suspected_dlt
from safety.detectors.base import Candidate, Context
from safety.model import episodes
from safety.model.memory import AlertRef
from safety.model.outputs import Alert, alert_id
from safety.signals import StudySignal
from safety.vocab import AlertKind

if TYPE_CHECKING:
    from types import ModuleType

    from safety.model.events import Event
    from safety.model.outputs import GradedObservation
    from safety.model.state import SubjectState
    from safety.rules.ruleset import RuleSet

# Order matters once: DLT runs before SUSPECTED_DLT (an AE that already is a DLT needs no attribution alert).
DETECTORS: Final = (sae, susar, dlt, suspected_dlt, potential_sae, hys_law)
_SILENT_TYPES: Final = frozenset({"enrollment", "infusion", "transfusion", "end_of_study"})
_OBSERVATION_TYPES: Final = frozenset({"lab", "vital", "ecg"})
# What sees an observation that reaches no episode rule: DLT-4 and Hy's law read the values of their tests (the
# gate's ``watched``) whatever their grade; SAE and SUSAR read adverse events and deaths only.
_VALUE_DETECTORS: Final = (dlt, hys_law)


@dataclass
class RuleOutcome:
    alerts: list[Alert] = field(default_factory=list)
    signals: list[StudySignal] = field(default_factory=list)


def evaluate(
    event: Event,
    graded: list[GradedObservation],
    state: SubjectState,
    rules: RuleSet,
    *,
    day: int | None,
    correction: bool,
) -> RuleOutcome:
    """Every alert (and DLT study signal) this event raises or withdraws for its subject; ``day`` is the event's
    study day (of ``occurred_at``; None before day 0 is known)."""
    event_type = event.type
    if event_type in _SILENT_TYPES:
        return RuleOutcome()
    run: tuple[ModuleType, ...] = DETECTORS
    if event_type in _OBSERVATION_TYPES and not correction and not _reaches_episode_rules(graded, state, rules):
        if event.test not in rules.gate.watched:  # type: ignore[union-attr]
            return RuleOutcome()
        run = _VALUE_DETECTORS
    ctx = Context(event, graded, state, rules, day, correction)
    if correction:
        episodes.retract(ctx.memory.episodes, event.event_id)
    candidates: list[Candidate] = []
    for detector in run:
        found = detector.detect(ctx)
        if found:
            candidates.extend(found)
    if not candidates and not correction:
        return RuleOutcome()
    return _settle(ctx, candidates)


def _reaches_episode_rules(graded: list[GradedObservation], state: SubjectState, rules: RuleSet) -> bool:
    """Whether an observation's rows can matter to SUSPECTED_DLT or POTENTIAL_SAE: a row graded at or above the
    lower of their thresholds, or any row while an episode is open (a lower grade may end it). Otherwise only the
    detectors reading the values of their own tests see it (``_VALUE_DETECTORS``), and only for those tests."""
    if state.rules.episodes:
        return bool(graded)
    min_grade = rules.gate.min_grade
    for row in graded:
        grade = row.grade
        if grade is not None and grade >= min_grade:
            return True
    return False


def _settle(ctx: Context, candidates: list[Candidate]) -> RuleOutcome:
    outcome = RuleOutcome()
    event = ctx.event
    memory = ctx.memory
    produced: dict[str, Candidate] = {}
    raised_by_kind: dict[str, Alert] = {}
    for candidate in candidates:
        produced[candidate.key] = candidate
        if candidate.episode is not None:
            episodes.record_alert(memory.episodes, candidate.episode, event.event_id, candidate.grade or 0)
        ref = memory.alerts.get(candidate.key)
        if ref is not None and ref.active:
            continue
        if ref is None:
            new_id = candidate.key
        else:  # raised again after a withdrawal: a new alert, not a redelivery of the withdrawn one
            new_id = alert_id(
                candidate.kind,
                candidate.rule_id,
                event.subject_id,
                candidate.event_ids,
                candidate.key,
                f"revision {event.revision}",
            )
        alert = _alert(ctx, candidate, new_id)
        memory.remember(
            candidate.key,
            AlertRef(
                alert_id=new_id,
                kind=candidate.kind,
                rule_id=candidate.rule_id,
                study_day=candidate.study_day,
                event_ids=list(candidate.event_ids),
                active=True,
            ),
        )
        if candidate.kind == "SAE":
            memory.sae_days[event.event_id] = candidate.study_day
        if candidate.kind == "DLT":
            outcome.signals.append(_signal(ctx, "dlt", alert.alert_id, alert.study_day))
        raised_by_kind[candidate.kind] = alert
        outcome.alerts.append(alert)
    if ctx.correction:
        for key in list(memory.by_event.get(event.event_id, ())):
            ref = memory.alerts[key]
            if ref.active and key not in produced:
                replacement = raised_by_kind.get(ref.kind)
                if replacement is None and ref.kind == "SUSPECTED_DLT":
                    replacement = raised_by_kind.get("DLT")  # attribution done: it is a DLT now
                outcome.alerts.append(_withdrawal(ctx, ref, replacement))
                ref.active = False
                if ref.kind == "SAE":
                    memory.sae_days.pop(event.event_id, None)
                if ref.kind == "DLT":
                    outcome.signals.append(_signal(ctx, "dlt_withdrawn", ref.alert_id, ref.study_day))
    return outcome


def _alert(ctx: Context, candidate: Candidate, new_id: str) -> Alert:
    rules = ctx.rules
    event = ctx.event
    start = event.clock_start
    return Alert(
        alert_id=new_id,
        kind=AlertKind(candidate.kind),
        rule_id=candidate.rule_id,
        study_id=event.study_id,
        subject_id=event.subject_id,
        study_day=candidate.study_day,
        ctcae_term=candidate.ctcae_term,
        grade=candidate.grade,
        event_ids=list(candidate.event_ids),
        recipients=list(rules.protocol.recipients.get(candidate.kind, [])),  # type: ignore[call-overload]
        raised_at=in_study_time(start, rules.tz),
        report_due_at=report_due_at(candidate.kind, candidate.rule_id, start, rules.protocol, rules.tz),
        rules_version=rules.version,
        also_matched=candidate.also_matched,
        basis=candidate.basis,
    )


def _withdrawal(ctx: Context, ref: AlertRef, replacement: Alert | None) -> Alert:
    event = ctx.event
    rules = ctx.rules
    if replacement is not None:
        reason = (
            f"revision {event.revision} of {event.event_id} superseded it with {replacement.rule_id} "
            f"alert {replacement.alert_id}"
        )
    else:
        reason = f"revision {event.revision} of {event.event_id} no longer meets {ref.rule_id}"
    return Alert(
        alert_id=alert_id(
            "ALERT_WITHDRAWN",
            ref.rule_id,
            event.subject_id,
            [event.event_id],
            ref.alert_id,
            f"revision {event.revision}",
        ),
        kind=AlertKind.ALERT_WITHDRAWN,
        rule_id=ref.rule_id,
        study_id=event.study_id,
        subject_id=event.subject_id,
        study_day=ref.study_day,
        event_ids=[event.event_id],
        recipients=list(rules.protocol.recipients.get(ref.kind, [])),  # type: ignore[call-overload]
        raised_at=in_study_time(event.clock_start, rules.tz),
        rules_version=rules.version,
        withdraws=ref.alert_id,
        reason=reason,
    )


def _signal(ctx: Context, kind: str, alert: str, day: int | None) -> StudySignal:
    event = ctx.event
    return StudySignal(
        kind=kind,
        study_id=event.study_id,
        subject_id=event.subject_id,
        event_id=event.event_id,
        study_day=day,
        at=in_study_time(event.clock_start, ctx.rules.tz),
        alert_id=alert,
    )


__all__ = ["DETECTORS", "RuleOutcome", "evaluate"]
