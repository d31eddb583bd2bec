"""The safety pages and the ethics committee feed on the worker's web server (issue 7).

Routes (GET): ``/overview``, ``/alerts``, ``/subjects/{subject_id}``, ``/edish[?view=baseline]``,
``/feeds/ethics.atom``, ``/reports/safety-summary.{json,csv,html}``. Acknowledge buttons on ``/alerts`` and
``/overview`` post to ``/alerts/{alert_id}/ack`` (streams/web/acks.py); this module writes nothing.

Roles (SAFETY_AUTH_TOKENS, streams/web/auth.py): ``safety_officer`` and ``pi`` see everything, ``ethics`` sees
the feed and the reports. The token comes as ``Authorization: Bearer <token>`` or, for a browser,
``?token=<token>`` (carried on every link of the pages). With no tokens configured every page answers 403
and says how to set them.
HTML, SVG, Atom, CSV and JSON are built by streams.web.views and streams.web.feeds from the view models of
safety.reports, with the templates of streams/web/templates (streams/web/templating.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from safety.errors import SafetyError
from safety.reports import Report, edish_points, read_events, read_graded, subject_timeline
from safety.rules.ruleset import RuleSet
from safety.vocab import ROLES
from streams.rulefiles import load_ruleset
from streams.web import feeds
from streams.web import views as pages
from streams.web.auth import bearer_token, role_for_token
from streams.web.templating import render
from streams.worker.health import stale_banner

log = logging.getLogger(__name__)

OFFICER_ROLES = ("safety_officer", "pi")

# now -> (report, raw events, raw graded rows): the stream's view (streams.web.dashboard) or a fixture in tests
Source = Callable[[datetime], tuple[Report, list[Any], list[Any]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Pages:
    """The page handlers over a report source; ``routes()`` lists (method, path, handler).

    ``rules`` gives the worker's rule set (``lambda: ctx.rules``): the timelines draw its CTCAE bands and the
    eDISH plot its Hy's law lines. Without it the default study's rules are loaded once, on first use.
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
    ) -> None:
        self.source, self.tokens, self.clock, self.public_url, self.tz = source, tokens, clock, public_url, tz
        self.rules = rules or functools.cache(load_ruleset)
        self.stale = stale

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
        ]

    def _guard(self, allowed: tuple[str, ...], handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self.tokens:
                return _denied(
                    403,
                    "no role tokens are configured: set SAFETY_AUTH_TOKENS="
                    "'safety_officer:<token>,pi:<token>,ethics:<token>' and restart the worker",
                )
            token = bearer_token(request.headers) or request.query.get("token")
            if not token:
                return _denied(
                    401,
                    "sign in: send 'Authorization: Bearer <role token>' or open the page with ?token=<role token>",
                    challenge=True,
                )
            role = role_for_token(self.tokens, token)
            if role is None:
                return _denied(403, "token not recognised")
            if role not in allowed:
                return _denied(403, f"role {role} may open the feed and the reports only")
            banner = self.stale()
            if banner is not None:
                return _denied(503, banner, retry_after=10)
            return await handler(request)

        return guarded

    def _now(self) -> datetime:
        now = self.clock()
        return now.astimezone(self.tz) if self.tz is not None else now

    def _links(self, request: web.Request) -> pages.Links:
        """Links for the viewer, whose role decides which acknowledge buttons the page offers."""
        token = bearer_token(request.headers) or request.query.get("token")
        role = role_for_token(self.tokens, token) if token else None
        return pages.Links.live(request.query.get("token"), role)

    async def overview(self, request: web.Request) -> web.Response:
        report, _, _ = self.source(self._now())
        return _html(pages.overview_page(report, self._links(request)))

    async def alerts(self, request: web.Request) -> web.Response:
        report, _, _ = self.source(self._now())
        return _html(pages.alerts_page(report, self._links(request)))

    def _rules(self) -> RuleSet | web.Response:
        try:
            return self.rules()
        except SafetyError as exc:
            log.error("safety pages: rules could not be loaded: %s", exc)
            return _denied(503, f"the rules could not be loaded ({exc}); fix the rules file and restart")

    async def subject(self, request: web.Request) -> web.Response:
        code = request.match_info["subject_id"]
        report, events, graded = self.source(self._now())
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
        return _html(pages.subject_page(timeline, self._links(request)))

    async def edish(self, request: web.Request) -> web.Response:
        report, events, graded = self.source(self._now())
        rules = self._rules()
        if isinstance(rules, web.Response):
            return rules
        view = "baseline" if request.query.get("view") == "baseline" else "uln"
        tz = self.tz if self.tz is not None else rules.tz
        study = [e for e in read_events(events, tz) if e.study_id == report.overview.study_id]
        hys_law = rules.protocol.hys_law
        points = edish_points(study, criteria=rules.criteria, hys_law=hys_law, graded=read_graded(graded))
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
        report, _, _ = self.source(self._now())
        base = self.public_url or f"{request.scheme}://{request.host}"
        return web.Response(
            body=feeds.atom_feed(report, base_url=base).encode("utf-8"),
            headers={"Content-Type": "application/atom+xml; charset=utf-8"},
        )

    async def summary_json(self, request: web.Request) -> web.Response:
        report, _, _ = self.source(self._now())
        return web.Response(
            body=feeds.summary_json(report).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )

    async def summary_csv(self, request: web.Request) -> web.Response:
        report, _, _ = self.source(self._now())
        return web.Response(
            body=feeds.summary_csv(report).encode("utf-8"),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{report.overview.study_id}-summary.csv"',
            },
        )

    async def summary_html(self, request: web.Request) -> web.Response:
        report, _, _ = self.source(self._now())
        return _html(feeds.summary_html(report))


def _html(text: str) -> web.Response:
    return web.Response(body=text.encode("utf-8"), headers={"Content-Type": "text/html; charset=utf-8"})


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
    )
    add_routes(app.web.web_app.router, handlers)
    log.info(
        "safety pages: /overview /alerts /subjects/{code} /edish /feeds/ethics.atom "
        "/reports/safety-summary.{json,csv,html}"
    )
    return handlers


__all__ = ["Pages", "add_routes", "register"]
