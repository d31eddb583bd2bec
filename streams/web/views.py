"""The safety officer's pages as HTML: overview, open alerts, subject timeline, eDISH.

Pure: the report view models and the links come in, HTML goes out, rendered by the templates of
streams/web/templates (streams/web/templating.py). The worker (streams/web/pages.py) and the offline
``safety report`` (streams/cli/report.py) both call these, so the static pages the browser tests render are the
live pages, with static links and no acknowledge buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from safety.coding import alert_term
from safety.delivery.ledger import ack_refusal, submission_refusal
from safety.reports import QUADRANTS, AlertStatus, EdishPoint, Report, SubjectTimeline
from safety.rules.protocol import HysLaw
from streams.web import charts as svg
from streams.web.feeds import KIND_LABELS, STATE_LABELS
from streams.web.templating import render


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
    subject: Callable[[str], str]
    ack: Callable[[str], str] | None = None  # POST target of the acknowledge button; None = static pages
    submit: Callable[[str], str] | None = None  # POST target of "report submitted to the ethics committee"
    role: str | None = None  # the viewer's role: only the buttons it may use are shown (safety.delivery.ledger)
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
            subject=lambda code: f"/subjects/{quote(code)}",
            ack=lambda alert_id: f"/alerts/{quote(alert_id)}/ack",
            submit=lambda alert_id: f"/alerts/{quote(alert_id)}/ethics-submitted",
            role=role,
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
            subject=lambda code: f"subject-{quote(code)}.html",
        )


def _t(t: Any) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M %z")


def _pct(ci: tuple[float, float] | None) -> str:
    return "–" if ci is None else f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def _alert_rows(statuses: Sequence[AlertStatus], links: Links) -> list[dict[str, Any]]:
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
            and st.state == "open"
            and st.submitted_at is None
            and submission_refusal(a, role) is None
            else None
        )
        rows.append(
            {
                "alert_id": a.alert_id,
                "kind": str(a.kind),
                "kind_label": KIND_LABELS.get(str(a.kind), str(a.kind)),
                "subject": a.subject_id,
                "href": links.subject(a.subject_id),
                "study_day": "" if a.study_day is None else a.study_day,
                "term": alert_term(a) or "",
                "grade": "" if a.grade is None else a.grade,
                "rule": a.rule_id,
                "raised": _t(a.raised_at),
                "due": _t(a.report_due_at),
                "state": st.state,
                "state_label": STATE_LABELS[st.state],
                "ack": ack,
                "submit": submit,
            }
        )
    return rows


def _alert_table(report: Report, links: Links) -> dict[str, Any]:
    """The open alerts, the one due first on top: the context of templates/alert_table.html."""
    statuses = [s for s in report.statuses if s.state == "open"]
    statuses.sort(key=lambda s: (s.alert.report_due_at or s.alert.raised_at, s.alert.alert_id))
    return {"alerts": _alert_rows(statuses, links), "count": len(statuses)}


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
            "是 / YES" if ov.stopping_boundary_crossed else "否 / no",
            "stopping-crossed",
        ),
        ("逾期报告 / Overdue reports", ov.overdue_reports, "overdue-reports"),
    ]
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
        generated_at=_t(ov.generated_at),
        rules_version=report.rules_version or "–",
        stats=[{"label": lbl, "value": v, "testid": tid} for lbl, v, tid in stats],
        crossed=ov.stopping_boundary_crossed,
        posterior_svg=svg.posterior_chart(ov.series, ov.stopping.probability, ov.stopping.threshold),
        incidence_svg=svg.incidence_chart(ov.series),
        subjects=subjects,
        subject_links=[{"code": c, "href": links.subject(c)} for c in report.subjects],
        **_alert_table(report, links),
    )


def alerts_page(report: Report, links: Links) -> str:
    return render(
        "alerts.html",
        title="未确认警报 / Open alerts",
        study_id=report.overview.study_id,
        links=links,
        **_alert_table(report, links),
    )


def subject_page(timeline: SubjectTimeline, links: Links) -> str:
    days = [p.study_day for s in timeline.series for p in s.points] + [m.study_day for m in timeline.markers]
    day_range = (min(days + [0]), max(days + [1]))
    charts = [{"test": s.test, "svg": svg.lab_chart(s, timeline.markers, day_range)} for s in timeline.series]
    markers = [{"day": m.study_day, "kind": m.kind, "label": m.label} for m in timeline.markers]
    alerts = [
        {
            "kind": str(s.alert.kind),
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
        markers=markers,
        alerts=alerts,
    )


def edish_page(
    points: Sequence[EdishPoint],
    links: Links,
    study_id: str,
    *,
    hys_law: HysLaw,
    view: str = "uln",
) -> str:
    """The eDISH page; ``hys_law`` (the protocol's) places the quadrant lines the points were split by."""
    lines = (hys_law.transaminase_x_uln, hys_law.bilirubin_x_uln)
    rows = [
        {
            "subject": p.subject_id,
            "href": links.subject(p.subject_id),
            "alt_uln": _f(p.alt_x_uln),
            "bili_uln": _f(p.bili_x_uln),
            "alt_base": _f(p.alt_x_baseline),
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
        uln_svg=svg.edish_chart(points, "uln", *lines),
        baseline_svg=svg.edish_chart(points, "baseline", *lines),
        baseline=view == "baseline",
        rows=rows,
        hys_law_count=sum(1 for p in points if p.quadrant_uln == "hys_law"),
    )


def _f(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"
