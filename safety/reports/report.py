"""View models for the safety officer's pages and the ethics committee's reports (issue 7).

Pure functions from lists of input events, graded observations, alerts and acknowledgement records to plain
models: the study overview, the SAE/SUSAR line listing, cumulative DLT and SAE incidence with exact
Clopper-Pearson 95% intervals, the Bayesian stopping rule's posterior over time (protocol.md, Stopping rule),
per-subject lab timelines and eDISH points (regulatory.md, "Liver signal"). The stream's pages and the offline
``safety report`` build the same models from the same inputs, so the two can be compared byte for byte.

No clock is read: ``generated_at`` is an input. The posterior and the intervals come from safety/stats.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from safety.coding import DEATH_FALLBACK, UNCODED_TERM, alert_term, ctcae_term
from safety.coding import outcome as coded_outcome
from safety.model.events import DEFAULT_TZ, AdverseEvent, Death, Enrollment, Event, Infusion, Lab
from safety.model.outputs import Alert, GradedObservation
from safety.model.studyday import study_day as _study_day
from safety.rules.ctcae import Criteria, UnitTable
from safety.rules.protocol import HysLaw, StoppingRule
from safety.rules.units import Ungradable, to_si
from safety.stats import clopper_pearson, prob_rate_above

_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)

SUMMARY_FORMAT_VERSION = "1"
LISTED_KINDS = ("SAE", "SUSAR")
FEED_KINDS = ("SAE", "SUSAR", "DLT", "STOPPING_BOUNDARY")
SUBJECT_POINTS_LIMIT = 400  # per test and subject: the pages stay bounded whatever the follow-up length


# ----------------------------------------------------------------------------------------------------
# Exact binomial / beta arithmetic (pure Python)
# ----------------------------------------------------------------------------------------------------


def posterior_exceeds(x: int, n: int, threshold: float, prior_a: float, prior_b: float) -> float:
    """P(rate > threshold | x of n) under a Beta(prior_a, prior_b) prior (protocol.md, Stopping rule).

    The stopping detector's own function (safety.stats), so the pages and the alert cannot disagree.
    The threshold and the prior are the protocol's (``Protocol.stopping``, via ``StoppingParams``).
    """
    return prob_rate_above(threshold, x, n, prior_a=prior_a, prior_b=prior_b)


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------


class AckRecord(BaseModel):
    """An acknowledgement or ethics-submission command event (topic safety.acks, acks.jsonl), read tolerantly.

    Accepted spellings: ``action`` or ``type`` or ``kind`` in {ack, acknowledge, acknowledged} for an
    acknowledgement, {ethics_submitted, submitted, submission} for the ethics report; the time in ``at``,
    ``acknowledged_at``, ``submitted_at`` or ``recorded_at``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str
    action: Literal["acknowledged", "ethics_submitted"]
    at: datetime
    by: str | None = None
    conclusion: str | None = None

    @classmethod
    def read(cls, raw: Mapping[str, Any] | AckRecord) -> AckRecord | None:
        if isinstance(raw, AckRecord):
            return raw
        word = str(raw.get("action") or raw.get("type") or raw.get("kind") or "").lower()
        if word in ("ack", "acknowledge", "acknowledged", "acknowledgement", "alert_acknowledged"):
            action = "acknowledged"
        elif word in ("ethics_submitted", "submitted", "submission", "ethics_submission", "report_submitted"):
            action = "ethics_submitted"
        else:
            return None
        at = raw.get("at") or raw.get("acknowledged_at") or raw.get("submitted_at") or raw.get("recorded_at")
        try:
            return cls.model_validate(
                {**raw, "action": action, "at": at, "by": raw.get("by") or raw.get("who") or raw.get("role")}
            )
        except ValidationError:
            return None


def read_events(raw: Iterable[Mapping[str, Any] | BaseModel], tz: tzinfo = DEFAULT_TZ) -> list[Any]:
    """Events as models, latest revision per ``event_id`` (a correction supersedes); bad rows skipped."""
    latest: dict[str, Any] = {}
    order: list[str] = []
    for item in raw:
        if isinstance(item, BaseModel):
            event: Any = item
        else:
            try:
                event = _EVENTS.validate_python(dict(item), context={"tz": tz})
            except ValidationError:
                continue
        known = latest.get(event.event_id)
        if known is None:
            order.append(event.event_id)
        if known is None or event.revision >= known.revision:
            latest[event.event_id] = event
    return [latest[i] for i in order]


def read_graded(raw: Iterable[Mapping[str, Any] | GradedObservation]) -> list[GradedObservation]:
    """Graded rows as models, latest revision per (event_id, CTCAE term)."""
    latest: dict[tuple[str, str], GradedObservation] = {}
    for item in raw:
        row = item if isinstance(item, GradedObservation) else GradedObservation.model_validate(item)
        key = (row.event_id, row.ctcae_term)
        if key not in latest or row.revision >= latest[key].revision:
            latest[key] = row
    return list(latest.values())


def read_alerts(raw: Iterable[Mapping[str, Any] | Alert]) -> list[Alert]:
    """Alerts as models, first occurrence of each alert_id (a redelivered alert is the same alert)."""
    seen: dict[str, Alert] = {}
    for item in raw:
        alert = item if isinstance(item, Alert) else Alert.model_validate(item)
        seen.setdefault(alert.alert_id, alert)
    return list(seen.values())


def read_acks(raw: Iterable[Mapping[str, Any] | AckRecord]) -> list[AckRecord]:
    return [a for a in (AckRecord.read(r) for r in raw) if a is not None]


# ----------------------------------------------------------------------------------------------------
# Alert status
# ----------------------------------------------------------------------------------------------------


class AlertStatus(BaseModel):
    """An alert with what happened to it since: acknowledgement, ethics submission, withdrawal."""

    model_config = ConfigDict(frozen=True)

    alert: Alert
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    conclusion: str | None = None
    submitted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None

    @property
    def state(self) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.acknowledged_at is not None:
            return "acknowledged"
        return "open"

    @property
    def updated(self) -> datetime:
        """Latest change, for the Atom entry's <updated> (raised, acknowledged, submitted or withdrawn)."""
        times = [self.alert.raised_at, self.acknowledged_at, self.submitted_at, self.withdrawn_at]
        return max(t for t in times if t is not None)


def alert_statuses(alerts: Sequence[Alert], acks: Sequence[AckRecord]) -> list[AlertStatus]:
    """Every alert except the ALERT_WITHDRAWN records themselves, in input order, with its later history."""
    withdrawals = {a.withdraws: a for a in alerts if a.kind == "ALERT_WITHDRAWN" and a.withdraws}
    first_ack: dict[str, AckRecord] = {}
    first_sub: dict[str, AckRecord] = {}
    for ack in sorted(acks, key=lambda r: r.at):
        target = first_ack if ack.action == "acknowledged" else first_sub
        target.setdefault(ack.alert_id, ack)
    out = []
    for alert in alerts:
        if alert.kind == "ALERT_WITHDRAWN":
            continue
        acked = first_ack.get(alert.alert_id)
        sub = first_sub.get(alert.alert_id)
        wd = withdrawals.get(alert.alert_id)
        out.append(
            AlertStatus(
                alert=alert,
                acknowledged_at=acked.at if acked else None,
                acknowledged_by=acked.by if acked else None,
                conclusion=acked.conclusion if acked else None,
                submitted_at=sub.at if sub else None,
                withdrawn_at=wd.raised_at if wd else None,
                withdrawn_reason=wd.reason if wd else None,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Line listing
# ----------------------------------------------------------------------------------------------------


class ListingRow(BaseModel):
    """One SAE or SUSAR of the line listing (regulatory.md: seriousness is not severity; both are listed)."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    kind: str
    rule_id: str
    subject_id: str
    study_day: int | None
    term: str | None
    grade: int | None
    seriousness: list[str]
    causality: str | None
    expected: bool | None
    outcome: str | None
    report_due_at: datetime | None
    submitted_at: datetime | None
    acknowledged_at: datetime | None
    status: str
    overdue: bool

    @property
    def expectedness(self) -> str:
        return {True: "expected", False: "unexpected", None: ""}[self.expected]


LISTING_COLUMNS = (
    "kind",
    "alert_id",
    "subject_id",
    "study_day",
    "term",
    "grade",
    "seriousness",
    "causality",
    "expectedness",
    "outcome",
    "report_due_at",
    "submitted_at",
    "acknowledged_at",
    "status",
)


def line_listing(statuses: Sequence[AlertStatus], events: Sequence[Any], now: datetime) -> list[ListingRow]:
    """SAE and SUSAR alerts with the triggering AE's (latest revision) seriousness, causality and outcome.

    Coded values only (README, "No identifiers"): the alert's CTCAE term ("uncoded term" when it has none), the
    AE's outcome from the closed list of safety/coding.py; an event's verbatim term or a death's cause never.
    """
    by_id = {e.event_id: e for e in events}
    rows = []
    for st in statuses:
        a = st.alert
        if a.kind not in LISTED_KINDS:
            continue
        source = next((by_id[i] for i in a.event_ids if i in by_id), None)
        seriousness: list[str] = []
        causality = outcome = None
        expected: bool | None = None
        if isinstance(source, AdverseEvent):
            seriousness, causality, expected, outcome = (
                list(source.serious),
                source.causality,
                source.expected,
                coded_outcome(source.outcome),
            )
        elif isinstance(source, Death):
            seriousness, causality, expected, outcome = ["death"], source.causality, source.expected, "fatal"
        # the alert's coded term, never the event's verbatim term or cause (safety/coding.py)
        term = alert_term(a)
        if term is None and isinstance(source, (AdverseEvent, Death)):  # an alert raised before terms were coded
            term = DEATH_FALLBACK if isinstance(source, Death) else UNCODED_TERM
        overdue = (
            a.report_due_at is not None
            and st.submitted_at is None
            and st.state != "withdrawn"
            and now > a.report_due_at
        )
        rows.append(
            ListingRow(
                alert_id=a.alert_id,
                kind=str(a.kind),
                rule_id=a.rule_id,
                subject_id=a.subject_id,
                study_day=a.study_day,
                term=term,
                grade=a.grade,
                seriousness=seriousness,
                causality=causality,
                expected=expected,
                outcome=outcome,
                report_due_at=a.report_due_at,
                submitted_at=st.submitted_at,
                acknowledged_at=st.acknowledged_at,
                status=st.state,
                overdue=overdue,
            )
        )
    rows.sort(key=lambda r: (r.subject_id, r.study_day if r.study_day is not None else -(10**6), r.kind))
    return rows


def listing_record(row: ListingRow) -> dict[str, Any]:
    """The JSON/CSV form of a listing row (public format: keys of LISTING_COLUMNS plus rule_id, overdue)."""
    return {
        "kind": row.kind,
        "alert_id": row.alert_id,
        "rule_id": row.rule_id,
        "subject_id": row.subject_id,
        "study_day": row.study_day,
        "term": row.term,
        "grade": row.grade,
        "seriousness": row.seriousness,
        "causality": row.causality,
        "expectedness": row.expectedness or None,
        "outcome": row.outcome,
        "report_due_at": _iso(row.report_due_at),
        "submitted_at": _iso(row.submitted_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "status": row.status,
        "overdue": row.overdue,
    }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


# ----------------------------------------------------------------------------------------------------
# Study overview: counts, incidence, posterior over time
# ----------------------------------------------------------------------------------------------------


_SCHEMA_STOPPING = StoppingRule()  # the protocol schema's defaults (safety/rules/protocol.py), not numbers of ours


class StoppingParams(BaseModel):
    """The stopping rule's parameters, read from ``Protocol.stopping`` (rules/studies/*.yaml) by ``of``.

    Without a protocol (a replay of another study, or the rules not loadable) the protocol schema's own
    defaults apply, so no threshold is written twice (architecture.md: criteria are data).
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
        if isinstance(e, Infusion) and (
            e.subject_id not in first or e.occurred_at < first[e.subject_id].occurred_at
        ):
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

    n = subjects with a first infusion; DLT x = subjects with >= 1 DLT alert not withdrawn (protocol.md, Edge
    cases: Stopping boundary); SAE x = infused subjects with >= 1 SAE alert not withdrawn, on or after day 0
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
        posterior_exceeds(x_dlt, n, params.threshold, params.prior_a, params.prior_b)
        if n >= params.min_n
        else None
    )
    crossed_now = probability is not None and probability > params.probability
    open_alerts: dict[str, int] = {}
    for st in statuses:
        if st.state == "open":
            open_alerts[str(st.alert.kind)] = open_alerts.get(str(st.alert.kind), 0) + 1
    overdue = sum(
        1
        for st in live
        if st.alert.kind in LISTED_KINDS
        and st.alert.report_due_at is not None
        and st.submitted_at is None
        and generated_at > st.alert.report_due_at
    )
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


# ----------------------------------------------------------------------------------------------------
# The public safety-summary document
# ----------------------------------------------------------------------------------------------------


class Report(BaseModel):
    """Everything the reports and pages show, built once from the inputs."""

    model_config = ConfigDict(frozen=True)

    overview: Overview
    statuses: list[AlertStatus]
    listing: list[ListingRow]
    subjects: list[str] = []
    rules_version: str | None = None


def build_report(
    events: Iterable[Any],
    alerts: Iterable[Any],
    acks: Iterable[Any] = (),
    *,
    study_id: str,
    generated_at: datetime,
    stopping: StoppingParams | None = None,
    tz: tzinfo = DEFAULT_TZ,
) -> Report:
    """The one entry point the pages, the feed and ``safety report`` share."""
    evs = [e for e in read_events(events, tz) if e.study_id == study_id]
    als = [a for a in read_alerts(alerts) if a.study_id == study_id]
    sts = alert_statuses(als, read_acks(acks))
    versions = sorted({a.rules_version for a in als})
    return Report(
        overview=overview(evs, sts, study_id=study_id, generated_at=generated_at, stopping=stopping),
        statuses=sts,
        listing=line_listing(sts, evs, generated_at),
        subjects=subject_ids(evs),
        rules_version=versions[-1] if versions else None,
    )


def _rounded(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 6), round(ci[1], 6)]


def summary_document(report: Report) -> dict[str, Any]:
    """The safety-summary JSON (public format; extend, never rename). Rates and CIs are fractions of 1."""
    ov = report.overview
    return {
        "format_version": SUMMARY_FORMAT_VERSION,
        "study_id": ov.study_id,
        "generated_at": ov.generated_at.isoformat(),
        "rules_version": report.rules_version,
        "subjects_enrolled": ov.subjects_enrolled,
        "subjects_infused": ov.subjects_infused,
        "subjects_with_dlt": ov.subjects_with_dlt,
        "dlt_rate": _rate(ov.subjects_with_dlt, ov.subjects_infused),
        "dlt_rate_ci95": _rounded(ov.dlt_rate_ci95),
        "subjects_with_sae": ov.subjects_with_sae,
        "sae_rate": _rate(ov.subjects_with_sae, ov.subjects_infused),
        "sae_rate_ci95": _rounded(ov.sae_rate_ci95),
        "sae_count": ov.sae_count,
        "susar_count": ov.susar_count,
        "stopping_threshold": ov.stopping.threshold,
        "stopping_boundary": ov.stopping.probability,
        "stopping_min_n": ov.stopping.min_n,
        "stopping_probability": None
        if ov.stopping_probability is None
        else round(ov.stopping_probability, 6),
        "stopping_boundary_crossed": ov.stopping_boundary_crossed,
        "open_alerts": dict(sorted(ov.open_alerts.items())),
        "overdue_reports": ov.overdue_reports,
        "incidence_series": [
            {
                "at": p.at.isoformat(),
                "subjects_infused": p.infused,
                "subjects_with_dlt": p.with_dlt,
                "subjects_with_sae": p.with_sae,
                "stopping_probability": None if p.probability is None else round(p.probability, 6),
            }
            for p in ov.series
        ],
        "line_listing": [listing_record(r) for r in report.listing],
    }


def _rate(x: int, n: int) -> float | None:
    return None if n == 0 else round(x / n, 6)


# ----------------------------------------------------------------------------------------------------
# Per-subject timeline
# ----------------------------------------------------------------------------------------------------

# Presentation only: the tests the subject page charts, in this order, under these bilingual titles. What
# the chart draws for a test (term, scale, unit, grade bands) is read from the loaded criteria
# (rules/ctcae_v*.yaml, rules/units.yaml) by ``lab_scale``; no threshold or unit factor lives here
# (architecture.md, "Criteria are data").
TIMELINE_TESTS = ("NEUT", "PLAT", "HGB", "ALT", "BILI", "CREAT")
TIMELINE_LABELS: dict[str, str] = {
    "NEUT": "中性粒细胞 / Neutrophils",
    "PLAT": "血小板 / Platelets",
    "HGB": "血红蛋白 / Hemoglobin",
    "ALT": "丙氨酸氨基转移酶 / ALT",
    "BILI": "总胆红素 / Total bilirubin",
    "CREAT": "肌酐 / Creatinine",
}
ULN_UNIT = "x ULN"

# Band sets that grade a subject whose baseline is normal or absent: the ones a chart can draw for everyone.
# Sets conditioned on an abnormal baseline (x baseline bands) depend on the subject, so they are not drawn.
_UNCONDITIONAL = frozenset({"always", "baseline_not_above_uln", "baseline_not_below_lln"})
# Scales a chart can draw a fixed band on: absolute SI values or multiples of the record's own ULN. LLN-based
# bands (CTCAE v5 grade 1 of the blood counts starts at the laboratory's LLN, which varies) are not drawn.
_DRAWABLE = ("abs", "uln")


class LabScale(BaseModel):
    """How the timeline draws one test under the loaded criteria: term, scale, unit and grade bands.

    ``bands`` are (grade, threshold) in the display scale, mildest grade first; a grade's band covers values
    beyond its threshold in ``direction`` (``low``: below it, ``high``: above it).
    """

    model_config = ConfigDict(frozen=True)

    test: str
    term: str | None
    ctcae_version: str
    scale: Literal["si", "uln"]
    unit: str
    direction: Literal["low", "high"]
    bands: list[tuple[int, float]]


def lab_scale(criteria: Criteria, test: str) -> LabScale:
    """The chart of ``test`` from the criteria: the first term entry of the test (rules file order) whose band
    sets apply without an abnormal baseline; scale = the reference (absolute or x ULN) most of its bands use.

    So CTCAE v6 (NEUT grade 4 < 0.1, PLAT named Thrombocytopenia) is drawn as soon as a study selects it.
    """
    si_unit = criteria.units.si.get(test, "")
    terms = criteria.by_test.get(test, ())
    for term in terms:
        bands = [
            b for s in term.sets if s.measure == "value" and s.applies in _UNCONDITIONAL for b in s.bands
        ]
        counts = {of: sum(1 for b in bands if b.of == of) for of in _DRAWABLE}
        of = max(_DRAWABLE, key=lambda k: counts[k])
        if counts[of] == 0:
            continue
        high = next(b.high for b in bands if b.of == of)
        starts: dict[int, float] = {}
        for band in bands:
            if band.of != of:
                continue
            known = starts.get(band.grade)
            # a grade spelled by several bands starts where the first of them is met
            starts[band.grade] = band.value if known is None else (min if high else max)(known, band.value)
        return LabScale(
            test=test,
            term=term.term,
            ctcae_version=criteria.version,
            scale="uln" if of == "uln" else "si",
            unit=ULN_UNIT if of == "uln" else si_unit,
            direction="high" if high else "low",
            bands=sorted(starts.items()),
        )
    return LabScale(
        test=test,
        term=terms[0].term if terms else None,
        ctcae_version=criteria.version,
        scale="si",
        unit=si_unit,
        direction="low",
        bands=[],
    )


class LabPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    study_day: int
    value: float  # in the display scale (SI unit or x ULN)
    reported: str  # value and unit as reported
    grade: int | None


class LabSeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    test: str
    label: str
    unit: str
    direction: str
    bands: list[tuple[int, float]]  # (grade, threshold) in the display scale: worse beyond the threshold
    baseline: float | None
    points: list[LabPoint]
    term: str | None = None
    ctcae_version: str | None = None


class Marker(BaseModel):
    model_config = ConfigDict(frozen=True)

    study_day: int
    kind: Literal["infusion", "adverse_event", "alert"]
    label: str
    grade: int | None = None


class SubjectTimeline(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject_id: str
    study_id: str
    day0: date | None
    series: list[LabSeries]
    markers: list[Marker]
    alerts: list[AlertStatus]


def _plotted(e: Any, test: str) -> bool:
    """Only final and corrected results are plotted (preliminary ones are replaced by them)."""
    return isinstance(e, Lab) and e.test == test and e.status in ("final", "corrected")


def _graded_by_event(graded: Sequence[GradedObservation], test: str) -> dict[str, list[GradedObservation]]:
    rows: dict[str, list[GradedObservation]] = {}
    for g in graded:
        if g.test == test:
            rows.setdefault(g.event_id, []).append(g)
    return rows


def _si_reading(
    lab: Lab, rows: Sequence[GradedObservation], units: UnitTable
) -> tuple[float, float | None] | None:
    """(value, ULN) of ``lab`` in the test's SI unit, or None when its unit is unknown (never guessed).

    The graded row of this revision is preferred (its ``value``, ``uln`` are what grading compared); without
    one the lab is converted by rules/units.yaml (safety.rules.units.to_si), its range by the same conversion.
    """
    si_unit = units.si.get(lab.test)
    for row in rows:
        if row.revision == lab.revision and row.value is not None and row.unit == si_unit:
            return row.value, row.uln
    value = to_si(lab.test, lab.value.number, lab.unit, units)
    if isinstance(value, Ungradable):
        return None
    uln = None if lab.ref_high is None else to_si(lab.test, lab.ref_high, lab.unit, units)
    return value, (None if isinstance(uln, Ungradable) else uln)


def _shown(reading: tuple[float, float | None] | None, scale: str) -> float | None:
    if reading is None:
        return None
    value, uln = reading
    if scale == "uln":
        return value / uln if uln else None  # the record's own ULN; none (or 0) -> not drawable
    return value


def subject_timeline(
    subject_id: str,
    events: Sequence[Any],
    graded: Sequence[GradedObservation],
    statuses: Sequence[AlertStatus],
    *,
    criteria: Criteria,
    tz: tzinfo = DEFAULT_TZ,
    limit: int = SUBJECT_POINTS_LIMIT,
) -> SubjectTimeline:
    """NEUT, PLAT, HGB, ALT, BILI, CREAT by study day, with baseline, grade bands, infusions, AEs and alerts.

    Bands, scale, unit and term come from ``criteria`` (``lab_scale``); values are SI (from the graded rows,
    else converted with the criteria's unit table) or multiples of the record's own ULN. Day 0 and the
    baseline follow protocol.md (Time): the first infusion's local date, and the last value before the first
    infusion's ``occurred_at`` (None when that value cannot be shown: unknown unit, or no ULN on a x ULN
    scale). Only final/corrected results are plotted; a point's grade is its graded row's for the drawn term.
    """
    mine = [e for e in events if e.subject_id == subject_id]
    infusions = sorted((e for e in mine if isinstance(e, Infusion)), key=lambda e: e.occurred_at)
    first = infusions[0].occurred_at if infusions else None
    day0 = first.astimezone(tz).date() if first else None
    graded_mine = [g for g in graded if g.subject_id == subject_id]
    series = []
    for test in TIMELINE_TESTS:
        scale = lab_scale(criteria, test)
        rows = _graded_by_event(graded_mine, test)
        labs = sorted((e for e in mine if _plotted(e, test)), key=lambda e: e.occurred_at)
        baseline = None
        points = []
        for lab in labs:
            own = rows.get(lab.event_id, [])
            shown = _shown(_si_reading(lab, own, criteria.units), scale.scale)
            if first is not None and lab.occurred_at < first:
                baseline = shown
            day = _study_day(lab.occurred_at, day0, tz)
            if shown is None or day is None:
                continue
            grade = next(
                (r.grade for r in own if r.ctcae_term == scale.term and r.revision == lab.revision), None
            )
            points.append(
                LabPoint(
                    event_id=lab.event_id,
                    study_day=day,
                    value=round(shown, 6),
                    reported=f"{lab.value.text()} {lab.unit or ''}".strip(),
                    grade=grade,
                )
            )
        series.append(
            LabSeries(
                test=test,
                label=TIMELINE_LABELS.get(test, test),
                unit=scale.unit,
                direction=scale.direction,
                bands=list(scale.bands),
                baseline=None if baseline is None else round(baseline, 6),
                points=points[-limit:],
                term=scale.term,
                ctcae_version=scale.ctcae_version,
            )
        )
    markers: list[Marker] = []
    for inf in infusions:
        day = _study_day(inf.occurred_at, day0, tz)
        if day is not None:
            markers.append(
                Marker(study_day=day, kind="infusion", label=f"输注 / Infusion #{inf.infusion_number}")
            )
    for e in mine:
        if isinstance(e, AdverseEvent):
            day = _study_day(e.occurred_at, day0, tz)
            if day is not None:
                markers.append(
                    Marker(
                        study_day=day,
                        kind="adverse_event",
                        label=f"AE: {ctcae_term(e.ctcae_term, criteria) or UNCODED_TERM} G{e.grade}",
                        grade=e.grade,
                    )
                )
    mine_alerts = [s for s in statuses if s.alert.subject_id == subject_id]
    for st in mine_alerts:
        if st.alert.study_day is not None and st.alert.kind != "STOPPING_BOUNDARY":
            markers.append(
                Marker(
                    study_day=st.alert.study_day,
                    kind="alert",
                    label=f"{st.alert.kind} {st.alert.rule_id}",
                    grade=st.alert.grade,
                )
            )
    markers.sort(key=lambda m: (m.study_day, m.kind, m.label))
    return SubjectTimeline(
        subject_id=subject_id,
        study_id=mine[0].study_id if mine else "",
        day0=day0,
        series=series,
        markers=markers[-limit:],
        alerts=mine_alerts,
    )


def subject_ids(events: Sequence[Any]) -> list[str]:
    return sorted({e.subject_id for e in events})


# ----------------------------------------------------------------------------------------------------
# eDISH
# ----------------------------------------------------------------------------------------------------

EDISH_TRANSAMINASE = "ALT"  # regulatory.md, Liver signal: the plot is peak ALT against peak bilirubin


class EdishPoint(BaseModel):
    """Per subject: peak ALT and peak total bilirubin after the first infusion, x ULN and x baseline."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    alt_x_uln: float | None
    bili_x_uln: float | None
    alt_x_baseline: float | None
    bili_x_baseline: float | None
    quadrant_uln: str
    quadrant_baseline: str


QUADRANTS = {
    "normal": "正常 / Normal",
    "temple": "Temple 推论 / Temple's corollary",
    "cholestasis": "胆汁淤积 / Cholestasis",
    "hys_law": "潜在 Hy's law / Potential Hy's law",
}


def quadrant(alt: float | None, bili: float | None, alt_line: float, bili_line: float) -> str:
    """regulatory.md, Liver signal: lines at the protocol's Hy's law multiples (``Protocol.hys_law``:
    ``transaminase_x_uln``, ``bilirubin_x_uln``), both inclusive as Hy's law is >=."""
    high_alt = alt is not None and alt >= alt_line
    high_bili = bili is not None and bili >= bili_line
    if high_alt and high_bili:
        return "hys_law"
    if high_alt:
        return "temple"
    if high_bili:
        return "cholestasis"
    return "normal"


def edish_points(
    events: Sequence[Any],
    *,
    criteria: Criteria,
    hys_law: HysLaw,
    graded: Sequence[GradedObservation] = (),
    include_pre_infusion: bool = False,
) -> list[EdishPoint]:
    """Peak ALT vs peak bilirubin per subject (x ULN, and x baseline for ciclosporin-treated AA subjects).

    x ULN divides each value by its own record's ULN; x baseline divides the SI value by the SI baseline,
    the last value of the test before the first infusion's ``occurred_at`` (protocol.md, Time), so a
    baseline reported in mg/dL and a follow-up in umol/L compare correctly. Quadrant lines are the
    protocol's Hy's law multiples. SI values come from the graded rows, else rules/units.yaml.
    """
    tests = (EDISH_TRANSAMINASE, hys_law.bilirubin_test)
    first: dict[str, Any] = {}
    for e in events:
        if isinstance(e, Infusion) and (e.subject_id not in first or e.occurred_at < first[e.subject_id]):
            first[e.subject_id] = e.occurred_at
    per: dict[str, dict[str, list[Lab]]] = {}
    for e in events:
        if isinstance(e, Lab) and e.test in tests and _plotted(e, e.test):
            per.setdefault(e.subject_id, {}).setdefault(e.test, []).append(e)
    rows = {test: _graded_by_event(graded, test) for test in tests}
    lines = (hys_law.transaminase_x_uln, hys_law.bilirubin_x_uln)
    out = []
    for subject in sorted(per):
        t0 = first.get(subject)
        values: list[tuple[float | None, float | None]] = []
        for test in tests:
            labs = sorted(per[subject].get(test, []), key=lambda e: e.occurred_at)
            readings = [
                (lab, _si_reading(lab, rows[test].get(lab.event_id, []), criteria.units)) for lab in labs
            ]
            before = [r for lab, r in readings if t0 is not None and lab.occurred_at < t0]
            after = [
                r
                for lab, r in readings
                if r is not None and (include_pre_infusion or (t0 is not None and lab.occurred_at >= t0))
            ]
            base = before[-1][0] if before and before[-1] is not None else None
            x_uln = [value / uln for value, uln in after if uln]
            x_base = [value / base for value, _ in after if base]
            values.append(
                (
                    round(max(x_uln), 6) if x_uln else None,
                    round(max(x_base), 6) if x_base else None,
                )
            )
        alt, bili = values
        if alt == (None, None) and bili == (None, None):
            continue
        out.append(
            EdishPoint(
                subject_id=subject,
                alt_x_uln=alt[0],
                bili_x_uln=bili[0],
                alt_x_baseline=alt[1],
                bili_x_baseline=bili[1],
                quadrant_uln=quadrant(alt[0], bili[0], *lines),
                quadrant_baseline=quadrant(alt[1], bili[1], *lines),
            )
        )
    return out


def tz_of(name: str | None) -> tzinfo:
    return ZoneInfo(name) if name else DEFAULT_TZ


__all__ = [
    "AckRecord",
    "AlertStatus",
    "EdishPoint",
    "LabScale",
    "LabSeries",
    "ListingRow",
    "Overview",
    "Report",
    "SeriesPoint",
    "StoppingParams",
    "SubjectTimeline",
    "alert_statuses",
    "build_report",
    "clopper_pearson",
    "edish_points",
    "lab_scale",
    "line_listing",
    "overview",
    "posterior_exceeds",
    "quadrant",
    "read_acks",
    "read_alerts",
    "read_events",
    "read_graded",
    "subject_timeline",
    "summary_document",
]
