"""One subject's timeline: NEUT, PLAT, HGB, ALT, BILI and CREAT by study day, with baseline, grade bands drawn from
the loaded criteria, infusions, adverse events and alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from safety.coding import UNCODED_TERM, ctcae_term
from safety.model.events import DEFAULT_TZ, AdverseEvent, Infusion
from safety.model.outputs import GradedObservation
from safety.model.studyday import study_day as _study_day
from safety.reports.labs import graded_by_event, plotted, si_reading
from safety.reports.status import AlertStatus
from safety.rules.ctcae import Criteria

SUBJECT_POINTS_LIMIT = 400  # per test and subject: the pages stay bounded whatever the follow-up length

# Presentation only: the tests the subject page charts, in this order, under these bilingual titles. What
# the chart draws for a test (term, scale, unit, grade bands) is read from the loaded criteria
# (rules/ctcae_v*.yaml, rules/units.yaml) by ``lab_scale``; no threshold or unit factor lives here
# (docs/rules.md: the numbers are data in rules/).
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
        bands = [b for s in term.sets if s.measure == "value" and s.applies in _UNCONDITIONAL for b in s.bands]
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
    baseline follow docs/rules.md (Time; "Baseline and treatment-emergent"): the first infusion's local date, and
    the last value before the first infusion's ``occurred_at`` (None when that value cannot be shown: unknown
    unit, or no ULN on a x ULN scale). Only final/corrected results are plotted; a point's grade is its graded
    row's for the drawn term.
    """
    mine = [e for e in events if e.subject_id == subject_id]
    infusions = sorted((e for e in mine if isinstance(e, Infusion)), key=lambda e: e.occurred_at)
    first = infusions[0].occurred_at if infusions else None
    day0 = first.astimezone(tz).date() if first else None
    graded_mine = [g for g in graded if g.subject_id == subject_id]
    series = []
    for test in TIMELINE_TESTS:
        scale = lab_scale(criteria, test)
        rows = graded_by_event(graded_mine, test)
        labs = sorted((e for e in mine if plotted(e, test)), key=lambda e: e.occurred_at)
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
            grade = next((r.grade for r in own if r.ctcae_term == scale.term and r.revision == lab.revision), None)
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
            markers.append(Marker(study_day=day, kind="infusion", label=f"输注 / Infusion #{inf.infusion_number}"))
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


__all__ = [
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
]
