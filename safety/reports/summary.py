"""The report the pages, the ethics feed and ``safety report`` share, its public JSON form (the safety summary) and
the printable summary's view (``summary_view``: what the HTML and the A4 PDF lay out, every code in words).

A filed summary must say what data it covers: ``data_cutoff`` is the time of the latest event included (recorded,
else occurred), stated beside the time the document was made. Beside the stopping rule's current posterior it
states when the boundary was crossed and at which x of n, so "crossed" next to a small posterior reads as what it is:
the rule fired earlier, and later subjects without a DLT lowered the posterior since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from safety.documents.sae_report import OUTCOME_LABELS
from safety.model.events import DEFAULT_TZ
from safety.reports.completeness import VisitTally, completeness_of
from safety.reports.inputs import read_acks, read_alerts, read_events
from safety.reports.listings import ListingRow, line_listing, listing_record
from safety.reports.overview import Overview, StoppingParams, overview
from safety.reports.status import AlertStatus, alert_statuses
from safety.rules.schedule import Schedule
from safety.vocab import Causality, Seriousness

SUMMARY_FORMAT_VERSION = "1"
FEED_KINDS = ("SAE", "SUSAR", "DLT", "STOPPING_BOUNDARY")  # the alerts the ethics committee's feed carries


class Report(BaseModel):
    """Everything the reports and pages show, built once from the inputs."""

    model_config = ConfigDict(frozen=True)

    overview: Overview
    statuses: list[AlertStatus]
    listing: list[ListingRow]
    subjects: list[str] = []
    rules_version: str | None = None
    completeness: list[VisitTally] = []  # per group and visit: subjects due and complete (given a schedule)
    data_cutoff: datetime | None = None  # the latest event included (recorded_at, else occurred_at)


class Crossing(BaseModel):
    """When the stopping boundary was first crossed, at which x of n, and the posterior then."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    x: int
    n: int
    probability: float | None


def build_report(
    events: Iterable[Any],
    alerts: Iterable[Any],
    acks: Iterable[Any] = (),
    *,
    study_id: str,
    generated_at: datetime,
    stopping: StoppingParams | None = None,
    tz: tzinfo = DEFAULT_TZ,
    schedule: Schedule | None = None,
) -> Report:
    """The one entry point the pages, the feed and ``safety report`` share.

    ``generated_at`` is kept in the study's zone ``tz``: the documents print every time in the zone of
    ``overview.generated_at`` (streams/web/times.py). With the study's ``schedule`` the report states data
    completeness per visit at ``generated_at`` (safety/reports/completeness.py)."""
    generated_at = generated_at.astimezone(tz)  # every document shows its times in this one zone
    evs = [e for e in read_events(events, tz) if e.study_id == study_id]
    als = [a for a in read_alerts(alerts) if a.study_id == study_id]
    sts = alert_statuses(als, read_acks(acks))
    versions = sorted({a.rules_version for a in als})
    times = [e.recorded_at or e.occurred_at for e in evs]
    return Report(
        overview=overview(evs, sts, study_id=study_id, generated_at=generated_at, stopping=stopping),
        statuses=sts,
        listing=line_listing(sts, evs, generated_at),
        subjects=subject_ids(evs),
        rules_version=versions[-1] if versions else None,
        data_cutoff=max(times).astimezone(tz) if times else None,
        completeness=completeness_of(evs, schedule, tz, generated_at) if schedule is not None else [],
    )


def crossing(report: Report) -> Crossing | None:
    """The first crossing: the STOPPING_BOUNDARY alert's own basis (x, n, probability: safety/study.py), else the
    first point of the incidence series past the boundary; None when the boundary was never crossed."""
    alerts = sorted(
        (s.alert for s in report.statuses if s.alert.kind == "STOPPING_BOUNDARY" and s.state != "withdrawn"),
        key=lambda a: a.raised_at,
    )
    for a in alerts:
        basis = a.basis or {}
        x, n, p = basis.get("x"), basis.get("n"), basis.get("probability")
        if isinstance(x, int) and isinstance(n, int):
            return Crossing(at=a.raised_at, x=x, n=n, probability=p if isinstance(p, (int, float)) else None)
    point = next((p for p in report.overview.series if p.crossed), None)
    if point is None:
        return None
    return Crossing(at=point.at, x=point.with_dlt, n=point.infused, probability=point.probability)


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
        "stopping_probability": None if ov.stopping_probability is None else round(ov.stopping_probability, 6),
        "stopping_boundary_crossed": ov.stopping_boundary_crossed,
        "stopping_crossing": _crossing_record(crossing(report)),
        "data_cutoff": None if report.data_cutoff is None else report.data_cutoff.isoformat(),
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
        "data_completeness": [tally.record() for tally in report.completeness],
    }


def _crossing_record(c: Crossing | None) -> dict[str, Any] | None:
    if c is None:
        return None
    p = None if c.probability is None else round(c.probability, 6)
    return {"at": c.at.isoformat(), "x": c.x, "n": c.n, "probability": p}


def _rate(x: int, n: int) -> float | None:
    return None if n == 0 else round(x / n, 6)


def subject_ids(events: Sequence[Any]) -> list[str]:
    return sorted({e.subject_id for e in events})


Label = tuple[str, str]  # (Chinese, English)
SERIOUSNESS_LABELS: Final[dict[Seriousness, Label]] = {
    "death": ("死亡", "Death"),
    "life_threatening": ("危及生命", "Life-threatening"),
    "hospitalization": ("住院或延长住院", "Hospitalised"),
    "disability": ("残疾或功能丧失", "Disability"),
    "congenital_anomaly": ("先天畸形", "Congenital anomaly"),
    "medically_important": ("其他重要医学事件", "Medically important"),
}
"""Every ICH E2A criterion of safety/vocab.py in words (the summary never prints a code)."""
CAUSALITY_LABELS: Final[dict[Causality, Label]] = {
    "related": ("肯定有关", "Related"),
    "probable": ("很可能有关", "Probably related"),
    "possible": ("可能有关", "Possibly related"),
    "unlikely": ("可能无关", "Unlikely related"),
    "unrelated": ("肯定无关", "Not related"),
    "unassessable": ("无法评价", "Cannot be assessed"),
}
"""Every causality of safety/vocab.py in words: the Chinese five-level scale and its sixth answer."""
EXPECTEDNESS_LABELS: Final[dict[str, Label]] = {
    "expected": ("预期", "Expected"),
    "unexpected": ("非预期", "Unexpected"),
}
STATUS_LABELS: Final[dict[str, Label]] = {
    "open": ("未确认", "Open"),
    "acknowledged": ("已确认", "Acknowledged"),
    "withdrawn": ("已撤回", "Withdrawn"),
}
NONE_TEXT: Final = "–"


class SummaryView(BaseModel):
    """The printable safety summary as text: bilingual labels, every value in words, times written by the caller.

    The HTML (streams/web/ethics.py) and the A4 PDF (streams/documents/summary_pdf.py) lay out this one model, so
    the two never disagree. A cell's ``(zh, en)`` pair is printed on two lines; a value with no Chinese form (a
    number, a time, a CTCAE term) has the same text twice and prints once.
    """

    model_config = ConfigDict(frozen=True)

    study_id: str
    title: Label
    generated_at: str
    data_cutoff: str
    rules_version: str
    stats: list[tuple[Label, str, str]]  # (label, value, test id)
    crossed: bool
    heads: list[Label]
    widths: list[int]  # relative column widths of the listing (the PDF's, in mm of the A4 page's 186)
    rows: list[list[Label]]


def _same(text: str) -> Label:
    return (text, text)


def _labels(codes: Iterable[str], table: dict[Any, Label]) -> Label:
    """Several codes (a list of seriousness criteria) as one cell: each in words, one per line."""
    words = [table.get(c, (c, c)) for c in codes]
    if not words:
        return _same(NONE_TEXT)
    return ("、".join(w[0] for w in words), "; ".join(w[1] for w in words))


def _status(r: ListingRow) -> Label:
    zh, en = STATUS_LABELS.get(r.status, (r.status, r.status))
    if r.overdue:
        zh, en = zh + "，报告逾期", en + ", report overdue"
    if r.late:
        zh, en = zh + "，报告迟交", en + ", report late"
    return (zh, en)


def _pct_ci(ci: tuple[float, float] | None) -> str:
    return NONE_TEXT if ci is None else f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def summary_view(report: Report, when: Callable[[datetime | None], str]) -> SummaryView:
    """The summary's numbers and its SAE/SUSAR line listing in words; ``when`` writes a time (the documents show
    every time in the study's zone: streams/web/times.py)."""
    ov = report.overview
    p = ov.stopping_probability
    cross = crossing(report)
    if cross is None:
        crossing_text: Label = ("未越过", "Not crossed")
    else:
        at_p = "" if cross.probability is None else f", P = {cross.probability:.3f}"
        crossing_text = (
            f"已于 {when(cross.at)} 越过（{cross.n} 例中 {cross.x} 例 DLT{at_p}）",
            f"Crossed on {when(cross.at)} at {cross.x} of {cross.n} subjects with a DLT{at_p}",
        )
    stats: list[tuple[Label, str, str]] = [
        (("已入组", "Subjects enrolled"), str(ov.subjects_enrolled), "subjects-enrolled"),
        (("已输注", "Subjects infused"), str(ov.subjects_infused), "subjects-infused"),
        (("发生 DLT 的受试者", "Subjects with DLT"), str(ov.subjects_with_dlt), "subjects-with-dlt"),
        (("DLT 率 95% CI (Clopper-Pearson)", "DLT rate 95% CI"), _pct_ci(ov.dlt_rate_ci95), "dlt-ci"),
        (("发生 SAE 的受试者", "Subjects with SAE"), str(ov.subjects_with_sae), "subjects-with-sae"),
        (("SAE 发生率 95% CI", "SAE incidence 95% CI"), _pct_ci(ov.sae_rate_ci95), "sae-ci"),
        (
            (
                f"当前后验概率 P(DLT率 > {ov.stopping.threshold:g})",
                f"Current posterior P(DLT rate > {ov.stopping.threshold:g})",
            ),
            f"未评估 / not evaluated (n < {ov.stopping.min_n})"
            if p is None
            else f"{p:.3f} ({ov.subjects_with_dlt} / {ov.subjects_infused})",
            "stopping-probability",
        ),
        (
            (f"停止界值 {ov.stopping.probability:g}", f"Stopping boundary {ov.stopping.probability:g}"),
            f"{crossing_text[0]}\n{crossing_text[1]}" if crossing_text[0] != crossing_text[1] else crossing_text[0],
            "stopping-crossed",
        ),
        (("逾期报告", "Overdue reports"), str(ov.overdue_reports), "overdue-reports"),
    ]
    heads: list[Label] = [
        ("类型", "Kind"),
        ("受试者", "Subject"),
        ("研究日", "Day"),
        ("术语", "Term"),
        ("分级", "Grade"),
        ("严重性", "Seriousness"),
        ("因果", "Causality"),
        ("预期性", "Expected"),
        ("转归", "Outcome"),
        ("报告期限", "Report due"),
        ("已提交", "Submitted"),
        ("状态", "Status"),
    ]
    rows = [
        [
            _same(r.kind),  # SAE and SUSAR are the forms' own abbreviations
            _same(r.subject_id),
            _same(NONE_TEXT if r.study_day is None else str(r.study_day)),
            _same(r.term or NONE_TEXT),
            _same(NONE_TEXT if r.grade is None else str(r.grade)),
            _labels(r.seriousness, SERIOUSNESS_LABELS),
            _labels([r.causality] if r.causality else [], CAUSALITY_LABELS),
            EXPECTEDNESS_LABELS.get(r.expectedness, _same(NONE_TEXT)),
            _outcome(r.outcome),
            _same(when(r.report_due_at) or NONE_TEXT),
            _same(when(r.submitted_at) or NONE_TEXT),
            _status(r),
        ]
        for r in report.listing
    ]
    return SummaryView(
        study_id=ov.study_id,
        title=(f"{ov.study_id} 安全性汇总", f"{ov.study_id} Safety summary"),
        generated_at=when(ov.generated_at),
        data_cutoff=when(report.data_cutoff) or NONE_TEXT,
        rules_version=report.rules_version or NONE_TEXT,
        stats=stats,
        crossed=cross is not None or ov.stopping_boundary_crossed,
        heads=heads,
        widths=[10, 13, 9, 20, 10, 20, 17, 16, 16, 18, 17, 20],
        rows=rows,
    )


def _outcome(code: str | None) -> Label:
    if code is None:
        return _same(NONE_TEXT)
    b = OUTCOME_LABELS.get(code)
    return (b.zh, b.en) if b is not None else _same(code)


__all__ = [
    "CAUSALITY_LABELS",
    "FEED_KINDS",
    "SERIOUSNESS_LABELS",
    "Crossing",
    "Report",
    "SUMMARY_FORMAT_VERSION",
    "SummaryView",
    "build_report",
    "crossing",
    "subject_ids",
    "summary_document",
    "summary_view",
]
