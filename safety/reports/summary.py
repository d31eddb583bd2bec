"""The report the pages, the ethics feed and ``safety report`` share, and its public JSON form (the safety summary)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict

from safety.model.events import DEFAULT_TZ
from safety.reports.completeness import VisitTally, completeness_of
from safety.reports.inputs import read_acks, read_alerts, read_events
from safety.reports.listings import ListingRow, line_listing, listing_record
from safety.reports.overview import Overview, StoppingParams, overview
from safety.reports.status import AlertStatus, alert_statuses
from safety.rules.schedule import Schedule

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
    return Report(
        overview=overview(evs, sts, study_id=study_id, generated_at=generated_at, stopping=stopping),
        statuses=sts,
        listing=line_listing(sts, evs, generated_at),
        subjects=subject_ids(evs),
        rules_version=versions[-1] if versions else None,
        completeness=completeness_of(evs, schedule, tz, generated_at) if schedule is not None else [],
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
        "stopping_probability": None if ov.stopping_probability is None else round(ov.stopping_probability, 6),
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
        "data_completeness": [tally.record() for tally in report.completeness],
    }


def _rate(x: int, n: int) -> float | None:
    return None if n == 0 else round(x / n, 6)


def subject_ids(events: Sequence[Any]) -> list[str]:
    return sorted({e.subject_id for e in events})


__all__ = [
    "FEED_KINDS",
    "Report",
    "SUMMARY_FORMAT_VERSION",
    "build_report",
    "subject_ids",
    "summary_document",
]
