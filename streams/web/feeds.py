"""The ethics committee's documents: an Atom 1.0 feed (RFC 4287) and CSV / HTML renderings of the summary.

Pure functions of a ``safety.reports.report.Report``. The feed has one entry per SAE, SUSAR, DLT and
STOPPING_BOUNDARY alert; an entry's ``<updated>`` moves when the alert is acknowledged, withdrawn or its
ethics report is marked submitted, so a feed reader shows the change. Ids are ``urn:uuid`` values derived
from the alert_id (uuid5), so they are the same after a restart, a replay or on another worker: a reader
never sees an entry twice.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from html import escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from safety.coding import alert_term
from safety.reports import FEED_KINDS, LISTING_COLUMNS, AlertStatus, Report, listing_record, summary_document

ATOM_NS = "http://www.w3.org/2005/Atom"
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


def _rfc3339(t: datetime) -> str:
    return t.isoformat()


def _entry_title(st: AlertStatus) -> str:
    a = st.alert
    day = "" if a.study_day is None else f" D{a.study_day}"
    shown = alert_term(a)
    term = f" {shown}" if shown else ""
    grade = "" if a.grade is None else f" G{a.grade}"
    suffix = "" if st.state == "open" else f" [{STATE_LABELS[st.state]}]"
    return f"{a.kind} {a.subject_id}{day}{term}{grade}{suffix}"


def _entry_text(st: AlertStatus) -> str:
    """Bilingual plain text (Chinese first, then English); subject code only, never another identifier."""
    a = st.alert
    lines = [
        KIND_LABELS.get(str(a.kind), str(a.kind)),
        f"受试者 / Subject: {a.subject_id}",
        f"研究日 / Study day: {'' if a.study_day is None else a.study_day}",
        f"术语 / Term: {alert_term(a) or ''}",
        f"分级 / Grade: {'' if a.grade is None else a.grade}",
        f"规则 / Rule: {a.rule_id}",
        f"发出 / Raised: {_rfc3339(a.raised_at)}",
        f"报告期限 / Report due: {'' if a.report_due_at is None else _rfc3339(a.report_due_at)}",
        f"状态 / Status: {STATE_LABELS[st.state]}",
    ]
    if st.acknowledged_at:
        lines.append(f"确认 / Acknowledged: {_rfc3339(st.acknowledged_at)}")
    if st.submitted_at:
        lines.append(f"已提交伦理委员会 / Submitted to the ethics committee: {_rfc3339(st.submitted_at)}")
    if st.withdrawn_at:
        lines.append(f"撤回 / Withdrawn: {_rfc3339(st.withdrawn_at)} ({st.withdrawn_reason or ''})")
    if a.basis and a.kind == "STOPPING_BOUNDARY":
        lines.append("依据 / Basis: " + json.dumps(a.basis, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines)


def atom_feed(report: Report, *, base_url: str | None = None, title: str | None = None) -> str:
    """The ethics committee feed (Atom 1.0); ``base_url`` adds self/alternate links (served by the worker)."""
    ov = report.overview
    entries = sorted(
        (s for s in report.statuses if s.alert.kind in FEED_KINDS),
        key=lambda s: (s.updated, s.alert.alert_id),
        reverse=True,
    )
    updated = max((s.updated for s in entries), default=ov.generated_at)
    feed_title = title or f"{ov.study_id} 安全性报告 / Safety reports"
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="{ATOM_NS}" xml:lang="zh-CN">',
        f"  <id>{feed_id(ov.study_id)}</id>",
        f"  <title>{xml_escape(feed_title)}</title>",
        f"  <subtitle>{xml_escape(SUBTITLE)}</subtitle>",
        f"  <updated>{_rfc3339(updated)}</updated>",
        "  <author><name>安全监测服务 / Safety surveillance service</name></author>",
        '  <generator uri="https://example.org/trial-safety-surveillance">trial-safety-surveillance</generator>',
    ]
    if base_url:
        root = base_url.rstrip("/")
        out.append(
            f'  <link rel="self" type="application/atom+xml" href={quoteattr(root + "/feeds/ethics.atom")}/>'
        )
        out.append(f'  <link rel="alternate" type="text/html" href={quoteattr(root + "/")}/>')
    for st in entries:
        a = st.alert
        out += [
            "  <entry>",
            f"    <id>{entry_id(a.alert_id)}</id>",
            f"    <title>{xml_escape(_entry_title(st))}</title>",
            f"    <updated>{_rfc3339(st.updated)}</updated>",
            f"    <published>{_rfc3339(a.raised_at)}</published>",
            f"    <category term={quoteattr(str(a.kind))} label={quoteattr(KIND_LABELS.get(str(a.kind), ''))}"
            "/>",
            f"    <category term={quoteattr('status:' + st.state)}/>",
        ]
        if base_url:
            href = f"{base_url.rstrip('/')}/subjects/{a.subject_id}"
            out.append(f'    <link rel="alternate" type="text/html" href={quoteattr(href)}/>')
        out.append(f'    <content type="text">{xml_escape(_entry_text(st))}</content>')
        out.append("  </entry>")
    out.append("</feed>")
    return "\n".join(out) + "\n"


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


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP, CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a leading single quote before a formula start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value: Any) -> str:
    """A CSV cell (OWASP, CSV Injection): numbers as they are (a study day of -3 stays a number), every text,
    each part of a list too, neutralised; the writer quotes every cell, so a separator inside stays text."""
    if isinstance(value, list):
        return ";".join(_inert(str(v)) for v in value)
    if isinstance(value, (bool, int, float)) or value is None:
        return _cell(value)
    return _inert(str(value))


def summary_csv(report: Report) -> str:
    """The SAE/SUSAR line listing as CSV (RFC 4180), header ``LISTING_COLUMNS``, one row per alert.

    Every cell is quoted and no text cell can start a formula (``_csv_cell``): the ethics committee opens it in
    a spreadsheet.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(LISTING_COLUMNS)
    for row in report.listing:
        record = listing_record(row)
        writer.writerow([_csv_cell(record[c]) for c in LISTING_COLUMNS])
    return buf.getvalue()


def _pct_ci(ci: list[float] | None) -> str:
    return "–" if ci is None else f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def summary_html(report: Report) -> str:
    """A self-contained, printable HTML summary for filing (no script, no external resource)."""
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
    stat_html = "".join(
        f'<tr><th>{escape(label)}</th><td data-testid="{tid}">{escape(str(value))}</td></tr>'
        for label, value, tid in rows
    )
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
    listing = []
    for r in doc["line_listing"]:
        cells = (
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
            r["status"] + (" (逾期 / overdue)" if r["overdue"] else ""),
        )
        listing.append("<tr>" + "".join(f"<td>{escape(_cell(c))}</td>" for c in cells) + "</tr>")
    if not listing:
        listing.append(f'<tr><td colspan="{len(heads)}">无 / None</td></tr>')
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>{escape(doc['study_id'])} 安全性汇总 / Safety summary</title>"
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:4px 8px;"
        "text-align:left;font-size:13px}th{background:#f3f3f3}.crossed{color:#c62828;font-weight:bold}</style>"
        "</head><body>"
        f"<h1>{escape(doc['study_id'])} 安全性汇总 / Safety summary</h1>"
        f'<p>生成时间 / Generated at: <time data-testid="generated-at">{escape(doc["generated_at"])}</time>'
        f" · 规则版本 / Rules version: {escape(str(doc['rules_version'] or '–'))}</p>"
        f"<h2>累计发生率与停止规则 / Cumulative incidence and stopping rule</h2><table>{stat_html}</table>"
        "<h2>SAE/SUSAR 一览表 / SAE/SUSAR line listing</h2>"
        '<table data-testid="line-listing"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in heads)
        + "</tr></thead><tbody>"
        + "".join(listing)
        + "</tbody></table></body></html>\n"
    )
