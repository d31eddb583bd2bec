"""The ethics committee's documents: an Atom 1.0 feed (RFC 4287) and CSV / HTML renderings of the summary.

Pure functions of a ``safety.reports.Report``; the feed and the HTML are the templates ``ethics.atom`` and
``summary.html`` (streams/web/templating.py states how each format is escaped), the CSV is written by the csv
module. The feed has one entry per SAE, SUSAR, DLT and
STOPPING_BOUNDARY alert; an entry's ``<updated>`` moves when the alert is acknowledged, withdrawn or its
ethics report is marked submitted, so a feed reader shows the change. Ids are ``urn:uuid`` values derived
from the alert_id (uuid5), so they are the same after a restart, a replay or on another worker: a reader
never sees an entry twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, tzinfo

from safety.coding import alert_term
from safety.reports import (
    FEED_KINDS,
    LISTING_COLUMNS,
    AlertStatus,
    Report,
    listing_record,
    summary_document,
    summary_view,
)
from safety.reports.completeness import summary_lines
from streams.documents.store import CaseIndex, feed_documents
from streams.web.templating import csv_text, render
from streams.web.times import shown, stamp

# Fixed namespace of this service's feed ids (never change it: ids must stay stable across releases).
FEED_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-5b7a-9c41-2e5d7f0a9b13")
KIND_LABELS = {
    "SAE": "严重不良事件 / Serious adverse event",
    "SUSAR": "可疑且非预期严重不良反应 / SUSAR",
    "DLT": "剂量限制性毒性 / Dose-limiting toxicity",
    "STOPPING_BOUNDARY": "达到停止界值 / Stopping boundary crossed",
}
SUBTITLE = "SAE, SUSAR, DLT 与停止界值警报 / SAE, SUSAR, DLT and stopping-boundary alerts"
STATE_LABELS = {
    "open": "未确认 / open",
    "acknowledged": "已确认 / acknowledged",
    "withdrawn": "已撤回 / withdrawn",
}


def entry_id(alert_id: str) -> str:
    """Stable Atom id of an alert's entry: the same alert_id always gives the same urn:uuid."""
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, 'alert:' + alert_id)}"


def feed_id(study_id: str) -> str:
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, 'feed:' + study_id)}"


def entry_title(st: AlertStatus) -> str:
    a = st.alert
    day = "" if a.study_day is None else f" D{a.study_day}"
    shown = alert_term(a)
    term = f" {shown}" if shown else ""
    grade = "" if a.grade is None else f" G{a.grade}"
    suffix = "" if st.state == "open" else f" [{STATE_LABELS[st.state]}]"
    late = " [迟交 / submitted late]" if st.late else ""
    return f"{a.kind} {a.subject_id}{day}{term}{grade}{suffix}{late}"


def entry_facts(
    st: AlertStatus, tz: tzinfo | None, when: Callable[[datetime | None, tzinfo | None], str] = stamp
) -> list[tuple[str, str]]:
    """(label, value) of an entry, Chinese first then English; subject code only, never another identifier.

    Every acknowledgement and submission is listed with who, when, what they concluded and the committee's
    reference, times in the one zone ``tz``, written by ``when`` (streams/web/times.py: RFC 3339 in the feed,
    the pages' form on a page)."""
    a = st.alert
    facts = [
        ("类型 / Kind", KIND_LABELS.get(str(a.kind), str(a.kind))),
        ("受试者 / Subject", a.subject_id),
        ("研究日 / Study day", "" if a.study_day is None else str(a.study_day)),
        ("术语 / Term", alert_term(a) or ""),
        ("分级 / Grade", "" if a.grade is None else str(a.grade)),
        ("规则 / Rule", a.rule_id),
        ("发出 / Raised", when(a.raised_at, tz)),
        ("报告期限 / Report due", when(a.report_due_at, tz)),
        ("状态 / Status", STATE_LABELS[st.state]),
    ]
    for r in st.records:
        who = f"{r.by or ''} ({r.role})" if r.role and r.role != r.by else (r.by or "")
        if r.action == "acknowledged":
            text = f"{who}, {when(r.at, tz)}: {r.conclusion or ''}"
            if r.causality:
                text += f" (因果 / causality: {r.causality})"
            facts.append(("确认 / Acknowledged", text))
        else:
            ref = f", 受理号 / reference {r.reference}" if r.reference else ""
            facts.append(("已提交伦理委员会 / Submitted to the ethics committee", f"{who}, {when(r.at, tz)}{ref}"))
    if st.late:
        facts.append(("迟交 / Late", "报告晚于期限提交 / the report was submitted after its due time"))
    if st.withdrawn_at:
        facts.append(("撤回 / Withdrawn", f"{when(st.withdrawn_at, tz)} ({st.withdrawn_reason or ''})"))
    if a.basis and a.kind == "STOPPING_BOUNDARY":
        facts.append(("依据 / Basis", json.dumps(a.basis, ensure_ascii=False, sort_keys=True)))
    return facts


def feed_entries(report: Report) -> list[AlertStatus]:
    """The feed's alerts (``FEED_KINDS``), the latest change first."""
    return sorted(
        (s for s in report.statuses if s.alert.kind in FEED_KINDS),
        key=lambda s: (s.updated, s.alert.alert_id),
        reverse=True,
    )


def atom_feed(
    report: Report,
    *,
    base_url: str | None = None,
    title: str | None = None,
    documents: Callable[[str], CaseIndex | None] | None = None,
) -> str:
    """The ethics committee feed (Atom 1.0); ``base_url`` adds self/alternate links (served by the worker): an
    entry's alternate is the alert's page, which the ethics role may open. Times are in the report's zone.

    ``documents`` (the worker's: streams/documents/store.py) gives an SAE or SUSAR alert's case: its entry then
    lists every version of the documents and links each file (``related``), and a new version updates the entry."""
    ov = report.overview
    tz = ov.generated_at.tzinfo
    cases = {s.alert.alert_id: documents(s.alert.alert_id) if documents else None for s in report.statuses}
    entries = feed_entries(report)
    updated = max((_updated(s, cases.get(s.alert.alert_id)) for s in entries), default=ov.generated_at)
    return render(
        "ethics.atom",
        id=feed_id(ov.study_id),
        title=title or f"{ov.study_id} 安全性报告 / Safety reports",
        subtitle=SUBTITLE,
        updated=stamp(updated, tz),
        root=base_url.rstrip("/") if base_url else None,
        entries=[
            {
                "id": entry_id(st.alert.alert_id),
                "alert_id": st.alert.alert_id,
                "title": entry_title(st),
                "updated": stamp(_updated(st, cases.get(st.alert.alert_id)), tz),
                "published": stamp(st.alert.raised_at, tz),
                "kind": str(st.alert.kind),
                "kind_label": KIND_LABELS.get(str(st.alert.kind), ""),
                "state": st.state,
                "late": st.late,
                "text": "\n".join(
                    f"{k}: {v}" for k, v in entry_facts(st, tz) + _document_facts(cases.get(st.alert.alert_id), tz)
                ),
                "documents": feed_documents(cases.get(st.alert.alert_id), st.alert.alert_id),
            }
            for st in entries
        ],
    )


def _updated(st: AlertStatus, case: CaseIndex | None) -> datetime:
    """An entry changes with its alert and with each new version of its documents."""
    times = [st.updated] + [datetime.fromisoformat(v.report_date) for v in (case.versions if case else ())]
    return max(times)


def _document_facts(case: CaseIndex | None, tz: tzinfo | None) -> list[tuple[str, str]]:
    return [
        (f"文件 / Documents v{v.version}", f"{v.report_type}, {stamp(datetime.fromisoformat(v.report_date), tz)}")
        for v in (case.versions if case else ())
    ]


def summary_json(report: Report) -> str:
    """The public safety-summary JSON (keys in ``summary_document``); Chinese is kept readable (UTF-8)."""
    return json.dumps(summary_document(report), ensure_ascii=False, indent=2) + "\n"


def summary_csv(report: Report) -> str:
    """The SAE/SUSAR line listing as CSV (RFC 4180), header ``LISTING_COLUMNS``, one row per alert, written
    through the one CSV policy (streams/web/templating.py ``csv_text``): the committee opens it in a spreadsheet."""
    records = (listing_record(row) for row in report.listing)
    return csv_text(LISTING_COLUMNS, ([r[c] for c in LISTING_COLUMNS] for r in records))


def summary_html(report: Report, stylesheet: str | None = None, pdf: str | None = None) -> str:
    """A self-contained, printable HTML summary for filing (no script, no external resource); on the worker,
    ``stylesheet`` names the served style sheet instead of an inline one (streams/web/guard.py, the CSP) and
    ``pdf`` links the A4 PDF of the same summary (streams/documents/summary_pdf.py). It lays out the one view the
    PDF lays out (safety.reports.summary_view): codes in words, times in the study's zone."""
    tz = report.overview.generated_at.tzinfo
    return render(
        "summary.html",
        view=summary_view(report, lambda t: shown(t, tz)),
        stylesheet=stylesheet,
        pdf=pdf,
        completeness=summary_lines(report.completeness),
    )
