"""One subject's timeline: every test and vital sign the loaded criteria grade, by study day, with baseline and
grade bands from those criteria; adverse events from onset to end; infusions, transfusions, death and alerts.

Each point, bar and marker that an alert was raised on carries that alert's id, so a chart can link to its page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from safety.coding import UNCODED_TERM, ctcae_term
from safety.model.events import DEFAULT_TZ, AdverseEvent, Death, Infusion, Transfusion
from safety.model.outputs import GradedObservation
from safety.model.studyday import study_day as _study_day
from safety.reports.labs import graded_by_event, plotted, si_reading
from safety.reports.status import AlertStatus
from safety.rules.ctcae import Criteria

SUBJECT_POINTS_LIMIT = 400  # per test and subject: the pages stay bounded whatever the follow-up length
EARLY_DAYS = 28  # days 0-28: the densest sampling after the first infusion, where a DLT review starts

# Presentation only: the order in which the subject page charts the tests the loaded criteria grade (blood counts,
# liver, kidney and chemistry, coagulation, vital signs, ECG) and their bilingual titles; a graded test not named
# here follows in the criteria's order under its CTCAE term. What the chart draws for a test (terms, scale, unit,
# grade bands) is read from the loaded criteria (rules/ctcae_v*.yaml, rules/units.yaml) by ``lab_scale``; no
# threshold or unit factor lives here (docs/rules.md: the numbers are data in rules/).
TIMELINE_TESTS = (
    "NEUT",
    "PLAT",
    "HGB",
    "WBC",
    "LYM",
    "ALT",
    "AST",
    "BILI",
    "ALP",
    "GGT",
    "CREAT",
    "K",
    "SODIUM",
    "CA",
    "MG",
    "GLUC",
    "ALB",
    "INR",
    "APTT",
    "FIBRINO",
    "TEMP",
    "SYSBP",
    "DIABP",
    "OXYSAT",
    "QTCF",
    "QTCB",
)
TIMELINE_LABELS: dict[str, str] = {
    "NEUT": "中性粒细胞 / Neutrophils",
    "PLAT": "血小板 / Platelets",
    "HGB": "血红蛋白 / Hemoglobin",
    "WBC": "白细胞 / White blood cells",
    "LYM": "淋巴细胞 / Lymphocytes",
    "ALT": "丙氨酸氨基转移酶 / ALT",
    "AST": "天冬氨酸氨基转移酶 / AST",
    "BILI": "总胆红素 / Total bilirubin",
    "ALP": "碱性磷酸酶 / Alkaline phosphatase",
    "GGT": "γ-谷氨酰转移酶 / GGT",
    "CREAT": "肌酐 / Creatinine",
    "K": "血钾 / Potassium",
    "SODIUM": "血钠 / Sodium",
    "CA": "血钙 / Calcium",
    "MG": "血镁 / Magnesium",
    "GLUC": "血糖 / Glucose",
    "ALB": "白蛋白 / Albumin",
    "INR": "国际标准化比值 / INR",
    "APTT": "活化部分凝血活酶时间 / APTT",
    "FIBRINO": "纤维蛋白原 / Fibrinogen",
    "TEMP": "体温 / Temperature",
    "SYSBP": "收缩压 / Systolic blood pressure",
    "DIABP": "舒张压 / Diastolic blood pressure",
    "OXYSAT": "血氧饱和度 / Oxygen saturation",
    "QTCF": "QTcF 间期 / QTcF interval",
    "QTCB": "QTcB 间期 / QTcB interval",
}
ULN_UNIT = "x ULN"

# Band sets that grade a subject whose baseline is normal or absent: the ones a chart can draw for everyone.
# Sets conditioned on an abnormal baseline (x baseline bands) depend on the subject, so they are not drawn.
_UNCONDITIONAL = frozenset({"always", "baseline_not_above_uln", "baseline_not_below_lln"})
# Scales a chart can draw a fixed band on: absolute SI values or multiples of the record's own ULN. LLN-based
# bands (CTCAE v5 grade 1 of the blood counts starts at the laboratory's LLN, which varies) are not drawn.
_DRAWABLE = ("abs", "uln")


class GradeBand(BaseModel):
    """Values beyond ``threshold`` in ``direction`` (``low``: below it, ``high``: above it) have at least
    ``grade`` under ``term``; thresholds are in the chart's display scale."""

    model_config = ConfigDict(frozen=True)

    grade: int
    threshold: float
    direction: Literal["low", "high"]
    term: str


class LabScale(BaseModel):
    """How the timeline draws one test under the loaded criteria: its terms, scale, unit and grade bands.

    A test graded under two terms (potassium: Hypokalemia and Hyperkalemia) has bands in both directions.
    """

    model_config = ConfigDict(frozen=True)

    test: str
    terms: list[str]
    ctcae_version: str
    scale: Literal["si", "uln"]
    unit: str
    bands: list[GradeBand]


def timeline_tests(criteria: Criteria) -> list[str]:
    """The tests the criteria grade, in the order the subject page charts them."""
    return [t for t in TIMELINE_TESTS if t in criteria.by_test] + [
        t for t in criteria.by_test if t not in TIMELINE_TESTS
    ]


def lab_scale(criteria: Criteria, test: str) -> LabScale:
    """The chart of ``test`` from the criteria: every term of the test, with the bands of its sets that apply
    without an abnormal baseline; scale = the reference (absolute or x ULN) most of those bands use.

    So CTCAE v6 (NEUT grade 4 < 0.1, PLAT named Thrombocytopenia) is drawn as soon as a study selects it.
    """
    si_unit = criteria.units.si.get(test, "")
    terms = criteria.by_test.get(test, ())
    drawn = [
        (term, [b for s in term.sets if s.measure == "value" and s.applies in _UNCONDITIONAL for b in s.bands])
        for term in terms
    ]
    counts = {of: sum(1 for _, bands in drawn for b in bands if b.of == of) for of in _DRAWABLE}
    of = max(_DRAWABLE, key=lambda k: counts[k])
    out: list[GradeBand] = []
    for term, bands in drawn if counts[of] else ():
        starts: dict[tuple[int, bool], float] = {}
        for band in bands:
            if band.of != of:
                continue
            key = (band.grade, band.high)
            known = starts.get(key)
            # a grade spelled by several bands starts where the first of them is met
            starts[key] = band.value if known is None else (min if band.high else max)(known, band.value)
        out += [
            GradeBand(grade=grade, threshold=value, direction="high" if high else "low", term=term.term)
            for (grade, high), value in sorted(starts.items())
        ]
    uln = of == "uln" and counts[of] > 0
    return LabScale(
        test=test,
        terms=list(dict.fromkeys(term.term for term in terms)),
        ctcae_version=criteria.version,
        scale="uln" if uln else "si",
        unit=ULN_UNIT if uln else si_unit,
        bands=out,
    )


class LabPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    study_day: int
    value: float  # in the display scale (SI unit or x ULN)
    reported: str  # value and unit as reported
    grade: int | None  # the worst grade of this revision under any of the test's terms
    term: str | None = None  # the term of that grade
    alert_id: str | None = None  # the alert this value was raised on, if any


class LabSeries(BaseModel):
    model_config = ConfigDict(frozen=True)

    test: str
    label: str
    unit: str
    bands: list[GradeBand]
    baseline: float | None
    points: list[LabPoint]
    terms: list[str] = []
    ctcae_version: str | None = None

    @property
    def worst_grade(self) -> int | None:
        grades = [p.grade for p in self.points if p.grade is not None]
        return max(grades) if grades else None


class Marker(BaseModel):
    """Something that happened to the subject on ``study_day``; an adverse event lasts to ``end_day`` (None:
    not ended yet). ``alert_id``: the alert raised on it (for an ``alert`` marker, the alert itself)."""

    model_config = ConfigDict(frozen=True)

    study_day: int
    kind: Literal["infusion", "transfusion", "adverse_event", "death", "alert"]
    label: str
    grade: int | None = None
    end_day: int | None = None
    alert_id: str | None = None


class SubjectTimeline(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject_id: str
    study_id: str
    day0: date | None
    series: list[LabSeries]
    markers: list[Marker]
    alerts: list[AlertStatus]


def _shown(reading: tuple[float, float | None] | None, scale: str) -> float | None:
    if reading is None:
        return None
    value, uln = reading
    if scale == "uln":
        return value / uln if uln else None  # the record's own ULN; none (or 0) -> not drawable
    return value


def _alert_of_event(statuses: Sequence[AlertStatus]) -> dict[str, str]:
    """event_id -> the alert raised on it: the earliest one not withdrawn, else the earliest withdrawn one."""
    out: dict[str, str] = {}
    for st in sorted(statuses, key=lambda s: (s.withdrawn_at is not None, s.alert.raised_at, s.alert.alert_id)):
        if st.alert.kind == "STOPPING_BOUNDARY":
            continue
        for event_id in st.alert.event_ids:
            out.setdefault(event_id, st.alert.alert_id)
    return out


def _series(
    test: str,
    mine: Sequence[Any],
    graded: Sequence[GradedObservation],
    criteria: Criteria,
    first: Any,
    day0: date | None,
    tz: tzinfo,
    alert_of: dict[str, str],
    limit: int,
) -> LabSeries | None:
    labs = sorted((e for e in mine if plotted(e, test)), key=lambda e: e.occurred_at)
    if not labs:
        return None
    scale = lab_scale(criteria, test)
    rows = graded_by_event(graded, test)
    baseline = None
    points = []
    for lab in labs:
        own = rows.get(lab.event_id, [])
        shown = _shown(si_reading(lab, own, criteria.units), scale.scale)
        if first is not None and lab.occurred_at < first:
            baseline = shown
        day = _study_day(lab.occurred_at, day0, tz)
        if shown is None or day is None:
            continue
        graded_rows = [r for r in own if r.revision == lab.revision and r.grade is not None]
        worst = max(graded_rows, key=lambda r: r.grade or 0, default=None)
        points.append(
            LabPoint(
                event_id=lab.event_id,
                study_day=day,
                value=round(shown, 6),
                reported=f"{lab.value.text()} {lab.unit or ''}".strip(),
                grade=None if worst is None else worst.grade,
                term=None if worst is None else worst.ctcae_term,
                alert_id=alert_of.get(lab.event_id),
            )
        )
    return LabSeries(
        test=test,
        label=TIMELINE_LABELS.get(test, scale.terms[0] if scale.terms else test),
        unit=scale.unit,
        bands=list(scale.bands),
        baseline=None if baseline is None else round(baseline, 6),
        points=points[-limit:],
        terms=scale.terms,
        ctcae_version=scale.ctcae_version,
    )


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
    """Every test the criteria grade that the subject has values of, by study day, with baseline and grade bands;
    infusions, transfusions, adverse events (onset to end), death and alerts as markers.

    Bands, scale, unit and terms come from ``criteria`` (``lab_scale``); values are SI (from the graded rows,
    else converted with the criteria's unit table) or multiples of the record's own ULN. Day 0 and the
    baseline follow docs/rules.md (Time; "Baseline and treatment-emergent"): the first infusion's local date, and
    the last value before the first infusion's ``occurred_at`` (None when that value cannot be shown: unknown
    unit, or no ULN on a x ULN scale). Only final/corrected lab results are plotted; a point's grade is the worst
    of its graded rows for this revision, under any of the test's terms.
    """
    mine = [e for e in events if e.subject_id == subject_id]
    infusions = sorted((e for e in mine if isinstance(e, Infusion)), key=lambda e: e.occurred_at)
    first = infusions[0].occurred_at if infusions else None
    day0 = first.astimezone(tz).date() if first else None
    graded_mine = [g for g in graded if g.subject_id == subject_id]
    mine_alerts = [s for s in statuses if s.alert.subject_id == subject_id]
    alert_of = _alert_of_event(mine_alerts)
    series = [
        s
        for s in (
            _series(test, mine, graded_mine, criteria, first, day0, tz, alert_of, limit)
            for test in timeline_tests(criteria)
        )
        if s is not None
    ]
    markers: list[Marker] = []
    for inf in infusions:
        day = _study_day(inf.occurred_at, day0, tz)
        if day is not None:
            markers.append(
                Marker(
                    study_day=day,
                    kind="infusion",
                    label=f"输注 / Infusion #{inf.infusion_number}",
                    alert_id=alert_of.get(inf.event_id),
                )
            )
    for e in mine:
        day = _study_day(e.occurred_at, day0, tz)
        if day is None:
            continue
        if isinstance(e, AdverseEvent):
            end = None if e.ended_at is None else _study_day(e.ended_at, day0, tz)
            markers.append(
                Marker(
                    study_day=day,
                    kind="adverse_event",
                    label=f"AE: {ctcae_term(e.ctcae_term, criteria) or UNCODED_TERM} G{e.grade}",
                    grade=e.grade,
                    end_day=end,
                    alert_id=alert_of.get(e.event_id),
                )
            )
        elif isinstance(e, Transfusion):
            markers.append(
                Marker(
                    study_day=day,
                    kind="transfusion",
                    label=f"输血 / Transfusion {e.product} x{e.units:g}",
                    alert_id=alert_of.get(e.event_id),
                )
            )
        elif isinstance(e, Death):
            markers.append(
                Marker(study_day=day, kind="death", label="死亡 / Death", grade=5, alert_id=alert_of.get(e.event_id))
            )
    for st in mine_alerts:
        if st.alert.study_day is not None and st.alert.kind != "STOPPING_BOUNDARY":
            markers.append(
                Marker(
                    study_day=st.alert.study_day,
                    kind="alert",
                    label=f"{st.alert.kind} {st.alert.rule_id}",
                    grade=st.alert.grade,
                    alert_id=st.alert.alert_id,
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


__all__ = [
    "EARLY_DAYS",
    "GradeBand",
    "LabPoint",
    "LabScale",
    "LabSeries",
    "Marker",
    "SUBJECT_POINTS_LIMIT",
    "SubjectTimeline",
    "TIMELINE_LABELS",
    "TIMELINE_TESTS",
    "ULN_UNIT",
    "lab_scale",
    "subject_timeline",
    "timeline_tests",
]
