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
from typing import Any

from safety.coding import alert_term
from safety.reports import FEED_KINDS, LISTING_COLUMNS, AlertStatus, Report, listing_record, summary_document
from safety.reports.completeness import summary_lines
from streams.web.templating import csv_text, render
from streams.web.times import stamp

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


def atom_feed(report: Report, *, base_url: str | None = None, title: str | None = None) -> str:
    """The ethics committee feed (Atom 1.0); ``base_url`` adds self/alternate links (served by the worker): an
    entry's alternate is the alert's page, which the ethics role may open. Times are in the report's zone."""
    ov = report.overview
    tz = ov.generated_at.tzinfo
    entries = feed_entries(report)
    updated = max((s.updated for s in entries), default=ov.generated_at)
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
                "updated": stamp(st.updated, tz),
                "published": stamp(st.alert.raised_at, tz),
                "kind": str(st.alert.kind),
                "kind_label": KIND_LABELS.get(str(st.alert.kind), ""),
                "state": st.state,
                "late": st.late,
                "text": "\n".join(f"{k}: {v}" for k, v in entry_facts(st, tz)),
            }
            for st in entries
        ],
    )


def summary_json(report: Report) -> str:
    """The public safety-summary JSON (keys in ``summary_document``); Chinese is kept readable (UTF-8)."""
    return json.dumps(summary_document(report), ensure_ascii=False, indent=2) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def summary_csv(report: Report) -> str:
    """The SAE/SUSAR line listing as CSV (RFC 4180), header ``LISTING_COLUMNS``, one row per alert, written
    through the one CSV policy (streams/web/templating.py ``csv_text``): the committee opens it in a spreadsheet."""
    records = (listing_record(row) for row in report.listing)
    return csv_text(LISTING_COLUMNS, ([r[c] for c in LISTING_COLUMNS] for r in records))


def _pct_ci(ci: list[float] | None) -> str:
    return "–" if ci is None else f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def summary_html(report: Report, stylesheet: str | None = None) -> str:
    """A self-contained, printable HTML summary for filing (no script, no external resource); on the worker,
    ``stylesheet`` names the served style sheet instead of an inline one (streams/web/guard.py, the CSP)."""
    doc = summary_document(report)
    p = doc["stopping_probability"]
    crossed = doc["stopping_boundary_crossed"]
    rows = [
        ("已入组 / Subjects enrolled", doc["subjects_enrolled"], "subjects-enrolled"),
        ("已输注 / Subjects infused", doc["subjects_infused"], "subjects-infused"),
        ("发生 DLT 的受试者 / Subjects with DLT", doc["subjects_with_dlt"], "subjects-with-dlt"),
        ("DLT 率 95% CI (Clopper-Pearson) / DLT rate 95% CI", _pct_ci(doc["dlt_rate_ci95"]), "dlt-ci"),
        ("发生 SAE 的受试者 / Subjects with SAE", doc["subjects_with_sae"], "subjects-with-sae"),
        ("SAE 发生率 95% CI / SAE incidence 95% CI", _pct_ci(doc["sae_rate_ci95"]), "sae-ci"),
        (
            f"后验 P(DLT率 > {doc['stopping_threshold']:g}) / Posterior probability",
            "未评估 / not evaluated (n < 3)" if p is None else f"{p:.3f}",
            "stopping-probability",
        ),
        (
            f"停止界值 {doc['stopping_boundary']:g} / Stopping boundary crossed",
            "是 / YES" if crossed else "否 / no",
            "stopping-crossed",
        ),
        ("逾期报告 / Overdue reports", doc["overdue_reports"], "overdue-reports"),
    ]
    heads = (
        "类型 / Kind",
        "受试者 / Subject",
        "研究日 / Day",
        "术语 / Term",
        "分级 / Grade",
        "严重性 / Seriousness",
        "因果 / Causality",
        "预期性 / Expectedness",
        "转归 / Outcome",
        "报告期限 / Due",
        "已提交 / Submitted",
        "状态 / Status",
    )
    listing = [
        [
            _cell(c)
            for c in (
                r["kind"],
                r["subject_id"],
                r["study_day"],
                r["term"],
                r["grade"],
                r["seriousness"],
                r["causality"],
                r["expectedness"],
                r["outcome"],
                r["report_due_at"],
                r["submitted_at"],
                r["status"] + (" (逾期 / overdue)" if r["overdue"] else "") + (" (迟交 / late)" if r["late"] else ""),
            )
        ]
        for r in doc["line_listing"]
    ]
    return render(
        "summary.html",
        study_id=doc["study_id"],
        generated_at=doc["generated_at"],
        rules_version=doc["rules_version"] or "–",
        stats=rows,
        heads=heads,
        listing=listing,
        stylesheet=stylesheet,
        completeness=summary_lines(report.completeness),
    )
