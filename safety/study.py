"""The study-level stopping rule (docs/rules.md, "STOPPING_BOUNDARY: the stopping rule").

A fold over ``StudySignal``s: ``infused`` (a subject's first infusion), ``dlt`` and ``dlt_withdrawn`` (a DLT
alert raised or withdrawn). The subject pipeline emits them; the stream sends them on the study-keyed topic
``safety.study`` and replay folds them in place, and both call :func:`study_step`, so the boundary is computed
identically. ``n`` counts subjects with a first infusion, ``x`` subjects with >= 1 active DLT alert (not
suspected, not withdrawn). After every new first infusion and every DLT that adds a subject to ``x``, in
event time, once n >= min_n, the posterior P(rate > threshold | x, n) under a Beta(a, b) prior is compared
with the limit; the first time it exceeds it, ``STOPPING_BOUNDARY`` is raised, named after the subject and event
of the signal that made the crossing, with x, n and the probability in ``basis``. It is raised once per study
and never withdrawn automatically (a later DLT withdrawal leaves it standing: the committee decides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from safety.clocks import in_study_time, report_due_at
from safety.model.outputs import Alert, alert_id
from safety.rules.ruleset import RuleSet
from safety.signals import StudySignal
from safety.stats import prob_rate_above
from safety.vocab import AlertKind

RULE_ID = "STOPPING-BAYES"


class Point(BaseModel):
    """One signal's place in event time: when (the triggering event's clock start) and what."""

    at: datetime
    seq: int  # arrival order, only to break ties of equal event time
    event_id: str
    study_day: int | None


class StudyState(BaseModel):
    """What the stopping rule remembers about one study (JSON-safe; bounded by the number of subjects)."""

    study_id: str
    seq: int = 0
    last_at: datetime | None = None  # the latest event time seen: signals at or after it extend the walk
    infused: dict[str, Point] = Field(default_factory=dict)  # subject -> its first infusion
    dlt_alerts: dict[str, dict[str, Point]] = Field(default_factory=dict)  # subject -> active DLT alerts
    crossed: bool = False
    crossed_alert_id: str | None = None
    probability: float | None = None  # the posterior with every signal so far (dashboards, gauge)

    @property
    def n(self) -> int:
        """Subjects infused; a subject with a DLT counts even before its infusion record arrives."""
        return len(self.infused) + sum(1 for subject in self.dlt_alerts if subject not in self.infused)

    @property
    def x(self) -> int:
        return sum(1 for alerts in self.dlt_alerts.values() if alerts)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> StudyState:
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate_json(data)


def study_step(state: StudyState | None, signal: StudySignal, rules: RuleSet) -> tuple[StudyState, list[Alert]]:
    """Fold one signal into the study state; return the state and the STOPPING_BOUNDARY alert if it crossed.

    The crossing is searched in event time, not in arrival order: the stream merges the subject partitions by
    arrival, so a backlog can deliver a DLT after infusions that happened later; counted at arrival, n would
    have grown and a real crossing could be missed. Walking the signals by event time finds the same first
    crossing as replay of a time-ordered file, whatever order the partitions delivered them in.

    Each study has its own state and is folded with its own rule set (docs/rules.md, "Several studies": the
    stopping rule is per study); a signal, state or rule set of another study is refused.
    """
    if signal.study_id != rules.protocol.study_id or (state is not None and state.study_id != signal.study_id):
        raise ValueError(
            f"stopping rule: a signal of study {signal.study_id} was given the rules of "
            f"{rules.protocol.study_id} or the state of {state.study_id if state else 'none'}; "
            "route each study's signals to its own rules and state"
        )
    state = state if state is not None else StudyState(study_id=signal.study_id)
    state.seq += 1
    point = Point(at=signal.at, seq=state.seq, event_id=signal.event_id, study_day=signal.study_day)
    in_order = state.last_at is None or point.at >= state.last_at
    grows = _apply(state, signal, point)
    state.last_at = point.at if in_order else state.last_at
    cfg = rules.protocol.stopping
    if not cfg.enabled:
        return state, []
    x, n = state.x, state.n
    if n >= cfg.min_n:
        state.probability = prob_rate_above(cfg.threshold, x, n, cfg.prior_a, cfg.prior_b)
    if state.crossed or signal.kind == "dlt_withdrawn":  # fewer DLTs can only lower every posterior
        return state, []
    if in_order:  # the walk up to here is the one already made: only the new last point can cross
        crossing = None
        if grows and n >= cfg.min_n and state.probability is not None and state.probability > cfg.probability:
            crossing = (signal.subject_id, point, x, n, state.probability)
    elif signal.kind == "infused" and _evaluable_before(state, point, cfg.min_n):
        crossing = None  # a past infusion only lowers posteriors that were already checked (see below)
    else:  # a signal from the past (a lagging partition, a late record): walk the whole timeline again
        crossing = _first_crossing(state, rules)
    if crossing is None:
        return state, []
    crossing_subject, crossing_point, x, n, probability = crossing
    alert = _boundary_alert(signal.study_id, crossing_subject, crossing_point, rules, x, n, probability)
    state.crossed = True
    state.crossed_alert_id = alert.alert_id
    return state, [alert]


def _apply(state: StudyState, signal: StudySignal, point: Point) -> bool:
    """Record the signal; True when it adds a subject to n or to x (the only changes that can cross)."""
    subject = signal.subject_id
    counted = subject in state.infused or subject in state.dlt_alerts
    if signal.kind == "infused":
        known = state.infused.get(subject)
        if known is None or point.at < known.at:
            state.infused[subject] = point
        return not counted
    if signal.kind == "dlt" and signal.alert_id is not None:
        had_dlt = bool(state.dlt_alerts.get(subject))
        state.dlt_alerts.setdefault(subject, {}).setdefault(signal.alert_id, point)
        return not had_dlt
    if signal.kind == "dlt_withdrawn":
        alerts = state.dlt_alerts.get(subject, {})
        alerts.pop(signal.alert_id or "", None)
        if not alerts:
            state.dlt_alerts.pop(subject, None)
    return False


def _evaluable_before(state: StudyState, point: Point, min_n: int) -> bool:
    """True when at least ``min_n`` other subjects were infused strictly before ``point``.

    Then a late infusion cannot create a crossing, and the O(subjects) walk is skipped (it dominated replay of
    large files whose partitions interleave). The infusion adds 1 to n from its time on, x unchanged; with x
    fixed the posterior falls as n grows, so a state can newly cross only by becoming evaluable (n reaching
    ``min_n``). If ``min_n`` subjects already entered before the point, every state from it on was evaluable
    before, was checked when it was reached, and did not cross. Counting infusions only (not subjects that
    entered through a DLT) can under-count, which only makes the walk run when it was not needed.
    """
    count = 0
    for known in state.infused.values():
        if known.at < point.at:
            count += 1
            if count >= min_n:
                return True
    return False


def _first_crossing(state: StudyState, rules: RuleSet) -> tuple[str, Point, int, int, float] | None:
    """Walk first infusions and each subject's first active DLT in event time; return the first crossing.

    The posterior is evaluated only where it can newly exceed the limit: where n first reaches ``min_n``, and
    where x grows. A step that only adds to n lowers it (x fixed: see :func:`_evaluable_before`) below that of the
    step before, which was already at most the limit; so the walk computes a few posteriors, not one per subject.
    """
    cfg = rules.protocol.stopping
    timeline: list[tuple[datetime, int, int, str, Point]] = []
    for subject, point in state.infused.items():
        timeline.append((point.at, point.seq, 0, subject, point))
    for subject, alerts in state.dlt_alerts.items():
        first = min(alerts.values(), key=lambda p: (p.at, p.seq))
        timeline.append((first.at, first.seq, 1, subject, first))
    timeline.sort(key=lambda item: (item[0], item[1], item[2], item[3]))
    infused: set[str] = set()
    with_dlt: set[str] = set()
    for _, _, is_dlt, subject, point in timeline:
        before_x, before_n = len(with_dlt), len(infused)
        infused.add(subject)  # a DLT implies an infusion, even if its record arrives later
        if is_dlt:
            with_dlt.add(subject)
        x, n = len(with_dlt), len(infused)
        if n < cfg.min_n or (x == before_x and (n == before_n or before_n >= cfg.min_n)):
            continue
        probability = prob_rate_above(cfg.threshold, x, n, cfg.prior_a, cfg.prior_b)
        if probability > cfg.probability:
            return subject, point, x, n, probability
    return None


def _boundary_alert(
    study_id: str, subject: str, point: Point, rules: RuleSet, x: int, n: int, probability: float
) -> Alert:
    cfg = rules.protocol.stopping
    return Alert(
        alert_id=alert_id("STOPPING_BOUNDARY", RULE_ID, subject, [point.event_id], study_id),
        kind=AlertKind.STOPPING_BOUNDARY,
        rule_id=RULE_ID,
        study_id=study_id,
        subject_id=subject,
        study_day=point.study_day,
        ctcae_term=None,
        grade=None,
        event_ids=[point.event_id],
        recipients=list(rules.protocol.recipients.get("STOPPING_BOUNDARY", [])),
        raised_at=in_study_time(point.at, rules.tz),
        report_due_at=report_due_at("STOPPING_BOUNDARY", RULE_ID, point.at, rules.protocol, rules.tz),
        rules_version=rules.version,
        basis={
            "criterion": (
                f"P(DLT rate > {cfg.threshold:g} | x, n) > {cfg.probability:g} with a "
                f"Beta({cfg.prior_a:g}, {cfg.prior_b:g}) prior, n >= {cfg.min_n}"
            ),
            "x": x,
            "n": n,
            "probability": round(probability, 6),
            "threshold": cfg.threshold,
            "probability_limit": cfg.probability,
            "prior": [cfg.prior_a, cfg.prior_b],
            "evaluated": "first crossing in event time (recorded_at) over first infusions and DLTs",
        },
    )
