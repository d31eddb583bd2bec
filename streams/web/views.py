"""The safety officer's pages as HTML: overview, open alerts, subject timeline, eDISH.

Pure: the report view models and the links come in, HTML goes out, rendered by the templates of
streams/web/templates (streams/web/templating.py). The worker (streams/web/pages.py) and the offline
``safety report`` (streams/cli/report.py) both call these, so the static pages the browser tests render are the
live pages, with static links and no acknowledge buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlencode

from safety.coding import alert_term
from safety.delivery.ledger import ack_refusal, submission_refusal
from safety.model.outputs import GradedObservation
from safety.reports import (
    EARLY_DAYS,
    QUADRANTS,
    SORTS,
    STATUSES,
    AeRow,
    AlertDetail,
    AlertQuery,
    AlertStatus,
    EdishPoint,
    Report,
    SubjectTimeline,
    crossing,
    overdue_reports,
    select_alerts,
    term_by_grade,
)
from safety.reports.completeness import COMPLETENESS_CSV_HEADER, VisitRow, summary_lines, visit_tallies
from safety.reports.completeness import STATE_LABELS as COMPLETENESS_LABELS
from safety.reports.completeness import csv_rows as completeness_rows
from safety.rules.protocol import HysLaw
from safety.rules.schedule import Schedule
from streams.documents.store import CaseIndex, feed_documents
from streams.web import charts as svg
from streams.web.ethics import KIND_LABELS, STATE_LABELS, entry_facts, entry_title, feed_entries
from streams.web.templating import csv_text, render
from streams.web.times import maybe_time, shown, stamp

CaseLookup = Callable[[str], CaseIndex | None]
"""An alert id -> its SAE/SUSAR case's stored documents (streams/documents/store.py ``DocumentShelf.case_of``)."""


@dataclass(frozen=True)
class Links:
    """Where each page lives: the worker's routes or the static report's file names."""

    overview: str
    alerts: str
    edish: str
    edish_baseline: str
    feed: str
    summary_json: str
    summary_csv: str
    summary_html: str
    summary_pdf: str  # the same summary as an A4 PDF to print and file
    subject: Callable[[str], str]
    alert: Callable[[str], str]  # the alert's page (its basis and history)
    feed_html: str
    ethics: str  # the ethics committee's landing page
    overdue: str
    overdue_csv: str
    ae_listing: str
    ae_csv: str
    labs: str
    labs_csv: str
    alerts_csv: str
    completeness: str
    completeness_csv: str
    ack: Callable[[str], str] | None = None  # POST target of the acknowledge button; None = static pages
    submit: Callable[[str], str] | None = None  # POST target of "report submitted to the ethics committee"
    role: str | None = None  # the viewer's role: only the buttons it may use are shown (safety.delivery.ledger)
    served: bool = False  # served by the worker: the lists can be filtered and sorted (query parameters)
    live: bool = False  # served by the worker: its style sheet and script, not inline ones (the CSP)
    csrf: str | None = None  # the session's CSRF token, sent with every post (streams/web/session.py)
    person: str | None = None  # who is signed in, shown beside the sign-out button

    @classmethod
    def live_for(cls, role: str | None = None, csrf: str | None = None, person: str | None = None) -> Links:
        """The worker's routes. No link carries a credential: the browser's session cookie does."""
        return cls(
            overview="/overview",
            alerts="/alerts",
            edish="/edish",
            edish_baseline="/edish?view=baseline",
            feed="/feeds/ethics.atom",
            summary_json="/reports/safety-summary.json",
            summary_csv="/reports/safety-summary.csv",
            summary_html="/reports/safety-summary.html",
            summary_pdf="/reports/safety-summary.pdf",
            subject=lambda code: f"/subjects/{quote(code)}",
            alert=lambda alert_id: f"/alerts/{quote(alert_id)}",
            feed_html="/feeds/ethics.html",
            ethics="/ethics",
            overdue="/reports/overdue",
            overdue_csv="/reports/overdue.csv",
            ae_listing="/listings/ae",
            ae_csv="/listings/ae.csv",
            labs="/listings/labs",
            labs_csv="/listings/labs.csv",
            alerts_csv="/alerts.csv",
            completeness="/reports/completeness",
            completeness_csv="/reports/completeness.csv",
            ack=lambda alert_id: f"/alerts/{quote(alert_id)}/ack",
            submit=lambda alert_id: f"/alerts/{quote(alert_id)}/ethics-submitted",
            role=role,
            served=True,
            live=True,
            csrf=csrf,
            person=person,
        )

    @classmethod
    def static(cls) -> Links:
        return cls(
            overview="overview.html",
            alerts="alerts.html",
            edish="edish.html",
            edish_baseline="edish.html#baseline",
            feed="ethics.atom",
            summary_json="safety-summary.json",
            summary_csv="safety-summary.csv",
            summary_html="safety-summary.html",
            summary_pdf="safety-summary.pdf",
            subject=lambda code: f"subject-{quote(code)}.html",
            alert=lambda alert_id: f"alert-{quote(alert_id)}.html",
            feed_html="ethics-feed.html",
            ethics="ethics.html",
            overdue="overdue.html",
            overdue_csv="overdue.csv",
            ae_listing="ae-listing.html",
            ae_csv="ae-listing.csv",
            labs="lab-listing.html",
            labs_csv="lab-listing.csv",
            alerts_csv="alerts.csv",
            completeness="completeness.html",
            completeness_csv="completeness.csv",
        )

    def with_query(self, path: str, params: dict[str, str]) -> str:
        """``path`` with ``params`` (the sort links and CSV of a filtered list)."""
        return f"{path}?{urlencode(params)}" if params else path


def _zone(report: Report) -> tzinfo | None:
    """The one zone a page shows its times in: the study's (build_report keeps ``generated_at`` in it)."""
    return report.overview.generated_at.tzinfo


def _pct(ci: tuple[float, float] | None) -> str:
    return "–" if ci is None else f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def _alert_rows(
    statuses: Sequence[AlertStatus], links: Links, tz: tzinfo | None, now: datetime
) -> list[dict[str, Any]]:
    """One row per alert; ``ack`` / ``submit`` are the targets of the buttons the viewer's role may use."""
    rows = []
    role = links.role or ""
    for st in statuses:
        a = st.alert
        ack = (
            links.ack(a.alert_id)
            if links.ack is not None and st.state == "open" and ack_refusal(a, role) is None
            else None
        )
        submit = (
            links.submit(a.alert_id)
            if links.submit is not None
            and st.state != "withdrawn"
            and st.submitted_at is None
            and submission_refusal(a, role) is None
            else None
        )
        rows.append(
            {
                "alert_id": a.alert_id,
                "page": links.alert(a.alert_id),
                "kind": str(a.kind),
                "kind_label": KIND_LABELS.get(str(a.kind), str(a.kind)),
                "subject": a.subject_id,
                "href": links.subject(a.subject_id) if links.role != "ethics" else None,
                "study_day": "" if a.study_day is None else a.study_day,
                "term": alert_term(a) or "",
                "grade": "" if a.grade is None else a.grade,
                "rule": a.rule_id,
                "raised": shown(a.raised_at, tz),
                "due": shown(a.report_due_at, tz),
                "state": st.state,
                "state_label": STATE_LABELS[st.state],
                "overdue": st.overdue(now),
                "late": st.late,
                "ack": ack,
                "submit": submit,
            }
        )
    return rows


def _alert_table(report: Report, links: Links) -> dict[str, Any]:
    """The open alerts, the one due first on top: the context of templates/alert_table.html."""
    statuses = [s for s in report.statuses if s.state == "open"]
    statuses.sort(key=lambda s: (s.alert.report_due_at or s.alert.raised_at, s.alert.alert_id))
    now = report.overview.generated_at
    return {"alerts": _alert_rows(statuses, links, _zone(report), now), "count": len(statuses), "sorts": None}


def _crossed(report: Report) -> str:
    """'YES' with when and at which x of n it was crossed, so it reads right beside a later, smaller posterior."""
    if not report.overview.stopping_boundary_crossed:
        return "否 / no"
    first = crossing(report)
    if first is None:
        return "是 / YES"
    at_p = "" if first.probability is None else f", P = {first.probability:.3f}"
    return f"是 / YES: {shown(first.at, _zone(report))}, {first.x} / {first.n} DLT{at_p}"


def overview_page(report: Report, links: Links) -> str:
    ov = report.overview
    p = ov.stopping_probability
    stats = [
        ("已入组 / Subjects enrolled", ov.subjects_enrolled, "subjects-enrolled"),
        ("已输注 / Subjects infused", ov.subjects_infused, "subjects-infused"),
        ("DLT 受试者 / Subjects with DLT", ov.subjects_with_dlt, "subjects-with-dlt"),
        ("DLT 率 95% CI / DLT rate 95% CI", _pct(ov.dlt_rate_ci95), "dlt-ci"),
        ("SAE 受试者 / Subjects with SAE", ov.subjects_with_sae, "subjects-with-sae"),
        ("SAE 发生率 95% CI / SAE incidence 95% CI", _pct(ov.sae_rate_ci95), "sae-ci"),
        ("SAE / SUSAR 数 / count", f"{ov.sae_count} / {ov.susar_count}", "sae-susar-count"),
        (
            f"后验 P(DLT率 > {ov.stopping.threshold:g}) / Posterior",
            "未评估 / not evaluated" if p is None else f"{p:.3f}",
            "stopping-probability",
        ),
        (
            f"停止界值 {ov.stopping.probability:g} / Boundary crossed",
            _crossed(report),
            "stopping-crossed",
        ),
        ("逾期报告 / Overdue reports", ov.overdue_reports, "overdue-reports"),
    ]
    hrefs = {"overdue-reports": links.overdue}
    per_subject: dict[str, dict[str, int]] = {}
    for st in report.statuses:
        if st.state == "withdrawn":
            continue
        counts = per_subject.setdefault(st.alert.subject_id, {})
        counts[str(st.alert.kind)] = counts.get(str(st.alert.kind), 0) + 1
        if st.state == "open":
            counts["open"] = counts.get("open", 0) + 1
    subjects = [
        {
            "code": code,
            "href": links.subject(code),
            "dlt": c.get("DLT", 0),
            "sae": c.get("SAE", 0),
            "susar": c.get("SUSAR", 0),
            "open": c.get("open", 0),
        }
        for code, c in sorted(per_subject.items())
    ]
    return render(
        "overview.html",
        title=f"{ov.study_id} 安全总览 / Safety overview",
        study_id=ov.study_id,
        links=links,
        generated_at=shown(ov.generated_at, _zone(report)),
        rules_version=report.rules_version or "–",
        stats=[{"label": lbl, "value": v, "testid": tid, "href": hrefs.get(tid)} for lbl, v, tid in stats],
        crossed=ov.stopping_boundary_crossed,
        posterior_svg=svg.posterior_chart(ov.series, ov.stopping.probability, ov.stopping.threshold),
        incidence_svg=svg.incidence_chart(ov.series),
        subjects=subjects,
        subject_links=[{"code": c, "href": links.subject(c)} for c in report.subjects],
        **_alert_table(report, links),
    )


ALERT_SORT_HEADS = (
    ("kind", "类型 / Kind"),
    ("subject", "受试者 / Subject"),
    ("day", "研究日 / Day"),
    ("raised", "发出 / Raised"),
    ("due", "期限 / Due"),
)
STATUS_LABELS = {**STATE_LABELS, "overdue": "报告逾期 / report overdue"}
ALERTS_CSV_HEADER = (
    "alert_id",
    "kind",
    "rule_id",
    "subject_id",
    "study_day",
    "term",
    "grade",
    "raised_at",
    "report_due_at",
    "status",
    "overdue",
    "late",
    "acknowledged_at",
    "acknowledged_by",
    "submitted_at",
    "reference",
)


def alerts_page(report: Report, links: Links, query: AlertQuery | None = None, refusal: str | None = None) -> str:
    """Every alert ``query`` selects (server-side filter and sort: a GET form, no script); open ones by default.

    The static report has no server to filter: it lists the open alerts, due first."""
    q = query or AlertQuery(status="open")
    now = report.overview.generated_at
    chosen = select_alerts(report.statuses, q, now)
    sorts = None
    if links.served:
        sorts = {
            key: {
                "href": links.with_query("/alerts", q.params(sort=key, descending=q.sort == key and not q.descending)),
                "mark": ("▼" if q.descending else "▲") if q.sort == key else "",
            }
            for key, _ in ALERT_SORT_HEADS
        }
    return render(
        "alerts.html",
        title="警报 / Alerts",
        study_id=report.overview.study_id,
        links=links,
        query=q,
        refusal=refusal,
        kinds=sorted({str(s.alert.kind) for s in report.statuses}),
        statuses=[(k, STATUS_LABELS[k]) for k in STATUSES],
        sort_choices=[k for k in SORTS],
        csv=links.with_query("/alerts.csv", q.params()) if links.served else links.alerts_csv,
        alerts=_alert_rows(chosen, links, _zone(report), now),
        count=len(chosen),
        sorts=sorts,
    )


def alerts_csv(report: Report, query: AlertQuery | None = None) -> str:
    """The alerts ``query`` selects as CSV (every alert when None), through the one CSV policy."""
    q = query or AlertQuery()
    tz, now = _zone(report), report.overview.generated_at
    rows = (
        (
            st.alert.alert_id,
            str(st.alert.kind),
            st.alert.rule_id,
            st.alert.subject_id,
            st.alert.study_day,
            alert_term(st.alert),
            st.alert.grade,
            stamp(st.alert.raised_at, tz),
            stamp(st.alert.report_due_at, tz),
            st.state,
            st.overdue(now),
            st.late,
            stamp(st.acknowledged_at, tz),
            st.acknowledged_by,
            stamp(st.submitted_at, tz),
            st.reference,
        )
        for st in select_alerts(report.statuses, q, now)
    )
    return csv_text(ALERTS_CSV_HEADER, rows)


def _records(st: AlertStatus, tz: tzinfo | None) -> list[dict[str, Any]]:
    return [
        {
            "action": "确认 / Acknowledged" if r.action == "acknowledged" else "已报伦理 / Submitted to ethics",
            "kind": r.action,
            "who": r.by or "",
            "role": r.role or "",
            "at": shown(r.at, tz),
            "conclusion": r.conclusion or "",
            "causality": r.causality or "",
            "reference": r.reference or "",
        }
        for r in st.records
    ]


def _basis_value(value: Any, tz: tzinfo | None) -> str:
    if isinstance(value, list):
        return ", ".join(_basis_value(v, tz) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_basis_value(v, tz)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return maybe_time(str(value), tz)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def alert_page(
    detail: AlertDetail,
    links: Links,
    tz: tzinfo | None,
    now: datetime,
    trail: Sequence[Mapping[str, Any]] = (),
    documents: dict[str, Any] | None = None,
) -> str:
    """One alert: its basis in words and numbers, the triggering values with their limits and grades, every
    delivery per channel with its attempts, acknowledgements, submissions, escalations, a withdrawal, its audit
    trail (``trail``: records of streams/web/audit.py, oldest first), and for an SAE or SUSAR served by the worker,
    ``documents`` (streams/web/case_documents.py): the versions of its documents."""
    st = detail.status
    a = st.alert
    row = _alert_rows([st], links, tz, now)[0]
    triggers = [
        {
            "event_id": t.event_id,
            "type": t.type,
            "at": shown(t.occurred_at, tz),
            "test": t.test or "",
            "value": t.value or "",
            "unit": t.unit or "",
            "ref": "" if t.ref_low is None and t.ref_high is None else f"{_num(t.ref_low)} – {_num(t.ref_high)}",
            "graded": [
                {
                    "term": g.ctcae_term,
                    "grade": "" if g.grade is None else g.grade,
                    "value": "" if g.value is None else f"{g.value:g} {g.unit or ''}".strip(),
                    "limits": " · ".join(
                        x
                        for x in (
                            f"LLN {_num(g.lln)}" if g.lln is not None else "",
                            f"ULN {_num(g.uln)}" if g.uln is not None else "",
                        )
                        if x
                    ),
                    "baseline_grade": "" if g.baseline_grade is None else g.baseline_grade,
                    "criterion": g.criterion or "",
                    "basis": g.basis,
                }
                for g in t.graded
            ],
        }
        for t in detail.triggers
    ]
    ledger = detail.ledger
    deliveries = [
        {
            "message": d.message,
            "channel": d.channel,
            "recipient": d.recipient,
            "scheme": d.scheme,
            "state": d.state,
            "queued": shown(d.queued_at, tz),
            "next": shown(d.next_attempt_at, tz) if d.state == "pending" else "",
            "attempts": [
                {"number": t.number, "at": shown(t.at, tz), "outcome": t.outcome, "error": t.error or ""}
                for t in d.attempts
            ],
        }
        for d in (ledger.deliveries if ledger else ())
    ]
    escalations = [{"reason": e.reason, "at": shown(e.at, tz)} for e in (ledger.escalations if ledger else ())]
    return render(
        "alert.html",
        title=f"{a.kind} {a.subject_id} {alert_term(a) or ''}".strip(),
        study_id=a.study_id,
        links=links,
        a=row,
        recipients=", ".join(a.recipients),
        rules_version=a.rules_version,
        basis=[
            {"key": k, "label": BASIS_LABELS.get(k, k.replace("_", " ")), "value": _basis_value(v, tz)}
            for k, v in detail.basis
        ],
        triggers=triggers,
        ledger_known=ledger is not None,
        deliveries=deliveries,
        escalations=escalations,
        records=_records(st, tz),
        to_act=st.to_act(now),
        withdrawn={"at": shown(st.withdrawn_at, tz), "reason": st.withdrawn_reason or "", "by": st.withdrawn_by or ""}
        if st.withdrawn_at
        else None,
        submitted=shown(st.submitted_at, tz),
        trail=[
            {
                "at": maybe_time(str(r.get("at", "")), tz),
                "person": str(r.get("person") or ""),
                "role": str(r.get("role") or ""),
                "action": AUDIT_LABELS.get(str(r.get("action")), str(r.get("action") or "")),
                "reason": str(r.get("reason") or ""),
                "via": str(r.get("via") or ""),
            }
            for r in trail
        ],
        documents=documents,
    )


AUDIT_LABELS = {
    "ack": "确认 / acknowledge",
    "link_ack": "链接确认 / acknowledge by link",
    "ethics_submitted": "伦理提交 / ethics submission",
    "rate_limited": "频率限制 / rate limited",
    "csrf_refused": "跨站拒绝 / cross-site refused",
}

BASIS_LABELS = {
    "criterion": "判据 / Criterion",
    "serious": "严重性 / Seriousness",
    "causality": "因果 / Causality",
    "expected": "预期 / Expected",
    "onset": "发生 / Onset",
    "date_of_death": "死亡日期 / Date of death",
    "window": "观察窗 (研究日) / Window (study days)",
    "related_set": "相关集 / Related set",
    "study_day": "研究日 / Study day",
    "term_coding": "术语编码 / Term coding",
}


def overdue_page(report: Report, links: Links) -> str:
    """Ethics reports past due (acknowledged or not) with who must act, and reports submitted late."""
    now, tz = report.overview.generated_at, _zone(report)
    chosen = overdue_reports(report.statuses, now)
    rows = _alert_rows(chosen, links, tz, now)
    for row, st in zip(rows, chosen, strict=True):
        row["to_act"] = st.to_act(now)
        row["submitted"] = shown(st.submitted_at, tz)
        row["reference"] = st.reference or ""
        row["acknowledged"] = f"{st.acknowledged_by or ''} {shown(st.acknowledged_at, tz)}".strip()
    return render(
        "overdue.html",
        title="逾期报告 / Overdue reports",
        study_id=report.overview.study_id,
        links=links,
        generated_at=shown(now, tz),
        rows=rows,
        overdue=sum(1 for st in chosen if st.overdue(now)),
        late=sum(1 for st in chosen if st.late),
    )


def completeness_page(report: Report, rows: Sequence[VisitRow], schedule: Schedule, links: Links) -> str:
    """Expected vs received per subject and visit (safety/reports/completeness.py), with the tally per visit."""
    tz = _zone(report)
    return render(
        "completeness.html",
        title="数据完整性 / Data completeness",
        study_id=report.overview.study_id,
        links=links,
        generated_at=shown(report.overview.generated_at, tz),
        tallies=summary_lines(visit_tallies(rows, schedule)),
        rows=[
            {
                "subject": r.subject_id,
                "href": links.subject(r.subject_id),
                "group": r.group,
                "day": r.visit_day,
                "window": f"{r.first_day}..{r.last_day}",
                "due": shown(r.due_at, tz),
                "expected": ", ".join(r.expected),
                "received": ", ".join(r.received) or "–",
                "missing": ", ".join(r.missing) or "–",
                "state": r.state,
                "state_label": COMPLETENESS_LABELS[r.state],
            }
            for r in rows
        ],
        missing=sum(1 for r in rows if r.state == "missing"),
    )


def completeness_csv(report: Report, rows: Sequence[VisitRow]) -> str:
    zone = _zone(report)
    assert zone is not None  # build_report keeps generated_at in the study's zone
    return csv_text(COMPLETENESS_CSV_HEADER, completeness_rows(rows, zone))


OVERDUE_CSV_HEADER = (
    "alert_id",
    "kind",
    "subject_id",
    "study_day",
    "term",
    "grade",
    "report_due_at",
    "status",
    "overdue",
    "late",
    "submitted_at",
    "reference",
    "to_act",
)


def overdue_csv(report: Report) -> str:
    now, tz = report.overview.generated_at, _zone(report)
    rows = (
        (
            st.alert.alert_id,
            str(st.alert.kind),
            st.alert.subject_id,
            st.alert.study_day,
            alert_term(st.alert),
            st.alert.grade,
            stamp(st.alert.report_due_at, tz),
            st.state,
            st.overdue(now),
            st.late,
            stamp(st.submitted_at, tz),
            st.reference,
            st.to_act(now),
        )
        for st in overdue_reports(report.statuses, now)
    )
    return csv_text(OVERDUE_CSV_HEADER, rows)


AE_CSV_HEADER = (
    "subject_id",
    "event_id",
    "term",
    "grade",
    "serious",
    "causality",
    "expectedness",
    "outcome",
    "onset",
    "onset_day",
    "end",
    "end_day",
)


def _expectedness(expected: bool | None) -> str:
    return {True: "expected", False: "unexpected", None: ""}[expected]


def ae_listing_page(rows: Sequence[AeRow], links: Links, study_id: str, tz: tzinfo | None) -> str:
    """Every AE by subject (coded term, grade, seriousness, causality, outcome, onset-end) and the
    term x worst grade table."""
    return render(
        "ae_listing.html",
        title="不良事件列表 / AE listing",
        study_id=study_id,
        links=links,
        table=[{"term": t, "grades": g, "total": n} for t, g, n in term_by_grade(rows)],
        rows=[
            {
                "subject": r.subject_id,
                "href": links.subject(r.subject_id),
                "term": r.term,
                "grade": r.grade,
                "serious": ", ".join(r.serious),
                "causality": r.causality or "",
                "expectedness": _expectedness(r.expected),
                "outcome": r.outcome or "",
                "onset": shown(r.onset, tz),
                "end": shown(r.end, tz),
                "days": f"{'' if r.onset_day is None else r.onset_day} – {'' if r.end_day is None else r.end_day}",
            }
            for r in rows
        ],
    )


def ae_csv(rows: Sequence[AeRow], tz: tzinfo | None) -> str:
    return csv_text(
        AE_CSV_HEADER,
        (
            (
                r.subject_id,
                r.event_id,
                r.term,
                r.grade,
                r.serious,
                r.causality,
                _expectedness(r.expected),
                r.outcome,
                stamp(r.onset, tz),
                r.onset_day,
                stamp(r.end, tz),
                r.end_day,
            )
            for r in rows
        ),
    )


LAB_CSV_HEADER = (
    "subject_id",
    "event_id",
    "test",
    "occurred_at",
    "study_day",
    "value",
    "unit",
    "lln",
    "uln",
    "ctcae_term",
    "grade",
    "baseline_grade",
    "treatment_emergent",
)


def lab_listing_page(
    rows: Sequence[GradedObservation],
    links: Links,
    study_id: str,
    tz: tzinfo | None,
    min_grade: int,
    subject: str | None,
) -> str:
    params = {"min_grade": str(min_grade), **({"subject": subject} if subject else {})}
    return render(
        "lab_listing.html",
        title="实验室检查列表 / Lab listing",
        study_id=study_id,
        links=links,
        min_grade=min_grade,
        subject=subject or "",
        csv=links.with_query("/listings/labs.csv", params) if links.served else links.labs_csv,
        rows=[
            {
                "subject": g.subject_id,
                "href": links.subject(g.subject_id),
                "test": g.test,
                "at": shown(g.occurred_at, tz),
                "day": "" if g.study_day is None else g.study_day,
                "value": "" if g.value is None else f"{g.value:g}",
                "unit": g.unit or "",
                "limits": f"{_num(g.lln)} – {_num(g.uln)}",
                "term": g.ctcae_term,
                "grade": "" if g.grade is None else g.grade,
                "baseline_grade": "" if g.baseline_grade is None else g.baseline_grade,
            }
            for g in rows
        ],
    )


def lab_csv(rows: Sequence[GradedObservation], tz: tzinfo | None) -> str:
    return csv_text(
        LAB_CSV_HEADER,
        (
            (
                g.subject_id,
                g.event_id,
                g.test,
                stamp(g.occurred_at, tz),
                g.study_day,
                g.value,
                g.unit,
                g.lln,
                g.uln,
                g.ctcae_term,
                g.grade,
                g.baseline_grade,
                g.treatment_emergent,
            )
            for g in rows
        ),
    )


def _feed_items(report: Report, links: Links, documents: CaseLookup | None = None) -> list[dict[str, Any]]:
    """The feed's entries as the pages show them; ``documents`` (the worker's shelf) adds each SAE/SUSAR case's
    files, every version, as the Atom entry links them (streams/web/ethics.py)."""
    tz = _zone(report)
    return [
        {
            "alert_id": st.alert.alert_id,
            "page": links.alert(st.alert.alert_id),
            "title": entry_title(st),
            "kind": str(st.alert.kind),
            "state": st.state,
            "late": st.late,
            "overdue": st.overdue(report.overview.generated_at),
            "updated": shown(st.updated, tz),
            "facts": entry_facts(st, tz, shown),
            "documents": feed_documents(documents(st.alert.alert_id), st.alert.alert_id) if documents else [],
        }
        for st in feed_entries(report)
    ]


def feed_page(report: Report, links: Links, documents: CaseLookup | None = None) -> str:
    """The ethics feed as a page (a browser shows the Atom file as raw XML): one block per entry, each opening
    the alert's page and listing the case's documents when the worker has them (``documents``)."""
    return render(
        "feed.html",
        title="伦理委员会订阅 / Ethics committee feed",
        study_id=report.overview.study_id,
        links=links,
        generated_at=shown(report.overview.generated_at, _zone(report)),
        entries=_feed_items(report, links, documents),
    )


def ethics_page(report: Report, links: Links, documents: CaseLookup | None = None) -> str:
    """The committee's landing page: the numbers of the summary, reports overdue or submitted late, the latest
    feed entries, and the ways to the documents it files."""
    ov, tz = report.overview, _zone(report)
    chosen = overdue_reports(report.statuses, ov.generated_at)
    return render(
        "ethics.html",
        title="伦理委员会 / Ethics committee",
        study_id=ov.study_id,
        links=links,
        generated_at=shown(ov.generated_at, tz),
        subjects_infused=ov.subjects_infused,
        sae_count=ov.sae_count,
        susar_count=ov.susar_count,
        overdue_reports=ov.overdue_reports,
        late=_alert_rows([st for st in chosen if st.late], links, tz, ov.generated_at),
        overdue=_alert_rows([st for st in chosen if st.overdue(ov.generated_at)], links, tz, ov.generated_at),
        entries=_feed_items(report, links, documents)[:10],
    )


VIEWS = ("all", "early")  # the subject page's day ranges: the whole follow-up, days 0 to EARLY_DAYS


def subject_page(timeline: SubjectTimeline, links: Links, tests: Sequence[str] = (), view: str = "all") -> str:
    """The subject's alerts, events and every graded test it has values of (``tests``: only these, when any of
    them is charted), each drawn over the whole follow-up and over days 0-28; ``view`` is the one shown first."""
    days = [p.study_day for s in timeline.series for p in s.points] + [m.study_day for m in timeline.markers]
    ranges = {"all": (min(days + [0]), max(days + [EARLY_DAYS])), "early": (0, EARLY_DAYS)}
    wanted = [s for s in timeline.series if s.test in tests]
    chosen = wanted or timeline.series
    alert_href = links.alert
    charts = {
        name: {
            "range": f"{lo}–{hi}",
            "events": svg.events_chart(timeline.markers, (lo, hi), alert_href, name),
            "labs": [
                {"test": s.test, "svg": svg.lab_chart(s, timeline.markers, (lo, hi), alert_href, name)} for s in chosen
            ],
        }
        for name, (lo, hi) in ranges.items()
    }
    shown = {s.test for s in chosen}
    choices = [
        {
            "test": s.test,
            "label": s.label,
            "values": len(s.points),
            "worst": f"G{s.worst_grade}" if s.worst_grade else "",
            "checked": s.test in shown,
        }
        for s in timeline.series
    ]
    subject_href, served = links.subject(timeline.subject_id), links.served
    abnormal = [s.test for s in timeline.series if (s.worst_grade or 0) >= 1]
    markers = [
        {
            "day": m.study_day,
            "end": "" if m.kind != "adverse_event" else ("…" if m.end_day is None else m.end_day),
            "kind": m.kind,
            "label": m.label,
            "href": None if m.alert_id is None else links.alert(m.alert_id),
        }
        for m in timeline.markers
    ]
    alerts = [
        {
            "kind": str(s.alert.kind),
            "page": links.alert(s.alert.alert_id),
            "rule": s.alert.rule_id,
            "study_day": "" if s.alert.study_day is None else s.alert.study_day,
            "term": alert_term(s.alert) or "",
            "grade": "" if s.alert.grade is None else s.alert.grade,
            "state": STATE_LABELS[s.state],
        }
        for s in timeline.alerts
    ]
    return render(
        "subject.html",
        title=f"{timeline.subject_id} 时间线 / Timeline",
        study_id=timeline.study_id or "",
        links=links,
        subject_id=timeline.subject_id,
        day0="" if timeline.day0 is None else timeline.day0.isoformat(),
        charts=charts,
        view=view if view in VIEWS else "all",
        choices=choices,
        everything=len(shown) == len(timeline.series),
        all_href=subject_href if served else None,
        abnormal_href=links.with_query(subject_href, {"test": ",".join(abnormal)}) if served and abnormal else None,
        early_days=EARLY_DAYS,
        markers=markers,
        alerts=alerts,
    )


def _edish_href(links: Links) -> Callable[[EdishPoint], str]:
    def href(p: EdishPoint) -> str:
        return links.alert(p.alert_id) if p.alert_id else links.subject(p.subject_id)

    return href


def edish_page(
    points: Sequence[EdishPoint],
    links: Links,
    study_id: str,
    *,
    hys_law: HysLaw,
    view: str = "uln",
) -> str:
    """The eDISH page; ``hys_law`` (the protocol's) places the quadrant lines the points were split by. A point
    opens the subject's Hy's law alert, else the subject's page."""
    lines = (hys_law.transaminase_x_uln, hys_law.bilirubin_x_uln)
    href = _edish_href(links)
    rows = [
        {
            "subject": p.subject_id,
            "href": links.subject(p.subject_id),
            "alert": None if p.alert_id is None else links.alert(p.alert_id),
            "alt_uln": _f(p.transaminase_x_uln),
            "test_uln": p.transaminase_test or "",
            "bili_uln": _f(p.bili_x_uln),
            "alt_base": _f(p.transaminase_x_baseline),
            "test_base": p.transaminase_test_baseline or "",
            "bili_base": _f(p.bili_x_baseline),
            "quadrant_uln": QUADRANTS[p.quadrant_uln],
            "quadrant_baseline": QUADRANTS[p.quadrant_baseline],
        }
        for p in points
    ]
    return render(
        "edish.html",
        title="eDISH",
        study_id=study_id,
        links=links,
        uln_svg=svg.edish_chart(points, "uln", *lines, href),
        baseline_svg=svg.edish_chart(points, "baseline", *lines, href),
        baseline=view == "baseline",
        rows=rows,
        hys_law_count=sum(1 for p in points if p.quadrant_uln == "hys_law"),
        hys_law_count_baseline=sum(1 for p in points if p.quadrant_baseline == "hys_law"),
        transaminases="/".join(hys_law.transaminase_tests),
    )


def _f(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"
