"""Acknowledgement endpoints: role tokens, signed expiring links, attributable ack events, and who
may acknowledge what (docs/rules.md, "Who may acknowledge")."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from delivery_helpers import make_alert

from safety.model.outputs import Alert
from streams.cli import main
from streams.web.acks import AckEndpoints, ViewDirectory, make_web_app
from streams.web.auth import ack_link, parse_tokens
from streams.web.dashboard import ack_key, alert_key
from streams.web.users import User, Users

SAE = make_alert("SAE")  # sent to pi and ethics
DLT = make_alert("DLT", event="AE-9")  # sent to the PI only
FAILED = Alert.model_validate(
    {**make_alert("DLT", event="AE-10").model_dump(), "kind": "DELIVERY_FAILED", "recipients": ["safety_officer"]}
)
ALERT = SAE.alert_id
UNKNOWN = "f" * 24
SECRET = "test-link-secret"
PI, ETHICS, OFFICER = (f"{role}-token-0123456789abcdefghijklmnop" for role in ("pi", "ethics", "officer"))
TOKENS = f"pi:{PI},ethics:{ETHICS},safety_officer:{OFFICER}"
NOW = datetime(2026, 8, 1, 2, 0, tzinfo=UTC)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$unused"  # nobody signs in with a password here
PEOPLE = Users(
    {
        u.name: u
        for u in (
            User(name="dr.test", display="Dr Test", roles=("pi",), studies=("*",), password_hash=HASH),
            User(name="ec.test", display="EC Test", roles=("ethics",), studies=("*",), password_hash=HASH),
        )
    }
)
PERSON = {"pi": "dr.test", "ethics": "ec.test"}


class Server:
    """The endpoints over a view like the dashboard's; ``lag`` keeps published acks out of the view (the
    stream has not caught up yet)."""

    def __init__(self, alerts: list[Alert]) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.now = NOW
        self.url = ""
        self.lag = False
        self.view: dict[bytes, bytes] = {alert_key(a.alert_id).encode(): a.to_json().encode() for a in alerts}

    async def publish(self, alert_id: str, event: dict[str, Any]) -> None:
        self.published.append((alert_id, event))
        if not self.lag:
            self.add_to_view(event)

    def add_to_view(self, event: dict[str, Any]) -> None:
        key = ack_key(event["alert_id"]).encode()
        self.view[key] = json.dumps(json.loads(self.view.get(key, b"[]")) + [event]).encode()

    def endpoints(self, public_url: str | None = None) -> AckEndpoints:
        return AckEndpoints(
            parse_tokens(TOKENS),
            SECRET,
            self.publish,
            ViewDirectory(self.view),
            clock=lambda: self.now,
            public_url=public_url,
            time_zone="Asia/Shanghai",
            users=PEOPLE,
        )


async def serve(state: Server, endpoints: AckEndpoints) -> web.AppRunner:
    runner = web.AppRunner(make_web_app(endpoints))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    return runner


@pytest_asyncio.fixture()
async def server() -> AsyncIterator[Server]:
    state = Server([SAE, DLT, FAILED])
    runner = await serve(state, state.endpoints())
    try:
        yield state
    finally:
        await runner.cleanup()


async def post(
    url: str, body: Any, token: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with aiohttp.ClientSession() as s, s.post(url, json=body, headers=sent) as r:
        return r.status, await r.json()


ACK = {"who": "Dr Test", "conclusion": "assessed, continue dosing", "causality": "possible"}


@pytest.mark.asyncio
async def test_an_ack_without_a_token_is_401_and_with_a_wrong_token_403(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", ACK)
    assert status == 401 and "Bearer" in body["error"]
    status, _ = await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token="pi-token-12")
    assert status == 403
    assert server.published == []


@pytest.mark.asyncio
async def test_only_pi_and_ethics_may_mark_the_ethics_report_submitted(server: Server) -> None:
    url = f"{server.url}/alerts/{ALERT}/ethics-submitted"
    status, _ = await post(url, {"who": "Officer Test"}, token=OFFICER)
    assert status == 403
    status, body = await post(url, {"who": "Clerk Test", "reference": "EC-2026-001"}, token=ETHICS)
    assert status == 202
    ((alert_id, event),) = server.published
    assert (alert_id, event["type"], event["role"], event["reference"]) == (
        ALERT,
        "ethics_submitted",
        "ethics",
        "EC-2026-001",
    )


@pytest.mark.asyncio
async def test_an_ack_is_attributable_who_role_time_and_remote_address(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token=PI)
    assert status == 202
    ((alert_id, event),) = server.published
    assert alert_id == ALERT and event["ack_id"] == body["ack_id"]
    assert {k: event[k] for k in ("type", "who", "role", "at", "conclusion", "causality", "remote", "via")} == {
        "type": "ack",
        "who": "Dr Test",
        "role": "pi",
        "at": NOW.isoformat(),
        "remote": "127.0.0.1",
        "conclusion": "assessed, continue dosing",
        "causality": "possible",
        "via": "token",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"conclusion": "x"}, "'who' is required"),
        ({"who": "Dr Test"}, "'conclusion' is required"),
        ({**ACK, "causality": "maybe"}, "'causality' must be one of"),
    ],
)
async def test_an_incomplete_ack_is_refused_with_the_reason(server: Server, body: Any, problem: str) -> None:
    status, reply = await post(f"{server.url}/alerts/{ALERT}/ack", body, token=PI)
    assert status == 400 and problem in reply["error"] and server.published == []


def link(server: Server, role: str = "pi", hours: float = 24, alert: str = ALERT) -> str:
    """The link of a message sent to the role's person alone (an e-mail to their own address)."""
    expires = int((server.now + timedelta(hours=hours)).timestamp())
    return ack_link(server.url, SECRET, alert, role, expires, person=PERSON[role], signin=False)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


async def confirm(
    server: Server, url: str, who: str = "Dr Test", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    form = {**q, "who": who, "conclusion": "seen"}
    path = urlsplit(url).path + "/link"
    async with aiohttp.ClientSession() as s, s.post(server.url + path, data=form, headers=headers) as r:
        return r.status, await r.text()


@pytest.mark.asyncio
async def test_a_signed_link_opens_a_confirmation_page_and_records_only_on_confirm(server: Server) -> None:
    url = link(server)
    status, page = await get(url)
    assert status == 200 and "<form" in page and server.published == []  # a link scanner acknowledges nothing
    status, _ = await confirm(server, url)
    assert status == 200
    ((_, event),) = server.published
    assert (event["who"], event["role"], event["via"], event["remote"]) == (
        "Dr Test",
        "pi",
        "link",
        "127.0.0.1",
    )


@pytest.mark.asyncio
async def test_a_tampered_link_is_rejected(server: Server) -> None:
    url = link(server)
    for bad in (
        url.replace("role=pi", "role=ethics"),
        url.replace(ALERT, UNKNOWN),
        url[:-1] + "0",
        url.replace("exp=", "exp=9"),
        url.replace("person=dr.test", "person=ec.test"),
        url.replace("auth=link", "auth=signin"),
    ):
        assert (await get(bad))[0] == 403
        assert (await confirm(server, bad))[0] in (403, 404)
    assert server.published == []


@pytest.mark.asyncio
async def test_an_expired_link_is_rejected(server: Server) -> None:
    url = link(server, hours=1)
    server.now += timedelta(hours=1, seconds=1)
    status, page = await get(url)
    assert status == 403 and "link expired" in page
    assert (await confirm(server, url))[0] == 403 and server.published == []


@pytest.mark.asyncio
async def test_the_ack_command_posts_with_the_role_token(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code = await asyncio.to_thread(
        main,
        [
            "ack",
            ALERT,
            "--who",
            "Dr Test",
            "--conclusion",
            "reviewed",
            "--causality",
            "unlikely",
            "--url",
            server.url,
            "--token",
            PI,
        ],
    )
    assert code == 0 and "recorded ack" in capsys.readouterr().out
    ((_, event),) = server.published
    assert (event["who"], event["causality"], event["role"]) == ("Dr Test", "unlikely", "pi")
    code = await asyncio.to_thread(
        main, ["ack", ALERT, "--who", "X", "--conclusion", "y", "--url", server.url, "--token", "nope"]
    )
    assert code == 1 and "HTTP 403" in capsys.readouterr().err


def test_tokens_setting_rejects_unknown_roles_and_shared_tokens() -> None:
    with pytest.raises(ValueError, match="role one of"):
        parse_tokens("admin:abc")
    with pytest.raises(ValueError, match="share a token"):
        parse_tokens("pi:same,ethics:same")
    assert json.dumps(parse_tokens(TOKENS), sort_keys=True).count(":") == 3


# --- an acknowledgement names an existing alert (docs/rules.md, "Who may acknowledge") ----------------------
@pytest.mark.asyncio
async def test_an_ack_or_submission_of_an_unknown_alert_id_is_404_and_publishes_nothing(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{UNKNOWN}/ack", ACK, token=PI)
    assert status == 404 and "no alert" in body["error"]
    status, _ = await post(f"{server.url}/alerts/{UNKNOWN}/ethics-submitted", {"who": "Dr Test"}, token=PI)
    assert status == 404
    assert server.published == []


@pytest.mark.asyncio
async def test_the_ack_command_says_an_unknown_alert_id_is_not_found(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ack", UNKNOWN, "--who", "Dr Test", "--conclusion", "seen", "--url", server.url, "--token", PI]
    code = await asyncio.to_thread(main, argv)
    assert code == 1 and "not found (HTTP 404)" in capsys.readouterr().err
    assert server.published == []


@pytest.mark.asyncio
async def test_a_valid_link_for_an_alert_that_does_not_exist_is_404(server: Server) -> None:
    url = link(server, alert=UNKNOWN)
    status, page = await get(url)
    assert status == 404 and "Alert not found" in page
    assert (await confirm(server, url))[0] == 404 and server.published == []


# --- only the roles the alert went to, and the safety officer for the team -------------------------------
@pytest.mark.asyncio
async def test_a_role_the_alert_was_not_sent_to_may_not_acknowledge_it(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{DLT.alert_id}/ack", ACK, token=ETHICS)
    assert status == 403 and "did not receive this DLT alert" in body["error"]
    status, page = await get(link(server, role="ethics", alert=DLT.alert_id))  # validly signed, wrong role
    assert status == 403 and "did not receive" in page
    assert server.published == []
    status, _ = await post(f"{server.url}/alerts/{DLT.alert_id}/ack", ACK, token=PI)
    assert status == 202


@pytest.mark.asyncio
async def test_the_safety_officer_acknowledges_any_alert_recorded_as_acting_for_the_team(server: Server) -> None:
    assert (await post(f"{server.url}/alerts/{DLT.alert_id}/ack", ACK, token=OFFICER))[0] == 202
    assert (await post(f"{server.url}/alerts/{FAILED.alert_id}/ack", ACK, token=OFFICER))[0] == 202
    (_, for_team), (_, own) = server.published
    assert (for_team["role"], for_team["on_behalf_of"]) == ("safety_officer", "team")
    assert "on_behalf_of" not in own  # DELIVERY_FAILED was sent to the safety officer


@pytest.mark.asyncio
async def test_only_sae_and_susar_reports_are_marked_submitted_to_the_ethics_committee(server: Server) -> None:
    status, body = await post(f"{server.url}/alerts/{DLT.alert_id}/ethics-submitted", {"who": "Dr Test"}, token=PI)
    assert status == 403 and "only SAE and SUSAR" in body["error"] and server.published == []


# --- a second acknowledgement is a follow-up ----------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_second_ack_of_an_alert_is_recorded_as_a_follow_up_naming_the_first(server: Server) -> None:
    assert (await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token=PI))[0] == 202
    server.now += timedelta(minutes=30)
    status, reply = await post(f"{server.url}/alerts/{ALERT}/ack", {**ACK, "who": "Officer Test"}, token=OFFICER)
    assert status == 202 and reply["follow_up"] is True and reply["acknowledged"]["by"] == "Dr Test"
    (_, first), (_, second) = server.published
    assert "follow_up" not in first and second["follow_up"] is True


# --- a link acknowledges once ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_a_link_acknowledges_once_and_later_opens_say_by_whom_and_when(server: Server) -> None:
    server.lag = True  # the repeats arrive before the stream has put the first ack in the view
    url = link(server)
    results = [await confirm(server, url, who=f"Member {n}") for n in range(4)]
    assert [status for status, _ in results] == [200, 409, 409, 409]
    assert "Already acknowledged by Dr Test at 2026-08-01 10:00 CST" in results[1][1]
    ((_, event),) = server.published
    assert (event["who"], event["via"]) == ("Dr Test", "link") and "sig" not in json.dumps(event)
    status, page = await get(url)
    assert status == 200 and "Already acknowledged by Dr Test" in page and "<form" not in page


@pytest.mark.asyncio
async def test_a_link_used_on_another_worker_is_recognised_from_the_view(server: Server) -> None:
    url = link(server)
    assert (await confirm(server, url))[0] == 200
    other = Server([SAE])
    other.view = server.view  # the same GlobalTable, read by a second worker
    runner = await serve(other, other.endpoints())
    try:
        other_url = url.replace(server.url, other.url)
        assert (await confirm(other, other_url, who="Someone Else"))[0] == 409
        assert "Already acknowledged by Dr Test" in (await get(other_url))[1]
    finally:
        await runner.cleanup()
    assert other.published == []


@pytest.mark.asyncio
async def test_an_unused_link_of_an_acknowledged_alert_offers_a_follow_up(server: Server) -> None:
    assert (await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token=OFFICER))[0] == 202
    status, page = await get(link(server, role="pi"))
    assert status == 200 and "Already acknowledged by Dr Test" in page and "Add follow-up" in page


# --- who is bounded ------------------------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize("who", ["x" * 101, "Dr Test\nrole: safety_officer", "Dr\u202eTest", "   "])
async def test_who_must_be_one_line_of_at_most_100_characters(server: Server, who: str) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", {**ACK, "who": who}, token=PI)
    assert status == 400 and "'who'" in body["error"]
    assert server.published == []


@pytest.mark.asyncio
async def test_a_link_acts_for_the_person_it_was_sent_to_whatever_name_is_typed(server: Server) -> None:
    status, page = await get(link(server))
    assert status == 200 and 'name="who"' not in page and "Acknowledging as: <strong>Dr Test</strong>" in page
    assert (await confirm(server, link(server), who="Somebody Else"))[0] == 200
    ((_, event),) = server.published
    assert event["who"] == "Dr Test"


@pytest.mark.asyncio
async def test_a_personal_link_of_someone_no_longer_in_the_users_file_acknowledges_nothing(server: Server) -> None:
    expires = int((server.now + timedelta(hours=1)).timestamp())
    url = ack_link(server.url, SECRET, ALERT, "pi", expires, person="dr.gone", signin=False)
    status, page = await get(url)
    assert status == 403 and "may no longer acknowledge" in page
    assert (await confirm(server, url))[0] == 403 and server.published == []


@pytest.mark.asyncio
async def test_a_link_to_a_group_or_naming_nobody_asks_for_a_sign_in_and_records_nothing(server: Server) -> None:
    expires = int((server.now + timedelta(hours=1)).timestamp())
    for url in (
        ack_link(server.url, SECRET, ALERT, "pi", expires, person="dr.test", signin=True),
        ack_link(server.url, SECRET, ALERT, "pi", expires),  # the form of links sent before people were known
    ):
        status, page = await get(url)
        assert status == 401 and 'data-testid="sign-in"' in page and "/login?next=%2Falerts%2F" in page
        assert (await confirm(server, url))[0] == 401
    assert server.published == []


# --- cross-origin posts are refused -------------------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page.html"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_post_from_another_site_s_page_is_refused(server: Server, headers: dict[str, str]) -> None:
    status, body = await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token=PI, headers=headers)
    assert status == 403 and "cross-origin" in body["error"]
    status, page = await confirm(server, link(server), headers=headers)
    assert status == 403 and "refused" in page
    assert server.published == []


@pytest.mark.asyncio
async def test_a_post_from_the_service_s_own_page_or_public_url_is_accepted(server: Server) -> None:
    own = {"Origin": server.url, "Sec-Fetch-Site": "same-origin", "Referer": f"{server.url}/alerts"}
    assert (await post(f"{server.url}/alerts/{ALERT}/ack", ACK, token=PI, headers=own))[0] == 202
    behind_proxy = Server([SAE])
    runner = await serve(behind_proxy, behind_proxy.endpoints(public_url="https://safety.example.org/"))
    try:
        public = {"Origin": "https://safety.example.org"}
        url = f"{behind_proxy.url}/alerts/{ALERT}/ack"
        assert (await post(url, ACK, token=PI, headers=public))[0] == 202
    finally:
        await runner.cleanup()


# --- the link page says what is being acknowledged ----------------------------------------------------------
@pytest.mark.asyncio
async def test_the_link_page_shows_what_is_acknowledged_and_is_sized_for_a_phone(server: Server) -> None:
    status, page = await get(link(server))
    assert status == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    summary = page[page.index('data-testid="alert-summary"') : page.index("<form")]
    for label, value in (
        ("Subject", "AA-001"),
        ("Kind", "SAE"),
        ("CTCAE term", "Infusion related reaction"),
        ("Grade", "3"),
        ("Study day", "14"),
        ("Due", "2026-08-02 10:00 CST"),  # in the study time zone
    ):
        assert re.search(rf">{label}</th><td>{re.escape(value)}", summary), label
    assert "严重不良事件" in summary and "causality: possible" in summary  # basis, through the message whitelist
    assert server.published == []


# --- the pages offer only the actions the viewer's role may take --------------------------------------------
@pytest.mark.asyncio
async def test_pages_offer_only_the_buttons_the_viewer_s_role_may_use() -> None:
    import report_fixtures as fx
    from aiohttp.test_utils import TestClient, TestServer

    from safety.reports import build_report
    from streams.web.pages import Pages, add_routes

    def source(now: datetime) -> tuple[Any, list[Any], list[Any]]:
        return build_report(fx.events(), fx.alerts(), [], study_id=fx.STUDY, generated_at=now), [], []

    app = web.Application()
    tokens = {"tok-so": "safety_officer", "tok-pi": "pi"}
    add_routes(app.router, Pages(source, tokens, clock=lambda: fx.GENERATED_AT))
    async with TestClient(TestServer(app)) as client:
        officer = await (await client.get("/alerts", headers={"Authorization": "Bearer tok-so"})).text()
        pi = await (await client.get("/alerts", headers={"Authorization": "Bearer tok-pi"})).text()
    open_sae = sum(1 for a in fx.alerts() if a["kind"] in ("SAE", "SUSAR"))
    assert officer.count('data-testid="ack-button"') == pi.count('data-testid="ack-button"') > 0
    assert 'data-testid="submit-button"' not in officer  # the safety officer does not submit to ethics
    assert pi.count('data-testid="submit-button"') == open_sae


# --- the worker: the alert index in the dashboard view, and the ledger agent's own check --------------------
def worker_app() -> Any:
    """The worker with every plug-in, broker-less (tests/streams/conftest.py), with role tokens set."""
    from prometheus_client import CollectorRegistry

    from streams.settings import Settings
    from streams.web.metrics import SafetyMetrics
    from streams.worker.app import create_app

    settings = Settings(
        kafka={"bootstrap": "127.0.0.1:1"},
        worker={"store": "memory://"},
        web={"enabled": False},
        auth={"tokens": TOKENS},
    )
    app = create_app(settings, metrics=SafetyMetrics.create(CollectorRegistry()))
    app.finalize()
    app.flow_control.resume()
    return app


@pytest.mark.asyncio
async def test_the_worker_finds_an_alert_from_safety_alerts_and_404s_an_unknown_id(sent) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    app = worker_app()
    async with app.agents["dashboard_alerts"].test_context() as agent:
        await agent.put(DLT.to_json().encode(), key=DLT.subject_id.encode())
    tokens = {"Authorization": f"Bearer {PI}"}
    async with TestClient(TestServer(app.web.web_app)) as client:
        known = await client.post(f"/alerts/{DLT.alert_id}/ack", json=ACK, headers=tokens)
        unknown = await client.post(f"/alerts/{UNKNOWN}/ack", json=ACK, headers=tokens)
    assert (known.status, unknown.status) == (202, 404)
    assert [json.loads(v)["alert_id"] for _, v in sent.on("safety.acks")] == [DLT.alert_id]


@pytest.mark.asyncio
async def test_the_ledger_agent_refuses_an_ack_the_role_may_not_make_so_escalation_goes_on(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from delivery_helpers import Clock

    from safety.delivery.ledger import RetryPolicy
    from safety.rules.protocol import Escalation
    from streams.notify.channels import load_notifier
    from streams.settings import DeliverySettings
    from streams.worker.delivery import Dispatcher, MemoryLedger, handle_command

    notifier = load_notifier(
        DeliverySettings(outbox_dir=tmp_path),
        ("pi", "ethics", "safety_officer"),
        console=open(tmp_path / "console.txt", "w"),  # noqa: SIM115
        announce=lambda text: None,
    )
    clock, store = Clock(), MemoryLedger()
    d = Dispatcher(
        notifier, store, escalation=Escalation(), retry=RetryPolicy(), time_zone="Asia/Shanghai", clock=clock
    )

    def ack(alert: Alert, role: str, who: str, kind: str = "ack") -> dict[str, Any]:
        return {"type": kind, "alert_id": alert.alert_id, "who": who, "role": role, "at": clock.now.isoformat()}

    early = ack(DLT, "ethics", "Clerk Early")  # reaches the ledger before its alert: parked, then checked
    await handle_command(d, early)
    await handle_command(d, {"type": "alert", "alert": json.loads(DLT.to_json())})
    await handle_command(d, ack(DLT, "ethics", "Clerk Late"))
    await handle_command(d, ack(DLT, "pi", "Dr Test", kind="ethics_submitted"))  # a DLT has no ethics report
    entry = store.get(DLT.alert_id)
    assert entry is not None and entry.acks == () and entry.ethics_submissions == ()
    clock.advance(hours=2, minutes=1)
    await d.sweep()
    assert [e.reason for e in store.get(DLT.alert_id).escalations] == ["UNACKNOWLEDGED"]  # type: ignore[union-attr]
    await handle_command(d, ack(DLT, "safety_officer", "Officer Test"))
    (recorded,) = store.get(DLT.alert_id).acks  # type: ignore[union-attr]
    assert (recorded.role, recorded.on_behalf_of) == ("safety_officer", "team")
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3 and not any("Clerk" in m or "Dr Test" in m for m in refusals)


@pytest.mark.asyncio
async def test_the_pages_view_does_not_show_an_ack_the_role_may_not_make(sent) -> None:  # type: ignore[no-untyped-def]
    """An ack put on safety.acks past the HTTP checks (another producer) must not close the alert on the pages
    while the ledger keeps it open."""
    app = worker_app()
    async with app.agents["dashboard_alerts"].test_context() as agent:
        await agent.put(DLT.to_json().encode(), key=DLT.subject_id.encode())
    base = {"alert_id": DLT.alert_id, "at": NOW.isoformat(), "conclusion": "x"}
    events = [
        {**base, "type": "ack", "role": "ethics", "who": "Clerk Test", "ack_id": "e1"},
        {**base, "type": "ethics_submitted", "role": "pi", "who": "Dr Test", "ack_id": "e2"},
        {**base, "type": "ack", "role": "pi", "who": "Dr Test", "ack_id": "p1"},
    ]
    async with app.agents["dashboard_acks"].test_context() as agent:
        for event in events:
            await agent.put(json.dumps(event).encode(), key=DLT.alert_id.encode())
    shown = ViewDirectory(app.safety.tables.extra["dashboard_view"]).acks(DLT.alert_id)
    assert [e["ack_id"] for e in shown] == ["p1"]


# --- the PI's attribution of a suspected DLT (docs/rules.md, "The PI's attribution") -------------------------
SUSPECTED = make_alert("SUSPECTED_DLT", event="L-ALT")


async def attribute(server: Server, url: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
    q = [(k, v[0]) for k, v in parse_qs(urlsplit(url).query).items()]
    path = urlsplit(url).path + "/link"
    async with aiohttp.ClientSession() as s, s.post(server.url + path, data=q + fields) as r:
        return r.status, await r.text()


@pytest.mark.asyncio
async def test_the_pi_s_link_to_a_suspected_dlt_asks_for_the_causality_and_records_it() -> None:
    state = Server([SUSPECTED, DLT])
    runner = await serve(state, state.endpoints())
    try:
        url = link(state, alert=SUSPECTED.alert_id)
        status, page = await get(url)
        assert status == 200 and 'name="causality"' in page and "很可能有关 / probable" in page
        assert 'name="serious" value="hospitalization"' in page
        status, _ = await attribute(
            state, url, [("who", "staff-07"), ("causality", "probable"), ("serious", "hospitalization")]
        )
        assert status == 200
        ((_, event),) = state.published
        assert (event["causality"], event["serious"], event["via"]) == ("probable", ["hospitalization"], "link")

        dlt_url = link(state, alert=DLT.alert_id)
        assert 'name="causality"' not in (await get(dlt_url))[1]  # a DLT asks for a review, not an attribution
        status, page = await attribute(state, dlt_url, [("who", "staff-07"), ("causality", "related")])
        assert status == 400 and "asks for no attribution" in page
        assert len(state.published) == 1
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_a_token_attribution_states_causality_and_seriousness_from_the_vocabulary() -> None:
    state = Server([SUSPECTED])
    runner = await serve(state, state.endpoints())
    try:
        url = f"{state.url}/alerts/{SUSPECTED.alert_id}/ack"
        body = {"who": "staff-07", "conclusion": "attributed", "causality": "related"}
        status, reply = await post(url, {**body, "serious": ["in hospital"]}, token=PI)
        assert status == 400 and "hospitalization" in reply["error"] and state.published == []
        status, _ = await post(url, {**body, "serious": ["life_threatening", "death"]}, token=PI)
        assert status == 202
        ((_, event),) = state.published
        assert (event["causality"], event["serious"]) == ("related", ["death", "life_threatening"])
    finally:
        await runner.cleanup()


@pytest.mark.asyncio
async def test_after_the_link_key_is_rotated_a_link_signed_before_still_acknowledges_once() -> None:
    state = Server([SAE])
    path = link(state)  # signed with SECRET, the key of the day the message was sent (no server yet: a path)
    rotated = AckEndpoints(
        parse_tokens(TOKENS),
        ["Zr4bYp6NcHs1DfGuEak3Jv9-QxT2mLw8", SECRET],  # the new key signs from now on; the previous one verifies
        state.publish,
        ViewDirectory(state.view),
        clock=lambda: state.now,
        users=PEOPLE,
    )
    runner = await serve(state, rotated)
    try:
        url = state.url + path
        assert (await get(url))[0] == 200
        assert [(await confirm(state, url))[0] for _ in range(2)] == [200, 409]
    finally:
        await runner.cleanup()
