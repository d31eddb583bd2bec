"""The safety pages and the ethics committee feed on the worker's web server.

Routes (GET): ``/overview``, ``/alerts[.csv]`` (filter and sort: ``kind``, ``status``, ``subject``, ``day_from``,
``day_to``, ``sort``, ``order``), ``/alerts/{alert_id}`` (basis, triggering values, deliveries, acknowledgements,
escalations, withdrawal, the SAE documents: streams/web/case_documents.py),
``/alerts/{alert_id}/documents/v{n}/{name}`` (a stored SAE report, CIOMS I or E2B(R3) file),
``/reports/overdue[.csv]``, ``/reports/completeness[.csv]`` (expected vs received data per subject and visit),
``/listings/ae[.csv]``, ``/listings/labs[.csv]`` (``min_grade``, ``subject``), ``/subjects/{subject_id}``
(``test``: the tests charted, repeated or comma-separated; ``view=early``: days 0-28 first),
``/edish[?view=baseline]``, ``/ethics`` (the committee's landing page), ``/feeds/ethics.atom`` and its page
``/feeds/ethics.html``, ``/reports/safety-summary.{json,csv,html}`` and its A4 PDF ``/reports/safety-summary.pdf``.
Acknowledge buttons on ``/alerts`` and ``/overview`` post to ``/alerts/{alert_id}/ack`` (streams/web/acks.py);
this module writes nothing.

Roles: ``safety_officer`` and ``pi`` see everything, ``ethics`` sees its landing page, the feed, the reports and
the pages of the alerts the feed carries (never a subject's data). Studies: every page, CSV and feed shows one
study's data, and a person whose studies (users file) do not include it gets 403 on all of them. A person signs
in at ``/login`` (users file, session cookie: streams/web/guard.py); a script sends ``Authorization: Bearer
<token>``, its person's own (streams/web/apitokens.py) or a role token (SAFETY_AUTH_TOKENS, streams/web/auth.py).
No credential is ever taken from a URL. With neither configured every page answers 403 and says how to set them.

HTML, SVG, Atom, CSV and JSON are built by streams.web.views and streams.web.ethics from the view models of
safety.reports, with the templates of streams/web/templates (streams/web/templating.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from safety.delivery.ledger import LedgerEntry, submission_refusal
from safety.errors import SafetyError
from safety.reports import (
    FEED_KINDS,
    AeRow,
    AlertQuery,
    Report,
    ae_listing,
    alert_detail,
    edish_points,
    lab_listing,
    read_events,
    read_graded,
    subject_timeline,
)
from safety.reports.completeness import VisitRow, visit_rows
from safety.rules.ruleset import RuleSet
from safety.rules.schedule import Schedule
from safety.vocab import ROLES
from streams.documents.store import CONTENT_TYPES, DocumentShelf
from streams.rulefiles import load_ruleset
from streams.web import case_documents, ethics
from streams.web import views as pages
from streams.web.auth import bearer_token
from streams.web.guard import CSRF, principal_of
from streams.web.templating import render
from streams.worker.health import stale_banner

log = logging.getLogger(__name__)

OFFICER_ROLES = ("safety_officer", "pi")

# now -> (report, raw events, raw graded rows): the stream's view (streams.web.dashboard) or a fixture in tests
Source = Callable[[datetime], tuple[Report, list[Any], list[Any]]]
DATA = web.RequestKey("report", tuple)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Pages:
    """The page handlers over a report source; ``routes()`` lists (method, path, handler).

    ``rules`` gives the worker's rule set (``lambda: ctx.rules``): the timelines draw its CTCAE bands and the
    eDISH plot its Hy's law lines. Without it the default study's rules are loaded once, on first use.
    ``ledger`` gives an alert's delivery ledger entry as the pages can read it (streams/web/dashboard.py), None
    when there is none yet: the alert page shows its deliveries and escalations. ``audit`` gives the alert's part of
    the audit trail (safety.audit, as the view keeps it): the alert page shows who did what, when and why.
    ``documents`` gives the table of the SAE documents (streams/documents/store.py), None when the worker makes none.
    ``stale`` says why the data cannot be trusted now (the broker is unreachable: streams/worker/health.py), else None;
    every page then answers 503 with that banner instead of stale data.
    """

    def __init__(
        self,
        source: Source,
        tokens: dict[str, str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        public_url: str | None = None,
        tz: Any = None,
        rules: Callable[[], RuleSet] | None = None,
        stale: Callable[[], str | None] = lambda: None,
        ledger: Callable[[str], LedgerEntry | None] = lambda alert_id: None,
        audit: Callable[[str], list[dict[str, Any]]] = lambda alert_id: [],
        documents: Callable[[], DocumentShelf | None] = lambda: None,
    ) -> None:
        self.source, self.tokens, self.clock, self.public_url, self.tz = source, tokens, clock, public_url, tz
        self.rules = rules or functools.cache(load_ruleset)
        self.stale = stale
        self.ledger = ledger
        self.audit = audit
        self.documents = documents

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/overview", self._guard(OFFICER_ROLES, self.overview)),
            ("GET", "/alerts", self._guard(OFFICER_ROLES, self.alerts)),
            ("GET", "/subjects/{subject_id}", self._guard(OFFICER_ROLES, self.subject)),
            ("GET", "/edish", self._guard(OFFICER_ROLES, self.edish)),
            ("GET", "/feeds/ethics.atom", self._guard(ROLES, self.feed)),
            ("GET", "/reports/safety-summary.json", self._guard(ROLES, self.summary_json)),
            ("GET", "/reports/safety-summary.csv", self._guard(ROLES, self.summary_csv)),
            ("GET", "/reports/safety-summary.html", self._guard(ROLES, self.summary_html)),
            ("GET", "/reports/safety-summary.pdf", self._guard(ROLES, self.summary_pdf)),
            ("GET", "/alerts.csv", self._guard(OFFICER_ROLES, self.alerts_csv)),
            ("GET", "/alerts/{alert_id}", self._guard(ROLES, self.alert)),
            ("GET", "/alerts/{alert_id}/documents/v{version:[0-9]+}/{name}", self._guard(ROLES, self.document)),
            ("GET", "/reports/overdue", self._guard(ROLES, self.overdue)),
            ("GET", "/reports/overdue.csv", self._guard(ROLES, self.overdue_csv)),
            ("GET", "/reports/completeness", self._guard(OFFICER_ROLES, self.completeness)),
            ("GET", "/reports/completeness.csv", self._guard(OFFICER_ROLES, self.completeness_csv)),
            ("GET", "/listings/ae", self._guard(OFFICER_ROLES, self.ae_listing)),
            ("GET", "/listings/ae.csv", self._guard(OFFICER_ROLES, self.ae_csv)),
            ("GET", "/listings/labs", self._guard(OFFICER_ROLES, self.lab_listing)),
            ("GET", "/listings/labs.csv", self._guard(OFFICER_ROLES, self.lab_csv)),
            ("GET", "/ethics", self._guard(ROLES, self.ethics)),
            ("GET", "/feeds/ethics.html", self._guard(ROLES, self.feed_html)),
        ]

    def _guard(self, allowed: tuple[str, ...], handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = principal_of(request, self.tokens)
            if principal is None and not self.tokens:
                return _denied(
                    403,
                    "nobody can sign in: set SAFETY_USERS_FILE (people) or SAFETY_AUTH_TOKENS="
                    "'safety_officer:<token>,pi:<token>,ethics:<token>' (scripts) and restart the worker",
                )
            if principal is None:
                if bearer_token(request.headers):
                    return _denied(403, "token not recognised")
                return _denied(
                    401,
                    "sign in at /login, or send 'Authorization: Bearer <role token>' from a script",
                    challenge=True,
                )
            role = principal.acting_role(allowed)
            if role is None:
                return _denied(403, f"role {'/'.join(principal.roles)} may open the feed and the reports only")
            banner = self.stale()
            if banner is not None:
                return _denied(503, banner, retry_after=10)
            data = self.source(self._now())
            study = data[0].overview.study_id
            if not principal.may_see(study):
                return _denied(403, f"study {study} is not among the studies the users file gives you")
            request[DATA] = data
            return await handler(request)

        return guarded

    @staticmethod
    def _data(request: web.Request) -> tuple[Report, list[Any], list[Any]]:
        """The report, events and graded rows the guard read for this request (once, after the scope check)."""
        return request[DATA]

    def _now(self) -> datetime:
        now = self.clock()
        return now.astimezone(self.tz) if self.tz is not None else now

    def _links(self, request: web.Request) -> pages.Links:
        """Links for the viewer, whose role decides which acknowledge buttons the page offers."""
        principal = principal_of(request, self.tokens)
        role = principal.acting_role(ROLES) if principal is not None else None
        person = principal.person if principal is not None else None
        return pages.Links.live_for(role, csrf=request.get(CSRF), person=person)

    async def overview(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _html(pages.overview_page(report, self._links(request)))

    async def alerts(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        links = self._links(request)
        query = _alert_query(request, report)
        if isinstance(query, str):
            return _html(pages.alerts_page(report, links, refusal=query), status=400)
        if not any(k in request.query for k in ("kind", "status", "subject", "day_from", "day_to", "sort")):
            query = AlertQuery(status="open")  # the list a day starts from: what is still to acknowledge
        return _html(pages.alerts_page(report, links, query))

    async def alerts_csv(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        query = _alert_query(request, report)
        if isinstance(query, str):
            return _denied(400, query)
        return _csv(pages.alerts_csv(report, query), f"{report.overview.study_id}-alerts.csv")

    def _role(self, request: web.Request) -> str | None:
        principal = principal_of(request, self.tokens)
        return principal.acting_role(ROLES) if principal is not None else None

    async def alert(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        report, events, graded = self._data(request)
        status = next((s for s in report.statuses if s.alert.alert_id == alert_id), None)
        if status is None:
            return _denied(404, f"no alert {alert_id!r} in this study's data; the alert list links every alert")
        principal = principal_of(request, self.tokens)
        if principal is None or not principal.may_see(status.alert.study_id):
            return _denied(403, f"study {status.alert.study_id} is not among the studies the users file gives you")
        if self._role(request) not in OFFICER_ROLES and status.alert.kind not in FEED_KINDS:
            return _denied(403, f"the ethics committee's pages show {', '.join(FEED_KINDS)} alerts only")
        rules = self._rules()
        tz = self.tz if self.tz is not None else (rules.tz if not isinstance(rules, web.Response) else None)
        detail = alert_detail(
            status,
            read_events(events, tz) if tz is not None else read_events(events),
            read_graded(graded),
            self.ledger(alert_id),
        )
        links = self._links(request)
        zone = report.overview.generated_at.tzinfo
        shelf = self.documents()
        case = shelf.case_of(alert_id) if shelf is not None else None
        documents = case_documents.documents_context(
            case,
            status,
            role=links.role,
            person=links.person,
            notes=shelf.notes(case.case_id) if shelf is not None and case is not None else [],
            tz=zone,
            submit=links.submit(alert_id)
            if links.submit is not None
            and status.state != "withdrawn"
            and submission_refusal(status.alert, links.role or "") is None
            else None,
        )
        return _html(
            pages.alert_page(
                detail, links, zone, report.overview.generated_at, trail=self.audit(alert_id), documents=documents
            )
        )

    async def document(self, request: web.Request) -> web.Response:
        """A stored document of the alert's case, to the roles that may open the alert's page."""
        alert_id, name = request.match_info["alert_id"], request.match_info["name"]
        report, _, _ = self._data(request)
        status = next((s for s in report.statuses if s.alert.alert_id == alert_id), None)
        if status is None:
            return _denied(404, f"no alert {alert_id!r} in this study's data; the alert list links every alert")
        principal = principal_of(request, self.tokens)
        if principal is None or not principal.may_see(status.alert.study_id):
            return _denied(403, f"study {status.alert.study_id} is not among the studies the users file gives you")
        if self._role(request) not in OFFICER_ROLES and status.alert.kind not in FEED_KINDS:
            return _denied(403, f"the ethics committee's pages show {', '.join(FEED_KINDS)} alerts only")
        shelf = self.documents()
        case = shelf.case_of(alert_id) if shelf is not None else None
        version = int(request.match_info["version"])
        data = shelf.file(case.case_id, version, name) if shelf is not None and case is not None else None
        if data is None or name not in CONTENT_TYPES:
            return _denied(404, f"no document {name!r} of version {version} for this alert; its page lists them")
        return web.Response(
            body=data,
            headers={
                "Content-Type": CONTENT_TYPES[name],
                "Content-Disposition": f'attachment; filename="{case.case_id if case else alert_id}-v{version}-{name}"',
            },
        )

    async def overdue(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _html(pages.overdue_page(report, self._links(request)))

    async def overdue_csv(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _csv(pages.overdue_csv(report), f"{report.overview.study_id}-overdue.csv")

    def _visits(self) -> tuple[Report, list[VisitRow], Schedule] | web.Response:
        """Expected vs received per subject and visit at the report's time (safety/reports/completeness.py)."""
        report, events, _ = self.source(self._now())
        rules = self._rules()
        if isinstance(rules, web.Response):
            return rules
        tz = self.tz if self.tz is not None else rules.tz
        study = [e for e in read_events(events, tz) if e.study_id == report.overview.study_id]
        schedule = rules.protocol.schedule
        return report, visit_rows(study, schedule, tz, report.overview.generated_at), schedule

    async def completeness(self, request: web.Request) -> web.Response:
        found = self._visits()
        if isinstance(found, web.Response):
            return found
        return _html(pages.completeness_page(*found, self._links(request)))

    async def completeness_csv(self, request: web.Request) -> web.Response:
        found = self._visits()
        if isinstance(found, web.Response):
            return found
        report, rows, _ = found
        return _csv(pages.completeness_csv(report, rows), f"{report.overview.study_id}-completeness.csv")

    def _ae_rows(self, events: list[Any], report: Report) -> tuple[list[AeRow], Any] | web.Response:
        rules = self._rules()
        if isinstance(rules, web.Response):
            return rules
        tz = self.tz if self.tz is not None else rules.tz
        study = [e for e in read_events(events, tz) if e.study_id == report.overview.study_id]
        return ae_listing(study, tz, rules.criteria), tz

    async def ae_listing(self, request: web.Request) -> web.Response:
        report, events, _ = self._data(request)
        rows = self._ae_rows(events, report)
        if isinstance(rows, web.Response):
            return rows
        return _html(pages.ae_listing_page(rows[0], self._links(request), report.overview.study_id, rows[1]))

    async def ae_csv(self, request: web.Request) -> web.Response:
        report, events, _ = self._data(request)
        rows = self._ae_rows(events, report)
        if isinstance(rows, web.Response):
            return rows
        return _csv(pages.ae_csv(*rows), f"{report.overview.study_id}-ae-listing.csv")

    def _labs(self, request: web.Request, report: Report, graded: list[Any]) -> tuple[list[Any], int] | str:
        raw = request.query.get("min_grade") or "1"
        if raw not in ("0", "1", "2", "3", "4", "5"):
            return f"min_grade={raw!r} is not a CTCAE grade: use 0 (every value) to 5"
        rows = lab_listing(
            [g for g in read_graded(graded) if g.study_id == report.overview.study_id],
            min_grade=int(raw),
            subject=(request.query.get("subject") or "").strip() or None,
        )
        return rows, int(raw)

    async def lab_listing(self, request: web.Request) -> web.Response:
        report, _, graded = self._data(request)
        labs = self._labs(request, report, graded)
        if isinstance(labs, str):
            return _denied(400, labs)
        subject = (request.query.get("subject") or "").strip() or None
        page = pages.lab_listing_page(
            labs[0],
            self._links(request),
            report.overview.study_id,
            report.overview.generated_at.tzinfo,
            labs[1],
            subject,
        )
        return _html(page)

    async def lab_csv(self, request: web.Request) -> web.Response:
        report, _, graded = self._data(request)
        labs = self._labs(request, report, graded)
        if isinstance(labs, str):
            return _denied(400, labs)
        text = pages.lab_csv(labs[0], report.overview.generated_at.tzinfo)
        return _csv(text, f"{report.overview.study_id}-lab-listing.csv")

    async def ethics(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _html(pages.ethics_page(report, self._links(request), self._case_lookup()))

    async def feed_html(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _html(pages.feed_page(report, self._links(request), self._case_lookup()))

    def _case_lookup(self) -> pages.CaseLookup | None:
        """The stored documents of an alert's case, when the worker keeps them."""
        shelf = self.documents()
        return shelf.case_of if shelf is not None else None

    def _rules(self) -> RuleSet | web.Response:
        try:
            return self.rules()
        except SafetyError as exc:
            log.error("safety pages: rules could not be loaded: %s", exc)
            return _denied(503, f"the rules could not be loaded ({exc}); fix the rules file and restart")

    async def subject(self, request: web.Request) -> web.Response:
        code = request.match_info["subject_id"]
        report, events, graded = self._data(request)
        if code not in report.subjects:
            return _denied(404, f"no subject {code!r} in this study's data")
        rules = self._rules()
        if isinstance(rules, web.Response):
            return rules
        tz = self.tz if self.tz is not None else rules.tz
        timeline = subject_timeline(
            code,
            read_events(events, tz),
            read_graded(graded),
            report.statuses,
            criteria=rules.criteria,
            tz=tz,
        )
        tests = [t for raw in request.query.getall("test", []) for t in raw.split(",") if t]
        view = request.query.get("view", "all")
        return _html(pages.subject_page(timeline, self._links(request), tests, view))

    async def edish(self, request: web.Request) -> web.Response:
        report, events, graded = self._data(request)
        rules = self._rules()
        if isinstance(rules, web.Response):
            return rules
        view = "baseline" if request.query.get("view") == "baseline" else "uln"
        tz = self.tz if self.tz is not None else rules.tz
        study = [e for e in read_events(events, tz) if e.study_id == report.overview.study_id]
        hys_law = rules.protocol.hys_law
        points = edish_points(
            study, criteria=rules.criteria, hys_law=hys_law, graded=read_graded(graded), statuses=report.statuses
        )
        return _html(
            pages.edish_page(
                points,
                self._links(request),
                report.overview.study_id,
                hys_law=hys_law,
                view=view,
            )
        )

    async def feed(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        base = self.public_url or f"{request.scheme}://{request.host}"
        return web.Response(
            body=ethics.atom_feed(report, base_url=base, documents=self._case_lookup()).encode("utf-8"),
            headers={"Content-Type": "application/atom+xml; charset=utf-8"},
        )

    async def summary_json(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return web.Response(
            body=ethics.summary_json(report).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    async def summary_csv(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return web.Response(
            body=ethics.summary_csv(report).encode("utf-8"),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{report.overview.study_id}-summary.csv"',
            },
        )

    async def summary_html(self, request: web.Request) -> web.Response:
        report, _, _ = self._data(request)
        return _html(ethics.summary_html(report, stylesheet="/static/summary.css", pdf="/reports/safety-summary.pdf"))

    async def summary_pdf(self, request: web.Request) -> web.Response:
        """The summary as an A4 PDF to print and file (streams/documents/summary_pdf.py)."""
        from streams.documents.summary_pdf import summary_pdf  # fpdf2 loads only when a PDF is asked for

        report, _, _ = self._data(request)
        try:
            body = summary_pdf(report)
        except SafetyError as exc:  # the CJK font is missing: the message says which package installs it
            log.error("safety pages: the summary PDF could not be made: %s", exc)
            return _denied(503, str(exc))
        stamp = report.overview.generated_at.strftime("%Y%m%d-%H%M")
        return web.Response(
            body=body,
            headers={
                "Content-Type": "application/pdf",
                "Content-Disposition": f'inline; filename="{report.overview.study_id}-safety-summary-{stamp}.pdf"',
            },
        )


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=text.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"})


def _csv(text: str, filename: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _alert_query(request: web.Request, report: Report) -> AlertQuery | str:
    """The alert list's filter from the query string, or why it cannot be used."""
    try:
        return AlertQuery.parse(request.query, sorted({str(s.alert.kind) for s in report.statuses}))
    except SafetyError as exc:
        return str(exc)


def _denied(status: int, message: str, challenge: bool = False, retry_after: int | None = None) -> web.Response:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if challenge:
        headers["WWW-Authenticate"] = 'Bearer realm="safety"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = render("refusal.html", status=status, message=message)
    return web.Response(status=status, body=body.encode("utf-8"), headers=headers)


def add_routes(router: web.UrlDispatcher, handlers: Pages) -> None:
    for method, path, handler in handlers.routes():
        router.add_route(method, path, handler)


def register(app: Any, ctx: Any) -> Pages:
    """Worker plug-in (streams.worker.app.PLUGINS): the dashboard view agents and these routes on faust's web app."""
    from streams.web import dashboard

    dashboard.register(app, ctx)
    tokens = ctx.settings.auth.role_tokens()
    if not tokens:
        log.warning("SAFETY_AUTH_TOKENS is not set: the safety pages and the ethics feed answer 403")

    def source(now: datetime) -> tuple[Report, list[Any], list[Any]]:
        return dashboard.current_report(ctx, now)

    handlers = Pages(
        source,
        tokens,
        public_url=ctx.settings.web.public_url,
        rules=lambda: ctx.rules,
        stale=lambda: stale_banner(app, ctx.broker_health),
        ledger=lambda alert_id: dashboard.ledger_entry(ctx, alert_id),
        audit=lambda alert_id: dashboard.audit_trail(ctx, alert_id),
        documents=lambda: ctx.tables.extra.get("case_documents_shelf"),
    )
    add_routes(app.web.web_app.router, handlers)
    log.info(
        "safety pages: /overview /alerts /alerts/{id} /reports/{overdue,completeness} /listings/{ae,labs} "
        "/subjects/{code} /edish /ethics /feeds/ethics.{atom,html} /reports/safety-summary.{json,csv,html,pdf} "
        "/alerts/{id}/documents/v{n}/{name}"
    )
    return handlers


__all__ = ["Pages", "add_routes", "register"]
