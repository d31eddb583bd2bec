"""The study-level stopping rule (protocol.md, Stopping rule and "Edge cases, settled", Stopping boundary).

A fold over ``StudySignal``s: ``infused`` (a subject's first infusion), ``dlt`` and ``dlt_withdrawn`` (a DLT
alert raised or withdrawn). The subject pipeline emits them; the stream sends them on the study-keyed topic
``safety.study`` and replay folds them in place, and both call :func:`study_step`, so the boundary is computed
identically. ``n`` counts subjects with a first infusion, ``x`` subjects with >= 1 active DLT alert (not
suspected, not withdrawn). After every new first infusion and every DLT that adds a subject to ``x``, once
n >= min_n, the posterior P(rate > threshold | x, n) under a Beta(a, b) prior is compared with the limit; the
first time it exceeds it, ``STOPPING_BOUNDARY`` is raised, named after the subject and event of the signal that
made the crossing, with x, n and the probability in ``basis``. It is raised once per study and never withdrawn
automatically (a later DLT withdrawal leaves it standing: the committee decides).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from safety.alerts import Alert, AlertKind, alert_id
from safety.clocks import in_study_time, report_due_at
from safety.posterior import prob_rate_above
from safety.ruleset import RuleSet
from safety.signals import StudySignal

RULE_ID = "STOPPING-BAYES"


class StudyState(BaseModel):
    """What the stopping rule remembers about one study (JSON-safe; bounded by the number of subjects)."""

    study_id: str
    infused: list[str] = Field(default_factory=list)  # subject codes with a first infusion, in arrival order
    dlt_alerts: dict[str, list[str]] = Field(default_factory=dict)  # subject -> active DLT alert ids
    crossed: bool = False
    crossed_alert_id: str | None = None
    probability: float | None = (
        None  # the latest evaluated posterior (dashboards, safety_stopping_probability)
    )

    @property
    def n(self) -> int:
        return len(self.infused)

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


def study_step(
    state: StudyState | None, signal: StudySignal, rules: RuleSet
) -> tuple[StudyState, list[Alert]]:
    """Fold one signal into the study state; return the state and the STOPPING_BOUNDARY alert if it crossed."""
    state = state if state is not None else StudyState(study_id=signal.study_id)
    subject = signal.subject_id
    changed = False
    if signal.kind == "infused":
        if subject not in state.infused:
            state.infused.append(subject)
            changed = True
    elif signal.kind == "dlt":
        if subject not in state.infused:  # a DLT implies an infusion (signals of one subject arrive in order)
            state.infused.append(subject)
        alerts = state.dlt_alerts.setdefault(subject, [])
        changed = not alerts
        if signal.alert_id is not None and signal.alert_id not in alerts:
            alerts.append(signal.alert_id)
    elif signal.kind == "dlt_withdrawn":
        alerts = state.dlt_alerts.get(subject, [])
        if signal.alert_id in alerts:
            alerts.remove(signal.alert_id)
        if not alerts:
            state.dlt_alerts.pop(subject, None)
        return state, []
    cfg = rules.protocol.stopping
    if not changed or not cfg.enabled or state.n < cfg.min_n:
        return state, []
    x, n = state.x, state.n
    probability = prob_rate_above(cfg.threshold, x, n, cfg.prior_a, cfg.prior_b)
    state.probability = probability
    if state.crossed or probability <= cfg.probability:
        return state, []
    alert = _boundary_alert(signal, rules, x, n, probability)
    state.crossed = True
    state.crossed_alert_id = alert.alert_id
    return state, [alert]


def _boundary_alert(signal: StudySignal, rules: RuleSet, x: int, n: int, probability: float) -> Alert:
    cfg = rules.protocol.stopping
    return Alert(
        alert_id=alert_id(
            "STOPPING_BOUNDARY", RULE_ID, signal.subject_id, [signal.event_id], signal.study_id
        ),
        kind=AlertKind.STOPPING_BOUNDARY,
        rule_id=RULE_ID,
        study_id=signal.study_id,
        subject_id=signal.subject_id,
        study_day=signal.study_day,
        ctcae_term=None,
        grade=None,
        event_ids=[signal.event_id],
        recipients=list(rules.protocol.recipients.get("STOPPING_BOUNDARY", [])),
        raised_at=in_study_time(signal.at, rules.tz),
        report_due_at=report_due_at("STOPPING_BOUNDARY", RULE_ID, signal.at, rules.protocol, rules.tz),
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
            "signal": signal.kind,
        },
    )
