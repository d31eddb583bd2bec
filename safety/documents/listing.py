"""The cumulative line listing of SAEs and SUSARs for a period (the DSUR-style table the ethics committee takes).

One row per case reported in the period: a case is in it when one of its versions was reported between ``start``
and ``end`` (dates in the study's time zone, both included), and the row shows what the case said at the end of the
period (its latest version reported by then). Values are coded, as in every document: subject code, CTCAE term,
coded outcome, the site's causality wording; never free text from a feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Final

from safety.documents.case import Case
from safety.documents.sae_report import OUTCOME_LABELS, SERIOUSNESS_LABELS

COLUMNS: Final = (
    "subject_id",
    "case_id",
    "term",
    "onset",
    "grade",
    "seriousness",
    "causality",
    "related",
    "expectedness",
    "susar",
    "outcome",
    "first_reported",
    "last_reported",
    "versions",
    "report_type",
)
HEADINGS: Final = {
    "subject_id": "受试者 / Subject",
    "case_id": "病例编号 / Case",
    "term": "术语 / Term (CTCAE)",
    "onset": "发生 / Onset",
    "grade": "分级 / Grade",
    "seriousness": "严重性 / Seriousness",
    "causality": "因果 / Causality",
    "related": "相关 / Related",
    "expectedness": "预期性 / Expectedness",
    "susar": "SUSAR",
    "outcome": "转归 / Outcome",
    "first_reported": "首次报告 / First reported",
    "last_reported": "最近报告 / Last reported",
    "versions": "版本数 / Versions",
    "report_type": "报告类型 / Report type",
}


@dataclass(frozen=True)
class ListingRow:
    values: dict[str, str]


def _yes_no(flag: bool | None) -> str:
    return "" if flag is None else "yes" if flag else "no"


def line_listing(cases: Sequence[Case], start: date, end: date, tz: tzinfo) -> list[ListingRow]:
    """The cases reported from ``start`` to ``end`` (inclusive), by onset, then subject and case id."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    rows: list[tuple[tuple[str, str, str], ListingRow]] = []
    for case in cases:
        reported = [v.report_date.astimezone(tz).date() for v in case.versions]
        if not any(start <= d <= end for d in reported):
            continue
        by_end = [v for v, d in zip(case.versions, reported, strict=True) if d <= end]
        last = by_end[-1]
        values = {
            "subject_id": last.subject_code,
            "case_id": case.case_id,
            "term": last.ctcae_term,
            "onset": f"{last.onset.astimezone(tz):%Y-%m-%d}",
            "grade": str(last.grade),
            "seriousness": "; ".join(SERIOUSNESS_LABELS[s].en for s in last.seriousness),
            "causality": last.causality_wording.en if last.causality_wording else "",
            "related": _yes_no(last.related),
            "expectedness": "" if last.expected is None else "expected" if last.expected else "unexpected",
            "susar": _yes_no(last.susar),
            "outcome": OUTCOME_LABELS[last.outcome].en if last.outcome else "",
            "first_reported": f"{last.first_known.astimezone(tz):%Y-%m-%d}",
            "last_reported": f"{last.report_date.astimezone(tz):%Y-%m-%d}",
            "versions": str(len(by_end)),
            "report_type": last.report_kind,
        }
        rows.append(((values["onset"], values["subject_id"], case.case_id), ListingRow(values)))
    return [row for _, row in sorted(rows, key=lambda r: r[0])]
