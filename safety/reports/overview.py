"""The study overview: subjects enrolled and infused, DLT and SAE incidence with exact Clopper-Pearson 95%
intervals, and the Bayesian stopping rule's posterior after each change (docs/rules.md, "STOPPING_BOUNDARY: the
stopping rule").

``generated_at`` is an input, never the clock, so the pages and ``safety report`` agree for the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.model.events import Enrollment, Infusion
from safety.reports.status import AlertStatus
from safety.rules.protocol import StoppingRule
from safety.stats import clopper_pearson, prob_rate_above


def posterior_exceeds(x: int, n: int, threshold: float, prior_a: float, prior_b: float) -> float:
    """P(rate > threshold | x of n) under a Beta(prior_a, prior_b) prior (docs/rules.md, STOPPING_BOUNDARY).

    The stopping detector's own function (safety.stats), so the pages and the alert cannot disagree.
    The threshold and the prior are the protocol's (``Protocol.stopping``, via ``StoppingParams``).
    """
    return prob_rate_above(threshold, x, n, prior_a=prior_a, prior_b=prior_b)


_SCHEMA_STOPPING = StoppingRule()  # the protocol schema's defaults (safety/rules/protocol.py), not numbers of ours


class StoppingParams(BaseModel):
    """The stopping rule's parameters, read from ``Protocol.stopping`` (rules/studies/*.yaml) by ``of``.

    Without a protocol (a replay of another study, or the rules not loadable) the protocol schema's own
    defaults apply, so no threshold is written twice (docs/rules.md: the numbers are data).
    """

    model_config = ConfigDict(frozen=True)

    prior_a: float = _SCHEMA_STOPPING.prior_a
    prior_b: float = _SCHEMA_STOPPING.prior_b
    threshold: float = _SCHEMA_STOPPING.threshold
    probability: float = _SCHEMA_STOPPING.probability
    min_n: int = _SCHEMA_STOPPING.min_n

    @classmethod
    def of(cls, protocol: Any | None) -> StoppingParams:
        if protocol is None:
            return cls()
        s = protocol.stopping
        return cls(
            prior_a=s.prior_a,
            prior_b=s.prior_b,
            threshold=s.threshold,
            probability=s.probability,
            min_n=s.min_n,
        )


class SeriesPoint(BaseModel):
    """The study after one change (a first infusion, a subject's first DLT or SAE): cumulative counts."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    infused: int
    with_dlt: int
    with_sae: int
    probability: float | None  # None while infused < min_n (the rule is not evaluated yet)
    crossed: bool


class Overview(BaseModel):
    model_config = ConfigDict(frozen=True)

    study_id: str
    generated_at: datetime
    subjects_enrolled: int
    subjects_infused: int
    subjects_with_dlt: int
    dlt_rate_ci95: tuple[float, float] | None
    subjects_with_sae: int
    sae_rate_ci95: tuple[float, float] | None
    sae_count: int
    susar_count: int
    stopping: StoppingParams
    stopping_probability: float | None
    stopping_boundary_crossed: bool
    series: list[SeriesPoint]
    open_alerts: dict[str, int]
    overdue_reports: int


def _clock(e: Any) -> datetime:
    at: datetime = e.recorded_at or e.occurred_at
    return at


def _first_infusions(events: Sequence[Any]) -> dict[str, datetime]:
    """Subject -> clock start of the first infusion (the moment n grows, as the stopping signal uses)."""
    first: dict[str, Any] = {}
    for e in events:
        if isinstance(e, Infusion) and (e.subject_id not in first or e.occurred_at < first[e.subject_id].occurred_at):
            first[e.subject_id] = e
    return {s: _clock(e) for s, e in first.items()}


def overview(
    events: Sequence[Any],
    statuses: Sequence[AlertStatus],
    *,
    study_id: str,
    generated_at: datetime,
    stopping: StoppingParams | None = None,
) -> Overview:
    """Counts, exact CIs and the stopping rule's posterior, from the study's events and alerts so far.

    n = subjects with a first infusion; DLT x = subjects with >= 1 DLT alert not withdrawn (docs/rules.md,
    STOPPING_BOUNDARY); SAE x = infused subjects with >= 1 SAE alert not withdrawn, on or after day 0
    (the primary outcome counts SAEs from the day of infusion; screening SAEs are listed, not counted).
    """
    params = stopping or StoppingParams()
    enrolled = {e.subject_id for e in events if isinstance(e, Enrollment)}
    infused_at = _first_infusions(events)
    enrolled |= set(infused_at)
    live = [s for s in statuses if s.state != "withdrawn"]
    dlt_at: dict[str, datetime] = {}
    sae_at: dict[str, datetime] = {}
    for st in live:
        a = st.alert
        if a.kind == "DLT":
            dlt_at[a.subject_id] = min(dlt_at.get(a.subject_id, a.raised_at), a.raised_at)
        elif a.kind == "SAE" and a.subject_id in infused_at and (a.study_day is None or a.study_day >= 0):
            sae_at[a.subject_id] = min(sae_at.get(a.subject_id, a.raised_at), a.raised_at)
    changes = sorted(set(infused_at.values()) | set(dlt_at.values()) | set(sae_at.values()))
    series: list[SeriesPoint] = []
    crossed_ever = any(st.alert.kind == "STOPPING_BOUNDARY" for st in statuses)
    for t in changes:
        n = sum(1 for v in infused_at.values() if v <= t)
        x = sum(1 for v in dlt_at.values() if v <= t)
        s = sum(1 for v in sae_at.values() if v <= t)
        p = (
            posterior_exceeds(min(x, n), n, params.threshold, params.prior_a, params.prior_b)
            if n >= params.min_n
            else None
        )
        crossed = p is not None and p > params.probability
        crossed_ever = crossed_ever or crossed
        series.append(SeriesPoint(at=t, infused=n, with_dlt=x, with_sae=s, probability=p, crossed=crossed))
    n = len(infused_at)
    x_dlt = len([s for s in dlt_at if s in infused_at])
    x_sae = len(sae_at)
    probability = (
        posterior_exceeds(x_dlt, n, params.threshold, params.prior_a, params.prior_b) if n >= params.min_n else None
    )
    crossed_now = probability is not None and probability > params.probability
    open_alerts: dict[str, int] = {}
    for st in statuses:
        if st.state == "open":
            open_alerts[str(st.alert.kind)] = open_alerts.get(str(st.alert.kind), 0) + 1
    overdue = sum(1 for st in statuses if st.overdue(generated_at))
    return Overview(
        study_id=study_id,
        generated_at=generated_at,
        subjects_enrolled=len(enrolled),
        subjects_infused=n,
        subjects_with_dlt=x_dlt,
        dlt_rate_ci95=clopper_pearson(x_dlt, n),
        subjects_with_sae=x_sae,
        sae_rate_ci95=clopper_pearson(x_sae, n),
        sae_count=sum(1 for st in live if st.alert.kind == "SAE"),
        susar_count=sum(1 for st in live if st.alert.kind == "SUSAR"),
        stopping=params,
        stopping_probability=probability,
        stopping_boundary_crossed=crossed_ever or crossed_now,
        series=series,
        open_alerts=open_alerts,
        overdue_reports=overdue,
    )


__all__ = [
    "Overview",
    "SeriesPoint",
    "StoppingParams",
    "overview",
    "posterior_exceeds",
]
