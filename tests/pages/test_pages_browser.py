"""The safety pages in a real headless browser (Debian chromium driven by playwright).

Two page sets are served on loopback ports: the static pages of ``safety report`` (the synthetic 48-subject
trial run through ``safety replay``, and the hand-written fixture whose numbers are known), and the worker's
own handlers (streams.web.pages + streams.web.acks on an aiohttp server, fed the fixture)
to click an acknowledge button.
Every page must render without console errors and show the summary's numbers. Screenshots go to
test-artifacts/; docs/overview.png (the README's picture) is written when missing or when
SAFETY_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import report_fixtures as fx

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKENS = {"tok-so": "safety_officer", "tok-pi": "pi", "tok-ethics": "ethics"}
LINK_SECRET = "browser-test-link-secret"
PASSWORD = "browser test password 7f3a"
IDLE = {"offset": 0.0}  # seconds the session clock runs ahead of real time (session expiry)

if not Path(CHROMIUM).exists():  # pragma: no cover - the Makefile's `browser` target installs it
    if os.environ.get("CI"):  # in CI the page tests must run, never skip quietly
        raise RuntimeError("Debian chromium is not installed: `make test` installs it (make browser)")
    pytest.skip("Debian chromium is not installed (make browser)", allow_module_level=True)


def _serve_folder(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """`safety replay` then `safety report` on the synthetic trial, served statically."""
    from streams.cli import main
    from streams.cli.replay import run
    from streams.dev.synthetic import generate_trial

    base = tmp_path_factory.mktemp("synthetic")
    trial = base / "trial.jsonl"
    trial.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in generate_trial()), encoding="utf-8")
    assert run(trial, base / "replay", None, quiet=True) == 0
    assert main(["report", "--from-replay", str(base / "replay"), "--out", str(base / "report"), "--quiet"]) == 0
    summary = json.loads((base / "report" / "safety-summary.json").read_text(encoding="utf-8"))
    url, server = _serve_folder(base / "report")
    yield url, summary
    server.shutdown()


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from streams.cli import main

    base = tmp_path_factory.mktemp("fixture")
    fx.write_replay_folder(base / "replay")
    assert (
        main(
            [
                "report",
                "--from-replay",
                str(base / "replay"),
                "--out",
                str(base / "report"),
                "--generated-at",
                fx.GENERATED_AT.isoformat(),
                "--quiet",
            ]
        )
        == 0
    )
    url, server = _serve_folder(base / "report")
    yield url
    server.shutdown()


@pytest.fixture(scope="module")
def live_site() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The worker's page and ack handlers (no broker): acks are captured instead of sent to safety.acks."""
    from aiohttp import web

    from safety.reports import build_report
    from streams.web.acks import AckEndpoints, ViewDirectory
    from streams.web.acks import add_routes as add_ack_routes
    from streams.web.dashboard import ack_key, alert_key
    from streams.web.pages import Pages
    from streams.web.pages import add_routes as add_page_routes

    published: list[dict[str, Any]] = []
    view = {alert_key(a["alert_id"]).encode(): json.dumps(a).encode() for a in fx.alerts()}

    async def publish(alert_id: str, event: dict[str, Any]) -> None:
        published.append(event)
        key = ack_key(alert_id).encode()
        view[key] = json.dumps(json.loads(view.get(key, b"[]")) + [event]).encode()

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return (
            build_report(fx.events(), fx.alerts(), fx.acks(), study_id=fx.STUDY, generated_at=now),
            fx.events(),
            fx.graded(),
        )

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        import time

        from argon2 import PasswordHasher

        from streams.web.guard import Guard, install
        from streams.web.session import Sessions
        from streams.web.users import load_users

        hashed = PasswordHasher().hash(PASSWORD)
        users = Path(os.environ.get("TMPDIR", "/tmp")) / f"browser-users-{os.getpid()}.yaml"  # noqa: S108
        users.write_text(
            "users:\n"
            + "".join(
                f"  - {{name: {n}, display: {d}, roles: [{r}], studies: ['*'], password_hash: '{hashed}'}}\n"
                for n, d, r in (
                    ("officer", "Officer On Duty", "safety_officer"),
                    ("dr.pi", "Dr PI", "pi"),
                    ("clerk", "EC Clerk", "ethics"),
                )
            ),
            encoding="utf-8",
        )
        app = web.Application()
        people = load_users(users)
        install(
            app,
            Guard(
                tokens=dict(TOKENS),
                sessions=Sessions(LINK_SECRET * 2, 30 * 60, False, lambda: time.time() + IDLE["offset"]),
                users=people,
            ),
        )
        add_page_routes(
            app.router,
            Pages(
                source,
                dict((t, r) for t, r in TOKENS.items()),
                clock=lambda: fx.GENERATED_AT,
                ledger=_ledger_of,
            ),
        )
        acks = AckEndpoints(
            dict(TOKENS),
            LINK_SECRET,
            publish,
            ViewDirectory(view),
            clock=lambda: fx.GENERATED_AT,
            time_zone="Asia/Shanghai",
            users=people,
        )
        add_ack_routes(app.router, acks)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        ready.set()

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run_loop, daemon=True)
    thread.start()
    assert ready.wait(20)
    yield f"http://127.0.0.1:{holder['port']}", published
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(20)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(20)


def _ledger_of(alert_id: str) -> Any:
    """A delivery ledger entry for the SAE of AA-002: its email went out on the second attempt, then an
    escalation to the safety officer (what the delivery stage writes to safety.deliveries)."""
    from datetime import timedelta

    from safety.delivery.ledger import Attempt, EscalationRecord, Target, open_entry
    from safety.model.outputs import Alert

    raw = next((a for a in fx.alerts() if a["alert_id"] == alert_id), None)
    if raw is None or (raw["kind"], raw["subject_id"]) != ("SAE", "AA-002"):
        return None
    alert = Alert.model_validate(raw)
    entry = open_entry(alert, [Target(channel="mail-pi", recipient="pi", scheme="mailto")], alert.raised_at)
    sent = entry.deliveries[0].model_copy(
        update={
            "state": "delivered",
            "attempts": (
                Attempt(number=1, at=alert.raised_at, outcome="failed", error="SMTP 451 try again later"),
                Attempt(number=2, at=alert.raised_at + timedelta(minutes=1), outcome="delivered"),
            ),
        }
    )
    escalation = EscalationRecord(reason="UNACKNOWLEDGED", at=alert.raised_at + timedelta(hours=2))
    return entry.model_copy(update={"deliveries": (sent,), "escalations": (escalation,)})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors
    yield pg
    context.close()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _pct(ci: list[float]) -> str:
    return f"{ci[0] * 100:.1f}% – {ci[1] * 100:.1f}%"


def test_overview_of_the_synthetic_trial_shows_the_summary_numbers(page: Any, synthetic_site: Any) -> None:
    url, summary = synthetic_site
    page.goto(f"{url}/overview.html")
    text = page.get_by_test_id
    assert text("subjects-infused").inner_text() == str(summary["subjects_infused"]) == "48"
    assert text("subjects-with-dlt").inner_text() == str(summary["subjects_with_dlt"])
    assert text("dlt-ci").inner_text() == _pct(summary["dlt_rate_ci95"])
    assert text("subjects-with-sae").inner_text() == str(summary["subjects_with_sae"])
    assert text("sae-ci").inner_text() == _pct(summary["sae_rate_ci95"])
    assert text("stopping-probability").inner_text() == f"{summary['stopping_probability']:.3f}"
    assert ("YES" in text("stopping-crossed").inner_text()) is summary["stopping_boundary_crossed"]
    posterior = page.locator('svg[data-chart="posterior"]')
    assert int(posterior.get_attribute("data-points")) > 3
    assert page.locator('svg[data-chart="posterior"] line.boundary').get_attribute("data-boundary") == "0.9"
    open_rows = page.locator('table[data-testid="open-alerts"] tbody tr')
    assert open_rows.count() == sum(summary["open_alerts"].values())
    assert page.console_errors == []
    shot = _shot(page, "overview-synthetic.png")
    docs = ROOT / "docs" / "overview.png"
    if not docs.exists() or os.environ.get("SAFETY_UPDATE_SCREENSHOTS") == "1":
        docs.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, docs)


def test_subject_timeline_draws_every_graded_test_with_baseline_and_markers(page: Any, synthetic_site: Any) -> None:
    url, _ = synthetic_site
    page.goto(f"{url}/subject-AA-001.html")
    for test in ("NEUT", "PLAT", "HGB", "ALT", "AST", "BILI", "CREAT", "K", "SODIUM", "TEMP", "SYSBP", "QTCF"):
        chart = page.locator(f'svg[data-chart="lab-{test}"][data-view="all"]')
        assert chart.count() == 1, test
        assert int(chart.get_attribute("data-points")) > 0, test
    neut = 'svg[data-chart="lab-NEUT"][data-view="all"]'
    assert page.locator(f"{neut} line.baseline").count() == 1
    assert page.locator(f"{neut} rect.band").count() >= 2
    assert page.locator(f"{neut} line.marker-infusion").count() >= 1
    assert page.get_by_test_id("day0").inner_text() != ""
    assert page.locator('table[data-testid="subject-alerts"] tbody tr').count() >= 1
    assert page.console_errors == []
    _shot(page, "subject-AA-001.png")


def test_days_0_to_28_show_potassium_and_qtc_and_a_qtc_point_opens_its_alert(page: Any, synthetic_site: Any) -> None:
    """The officer goes from the QTc alert in the list to the subject's first four weeks, then back to the alert
    from the value that raised it."""
    url, _ = synthetic_site
    page.goto(f"{url}/alerts.html")
    row = page.locator('table[data-testid="open-alerts"] tr', has_text="SUSPECTED_DLT-ECG").first
    alert_id = row.get_attribute("data-alert-id")
    row.locator("td").nth(1).locator("a").click()
    page.get_by_test_id("range-early").click()
    early, whole = page.get_by_test_id("charts-early"), page.get_by_test_id("charts-all")
    assert early.is_visible() and not whole.is_visible()
    qtc = early.locator('svg[data-chart="lab-QTCF"]')
    assert qtc.is_visible() and early.locator('svg[data-chart="lab-K"] circle.point').count() >= 1
    assert early.locator("svg text", has_text="28").count() >= 1
    assert page.console_errors == []
    _shot(page, "subject-days-0-28.png")
    qtc.locator(f'a.to-alert[data-alert-id="{alert_id}"]').click()
    page.wait_for_url(f"{url}/alert-{alert_id}.html")
    assert "SUSPECTED_DLT" in page.locator("h1").inner_text()


def test_edish_plots_every_subject_and_toggles_to_baseline_multiples(page: Any, synthetic_site: Any) -> None:
    url, _ = synthetic_site
    page.goto(f"{url}/edish.html")
    uln = page.locator('svg[data-chart="edish-uln"]')
    assert int(uln.get_attribute("data-points")) == page.locator('svg[data-chart="edish-uln"] circle').count() > 40
    assert page.locator('svg[data-chart="edish-uln"] line.alt-line').get_attribute("data-value") == "3"
    assert page.locator('svg[data-chart="edish-uln"] line.bili-line').get_attribute("data-value") == "2"
    hys = int(page.get_by_test_id("hys-law-count").inner_text())
    assert hys >= 1  # the synthetic trial has a Hy's law case
    assert page.locator('svg[data-chart="edish-uln"] circle[data-quadrant="hys_law"]').count() == hys
    assert page.get_by_test_id("edish-uln").is_visible() and not page.get_by_test_id("edish-baseline").is_visible()
    _shot(page, "edish-uln.png")
    page.locator('label[for="view-baseline"]').click()
    assert page.get_by_test_id("edish-baseline").is_visible() and not page.get_by_test_id("edish-uln").is_visible()
    assert page.console_errors == []
    _shot(page, "edish-baseline.png")


def test_fixture_overview_shows_the_known_stopping_numbers(page: Any, fixture_site: str) -> None:
    page.goto(f"{fixture_site}/overview.html")
    t = page.get_by_test_id
    assert (t("subjects-infused").inner_text(), t("subjects-with-dlt").inner_text()) == ("3", "2")
    assert t("dlt-ci").inner_text() == "9.4% – 99.2%"  # Clopper-Pearson 2/3
    assert t("stopping-probability").inner_text() == "0.916"  # a worked value of docs/rules.md
    assert "YES" in t("stopping-crossed").inner_text()
    assert page.console_errors == []
    page.goto(f"{fixture_site}/safety-summary.html")
    assert page.get_by_test_id("subjects-with-sae").inner_text() == "2"
    assert page.locator('table[data-testid="line-listing"] tbody tr').count() == 3
    assert page.console_errors == []
    _shot(page, "summary-fixture.png")


_SESSIONS: dict[tuple[str, str], list[Any]] = {}
"""(site, person) -> the session cookies of that person's first sign-in on that site."""


def _sign_in(page: Any, url: str, name: str, next_path: str) -> None:
    """Signed in as ``name`` at ``next_path``. A person signs in through the form once per site; later tests carry
    the session cookie, as a browser that stays signed in does. The site allows 10 sign-ins per address in 5
    minutes (streams/web/guard.py), fewer than this module's tests: signing in afresh for each one failed on a
    machine fast enough to run them all within the window. A cookie the site no longer accepts (signed out) gets
    the form again."""
    cookies = _SESSIONS.get((url, name))
    if cookies:
        page.context.add_cookies(cookies)
        page.goto(f"{url}{next_path}")
        if page.url == f"{url}{next_path}":
            return
    page.goto(f"{url}{next_path}")  # not signed in: the browser is sent to the sign-in page
    page.locator("#name").fill(name)
    page.locator("#password").fill(PASSWORD)
    page.get_by_test_id("login-button").click()
    page.wait_for_url(f"{url}{next_path}")
    _SESSIONS[(url, name)] = page.context.cookies()


def test_live_overview_acknowledge_button_posts_to_the_ack_endpoint(page: Any, live_site: Any) -> None:
    url, published = live_site
    _sign_in(page, url, "officer", "/overview")
    assert page.get_by_test_id("subjects-infused").inner_text() == "3"
    row = page.locator('table[data-testid="open-alerts"] tr[data-kind="SAE"]').first
    alert_id = row.get_attribute("data-alert-id")
    form = row.locator("form").first
    form.locator('input[name="who"]').fill("safety officer on duty")
    form.locator('input[name="conclusion"]').fill("reviewed")
    form.get_by_test_id("ack-button").click()
    page.wait_for_function(f"document.querySelector('tr[data-alert-id=\"{alert_id}\"] .ack-status').textContent !== ''")
    assert "recorded" in form.locator(".ack-status").inner_text()
    assert ("ack", alert_id, "Officer On Duty", "safety_officer") in [  # the person signed in
        (e["type"], e["alert_id"], e["who"], e["role"]) for e in published
    ]
    assert page.console_errors == []
    _shot(page, "overview-live.png")


def test_live_subject_and_edish_pages_render_for_the_pi(page: Any, live_site: Any) -> None:
    url, _ = live_site
    _sign_in(page, url, "dr.pi", "/subjects/AA-001")
    assert page.locator('svg[data-chart="lab-ALT"][data-view="all"] circle.point').count() == 4
    page.goto(f"{url}/edish?view=baseline")
    assert page.get_by_test_id("edish-baseline").is_visible()
    assert page.console_errors == []


def test_the_ethics_committee_cannot_open_the_overview_in_the_browser(page: Any, live_site: Any) -> None:
    url, _ = live_site
    _sign_in(page, url, "clerk", "/feeds/ethics.atom")
    response = page.goto(f"{url}/overview")
    assert response.status == 403


def test_a_token_in_the_url_opens_nothing(page: Any, live_site: Any) -> None:
    url, _ = live_site
    assert page.goto(f"{url}/overview?token=tok-so").status == 400


def test_sign_out_and_an_idle_session_both_send_the_browser_back_to_sign_in(page: Any, live_site: Any) -> None:
    url, _ = live_site
    _sign_in(page, url, "officer", "/alerts")
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{url}/login")
    page.goto(f"{url}/alerts")
    assert page.url == f"{url}/login?next=/alerts"
    _sign_in(page, url, "officer", "/alerts")
    IDLE["offset"] = 31 * 60.0
    try:
        page.goto(f"{url}/overview")
        assert page.url == f"{url}/login?next=/overview"
    finally:
        IDLE["offset"] = 0.0


def test_a_post_without_the_pages_csrf_token_is_refused(page: Any, live_site: Any) -> None:
    """A script that posts with the officer's session cookie but not the page's CSRF token: refused."""
    url, published = live_site
    _sign_in(page, url, "officer", "/alerts")
    before = len(published)
    alert_id = page.locator('table[data-testid="open-alerts"] tr[data-kind="SAE"]').first.get_attribute("data-alert-id")
    status = page.evaluate(
        "async (u) => (await fetch(u, {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({who: 'x', conclusion: 'forged'})})).status",
        f"{url}/alerts/{alert_id}/ack",
    )
    assert status == 403 and len(published) == before  # same origin but no CSRF token


def test_live_pi_marks_an_sae_report_submitted_to_the_ethics_committee(page: Any, live_site: Any) -> None:
    url, published = live_site
    _sign_in(page, url, "dr.pi", "/alerts")
    row = page.locator('table[data-testid="open-alerts"] tr[data-kind="SAE"]').first
    alert_id = row.get_attribute("data-alert-id")
    form = row.locator("form").nth(1)
    form.locator('input[name="who"]').fill("principal investigator")
    form.locator('input[name="reference"]').fill("EC-2026-017")
    form.get_by_test_id("submit-button").click()
    status = form.locator(".ack-status")
    status.filter(has_text="recorded").wait_for()
    assert ("ethics_submitted", alert_id, "pi", "EC-2026-017") in [
        (e["type"], e["alert_id"], e["role"], e.get("reference")) for e in published
    ]
    assert page.console_errors == []


def test_the_acknowledgement_link_page_is_readable_on_a_phone_and_acknowledges_once(
    browser: Any, live_site: Any
) -> None:
    """A 390 px wide phone (the WeCom/DingTalk in-app browser): the alert is legible without zooming or
    scrolling sideways, the button acknowledges, and opening the link again says who acknowledged it, when."""
    from streams.web.auth import ack_link

    url, published = live_site
    sae = next(a for a in fx.alerts() if a["kind"] == "SAE" and a["subject_id"] == "AA-002")
    expires = int(fx.GENERATED_AT.timestamp()) + 7 * 86400
    link = ack_link(url, LINK_SECRET, sae["alert_id"], "pi", expires, person="dr.pi", signin=False)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(link)
        summary = page.get_by_test_id("alert-summary")

        def shown(label: str) -> str:
            return str(summary.locator(f"tr:has(th:text-is('{label}')) td").inner_text())

        assert (shown("Subject"), shown("Kind"), shown("CTCAE term")) == ("AA-002", "SAE", sae["ctcae_term"])
        assert (shown("Grade"), shown("Study day")) == (str(sae["grade"]), str(sae["study_day"]))
        assert "CST" in shown("Due") and summary.locator("ul li").count() >= 2  # basis, in both languages
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        smallest = page.evaluate(
            "Math.min(...[...document.querySelectorAll('th, td, li, label, button, input:not([type=hidden])')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
        )
        assert smallest >= 14
        button = page.get_by_test_id("ack-button").bounding_box()
        assert button is not None and button["x"] >= 0 and button["x"] + button["width"] <= 390
        assert button["height"] >= 44  # a finger-sized target
        _shot(page, "ack-link-phone.png")
        assert page.get_by_test_id("ack-as").inner_text().endswith("Dr PI")  # the person it was sent to
        page.get_by_test_id("ack-button").click()
        page.get_by_test_id("notice-done").wait_for()
        assert ("ack", sae["alert_id"], "pi", "link") in [
            (e["type"], e["alert_id"], e["role"], e["via"]) for e in published
        ]
        page.goto(link)  # the same link again, as another member of the group chat would
        notice = page.get_by_test_id("notice-done").inner_text()
        assert "Already acknowledged by Dr PI at 2026-09-01 12:00 CST" in notice
        assert page.get_by_test_id("ack-form").count() == 0
        _shot(page, "ack-link-phone-used.png")
        assert errors == []
    finally:
        context.close()


def test_a_group_chat_link_opened_by_another_member_acknowledges_nothing(page: Any, live_site: Any) -> None:
    """The PI's link, seen by the whole WeCom group: another member is sent to sign in, and signed in as
    themselves is told whose link it is; nothing is recorded."""
    from streams.web.auth import ack_link

    url, published = live_site
    sae = next(a for a in fx.alerts() if a["kind"] == "SAE" and a["subject_id"] == "AA-002")
    expires = int(fx.GENERATED_AT.timestamp()) + 86400
    before = len(published)
    page.goto(ack_link(url, LINK_SECRET, sae["alert_id"], "pi", expires, person="dr.pi", signin=True))
    page.get_by_test_id("sign-in").click()
    page.locator("#name").fill("clerk")
    page.locator("#password").fill(PASSWORD)
    page.get_by_test_id("login-button").click()
    page.wait_for_url("**/ack?**")
    assert "sent to Dr PI; you are signed in as EC Clerk" in page.get_by_test_id("notice-refused").inner_text()
    assert page.get_by_test_id("ack-form").count() == 0 and len(published) == before


def test_officer_filters_overdue_reports_and_opens_an_alerts_history(page: Any, live_site: Any) -> None:
    """The safety officer's day: the overview's overdue count opens the list of overdue reports, which says who
    must act; the alert list filtered to overdue (a GET form, no script) opens the alert's page with its basis,
    deliveries per channel and escalations."""
    url, _ = live_site
    _sign_in(page, url, "officer", "/overview")
    page.get_by_test_id("overdue-reports").locator("a").click()
    page.get_by_test_id("overdue-reports").wait_for()
    rows = page.locator('table[data-testid="overdue-reports"] tbody tr[data-alert-id]')
    assert rows.count() >= 1
    assert "pi: submit the ethics committee report (overdue)" in rows.first.get_by_test_id("to-act").inner_text()
    _shot(page, "overdue-reports.png")
    page.goto(f"{url}/alerts")
    form = page.get_by_test_id("alert-filters")
    form.locator('select[name="status"]').select_option("overdue")
    form.locator('select[name="kind"]').select_option("SAE")
    form.get_by_test_id("filter-button").click()
    page.wait_for_url("**status=overdue**")
    assert "token" not in page.url  # the filter form carries no credential: the session cookie does
    listed = page.locator('table[data-testid="open-alerts"] tbody tr[data-alert-id]')
    assert listed.count() == 1 and listed.first.get_attribute("data-overdue") == "1"
    _shot(page, "alerts-overdue.png")
    listed.first.get_by_test_id("alert-link").click()
    page.get_by_test_id("alert-title").wait_for()
    assert page.get_by_test_id("alert-term").inner_text() == "Lung infection"
    assert "overdue" in page.get_by_test_id("alert-state").inner_text()
    deliveries = page.locator('table[data-testid="deliveries"] tbody tr')
    assert deliveries.count() == 1 and "SMTP 451" in deliveries.first.inner_text()
    assert "UNACKNOWLEDGED" in page.get_by_test_id("escalations").inner_text()
    assert page.console_errors == []
    _shot(page, "alert-page.png")


def test_committee_opens_its_feed_entry_and_reaches_the_alert_page(page: Any, live_site: Any) -> None:
    """The ethics committee lands on its page, opens the feed as a page (not raw XML), and an entry opens the
    alert's page, which its role may see; nothing there links to a subject's data it may not open."""
    url, _ = live_site
    _sign_in(page, url, "clerk", "/ethics")
    assert page.console_errors == []
    _shot(page, "ethics-landing.png")
    page.get_by_test_id("feed-html-link").click()
    entries = page.locator("article.entry")
    entries.first.wait_for()
    assert entries.count() >= 3
    _shot(page, "ethics-feed.png")
    sae = page.locator('article.entry[data-kind="SAE"]').first
    sae.get_by_test_id("entry-link").click()
    page.get_by_test_id("alert-title").wait_for()
    assert page.url.split("?")[0].startswith(f"{url}/alerts/")
    assert page.locator('a[href*="/subjects/"]').count() == 0
    assert page.console_errors == []
    _shot(page, "ethics-alert-page.png")


def test_committee_opens_the_printed_summary_and_its_a4_pdf(page: Any, live_site: Any) -> None:
    """From its landing page the committee opens the summary to print: data cut-off, the boundary's crossing with
    x of n, codes in words; its PDF link answers an A4 PDF for the signed-in session."""
    url, _ = live_site
    _sign_in(page, url, "clerk", "/ethics")
    page.locator('a[href="/reports/safety-summary.html"]').first.click()
    page.get_by_test_id("data-cutoff").wait_for()
    assert page.get_by_test_id("data-cutoff").inner_text().startswith("2026-")
    assert "at 2 of 3 subjects with a DLT" in page.get_by_test_id("stopping-crossed").inner_text()
    listing = page.get_by_test_id("line-listing").inner_text()
    assert "Hospitalised" in listing and "hospitalization" not in listing
    assert page.console_errors == []
    _shot(page, "summary-committee.png")
    href = page.get_by_test_id("summary-pdf").get_attribute("href")
    response = page.request.get(f"{url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")
