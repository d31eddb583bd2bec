"""Delivery through real loopback servers: aiosmtpd for e-mail, aiohttp for webhooks (README, "Alert delivery")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiosmtpd.controller import Controller
from delivery_helpers import Clock, SmtpSink, Webhook, free_port, make_alert
from prometheus_client import CollectorRegistry

from safety.delivery.ledger import RetryPolicy
from safety.errors import DeliveryConfigError
from safety.rules.protocol import Escalation
from streams.notify.channels import Notifier, load_notifier
from streams.settings import DeliverySettings
from streams.web.metrics import SafetyMetrics
from streams.worker.delivery import Dispatcher, FileLedger, MemoryLedger

TAGS = ("pi", "ethics", "safety_officer")
RETRY = RetryPolicy(max_attempts=3, base_seconds=60, factor=2, max_delay_seconds=600, jitter=0.2)


@pytest.fixture()
def smtp() -> Iterator[tuple[int, SmtpSink]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, sink
    finally:
        controller.stop()


@pytest_asyncio.fixture()
async def hook() -> AsyncIterator[Webhook]:
    receiver = await Webhook().start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def write_config(tmp_path: Path, urls: dict[str, str]) -> Path:
    """One URL per tag, as deploy/apprise.example.yml recommends."""
    lines = ["version: 1", "urls:"]
    for tag, url in urls.items():
        lines += [f"  - {url}:", f"      - tag: {tag}"]
    path = tmp_path / "apprise.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def notifier_for(path: Path, **endpoints: str) -> Notifier:
    settings = DeliverySettings(notify_config=path, connect_timeout=2, read_timeout=5)
    return load_notifier(settings, TAGS, endpoints=endpoints or None, announce=lambda text: None)


def dispatcher(notifier: Notifier, store: Any, clock: Clock, metrics: Any = None) -> Dispatcher:
    return Dispatcher(
        notifier,
        store,
        escalation=Escalation(),
        retry=RETRY,
        time_zone="Asia/Shanghai",
        clock=clock,
        links=lambda alert, delivery: f"https://safety.example/alerts/{alert.alert_id}/{delivery.recipient}",
        metrics=metrics,
    )


def mail(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?from=sae-bot@example.org&to={to}"


@pytest.mark.asyncio
async def test_each_recipient_tag_gets_its_message_with_chinese_intact(tmp_path: Path, smtp, hook) -> None:  # type: ignore[no-untyped-def]
    port, sink = smtp
    config = write_config(
        tmp_path,
        {
            "pi": mail(port, "pi@example.org"),
            "ethics": f"json://127.0.0.1:{hook.port}/ethics",
            "safety_officer": f"json://127.0.0.1:{hook.port}/officer",
        },
    )
    d = dispatcher(notifier_for(config), MemoryLedger(), Clock())
    await d.on_alert(make_alert("SAE"))
    (msg,) = sink.to("pi@example.org")
    assert str(msg["Subject"]).startswith("【SAE】AA-001 第 14 天 严重不良事件")
    html_part = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "受试者编号" in html_part and "严重不良事件" in html_part and "AA-001" in html_part
    assert "https://safety.example/alerts/" in html_part and "/pi" in html_part
    (ethics,) = hook.on("/ethics")
    assert "受试者编号：AA-001" in ethics["json"]["message"] and "Subject: AA-001" in ethics["json"]["message"]
    assert ethics["json"]["message"].index("受试者") < ethics["json"]["message"].index("Subject")
    assert hook.on("/officer") == []  # an SAE goes to pi and ethics only


@pytest.mark.asyncio
async def test_a_down_target_is_retried_then_reported_while_the_other_still_receives(
    tmp_path: Path, smtp, hook
) -> None:  # type: ignore[no-untyped-def]
    port, sink = smtp
    config = write_config(
        tmp_path,
        {
            "pi": mail(port, "pi@example.org"),
            "ethics": f"json://127.0.0.1:{free_port()}/down",  # closed port
            "safety_officer": f"json://127.0.0.1:{hook.port}/officer",
        },
    )
    clock, metrics = Clock(), SafetyMetrics.create(CollectorRegistry())
    store = MemoryLedger()
    d = dispatcher(notifier_for(config), store, clock, metrics)
    alert = make_alert("SAE")
    await d.on_alert(alert)
    assert len(sink.to("pi@example.org")) == 1
    for _ in range(RETRY.max_attempts - 1):
        clock.advance(minutes=30)
        await d.sweep()
    (ethics,) = [x for x in store.get(alert.alert_id).deliveries if x.recipient == "ethics"]  # type: ignore[union-attr]
    assert ethics.state == "pending" and len(ethics.attempts) == 3  # an SAE is owed, never given up
    assert all(a.outcome == "failed" for a in ethics.attempts)
    (report,) = hook.on("/officer")
    assert "DELIVERY_FAILED" in report["json"]["title"] and "failed_recipient: ethics" in report["json"]["message"]
    assert len(sink.to("pi@example.org")) == 1  # the PI was not re-sent anything
    value = metrics.registry.get_sample_value
    assert value("safety_deliveries_total", {"channel": "json", "recipient": "ethics", "outcome": "retried"}) == 2
    assert value("safety_deliveries_total", {"channel": "json", "recipient": "ethics", "outcome": "failed"}) == 1
    clock.advance(hours=1)
    await d.sweep()
    failures = [r for r in hook.on("/officer") if "DELIVERY_FAILED" in r["json"]["title"]]
    assert len(failures) == 1  # DELIVERY_FAILED is raised once (the other message is the 2 h escalation)


@pytest.mark.asyncio
async def test_restart_after_a_crash_mid_delivery_sends_no_duplicate_and_loses_none(tmp_path: Path, smtp, hook) -> None:  # type: ignore[no-untyped-def]
    port, sink = smtp
    config = write_config(
        tmp_path,
        {
            "pi": mail(port, "pi@example.org"),
            "ethics": f"json://127.0.0.1:{hook.port}/ethics",
            "safety_officer": f"json://127.0.0.1:{hook.port}/officer",
        },
    )
    ledger_file = tmp_path / "out" / "ledger.jsonl"
    alert = make_alert("SAE")

    class Crash(BaseException):
        """The process dies (not an error the dispatcher could record)."""

    first = notifier_for(config)
    ethics = next(c for c in first.channels if c.target.recipient == "ethics")

    async def crash_after_pi_is_recorded(message: Any, *, message_id: str | None = None) -> Any:
        while '"delivered"' not in (ledger_file.read_text() if ledger_file.exists() else ""):
            await asyncio.sleep(0.01)
        raise Crash

    ethics.send = crash_after_pi_is_recorded  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await dispatcher(first, FileLedger(ledger_file), Clock()).on_alert(alert)
    assert len(sink.to("pi@example.org")) == 1 and hook.on("/ethics") == []

    restarted = dispatcher(notifier_for(config), FileLedger(ledger_file), Clock())
    await restarted.on_alert(alert)  # the redelivered alert after the restart
    await restarted.on_alert(alert)  # and once more (rebalance)
    assert len(sink.to("pi@example.org")) == 1 and len(hook.on("/ethics")) == 1
    states = {d.recipient: d.state for d in FileLedger(ledger_file).get(alert.alert_id).deliveries}  # type: ignore[union-attr]
    assert states == {"pi": "delivered", "ethics": "delivered"}


@pytest.mark.asyncio
async def test_wecom_and_dingtalk_200_with_an_errcode_is_a_failure(tmp_path: Path, hook) -> None:  # type: ignore[no-untyped-def]
    hook.replies["/wecom"] = {"errcode": 93000, "errmsg": "invalid webhook url"}
    hook.replies["/ding"] = {"errcode": 0, "errmsg": "ok"}
    config = write_config(
        tmp_path,
        {
            "pi": "wecombot://BOTKEY",
            "ethics": "dingtalk://SIGNSECRET@DINGTOKEN/",
            "safety_officer": f"json://127.0.0.1:{hook.port}/officer",
        },
    )
    notifier = notifier_for(
        config,
        wecombot=f"http://127.0.0.1:{hook.port}/wecom?key={{key}}",
        dingtalk=f"http://127.0.0.1:{hook.port}/ding?access_token={{token}}",
    )
    store = MemoryLedger()
    await dispatcher(notifier, store, Clock()).on_alert(make_alert("SAE"))
    (wecom,) = hook.on("/wecom")
    assert wecom["query"] == {"key": "BOTKEY"} and "严重不良事件" in wecom["json"]["text"]["content"]
    (ding,) = hook.on("/ding")
    assert ding["query"]["access_token"] == "DINGTOKEN" and {"timestamp", "sign"} <= set(ding["query"])
    result = {d.recipient: d for d in store.get(make_alert("SAE").alert_id).deliveries}  # type: ignore[union-attr]
    assert result["pi"].state == "pending" and "errcode 93000" in (result["pi"].attempts[0].error or "")
    assert result["ethics"].state == "delivered"


def test_a_protocol_tag_without_a_url_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"pi": "json://127.0.0.1:9/pi", "ethics": "json://127.0.0.1:9/ethics"})
    with pytest.raises(DeliveryConfigError, match="'safety_officer'"):
        notifier_for(config)


def test_an_entry_apprise_skips_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text(
        "version: 1\nurls:\n  - mailto://127.0.0.1:25?from=bot@example.org:\n"
        "      - to: pi@example.org\n        tag: pi\n        name: SAE Bot\n        from: bad\n"
        "  - json://127.0.0.1:9/e:\n      - tag: ethics, safety_officer\n",
        encoding="utf-8",
    )
    with pytest.raises(DeliveryConfigError, match="skipped an entry"):
        notifier_for(config)


def test_the_example_config_gives_every_tag_a_url(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SMTP_PASS", "WECOM_KEY", "DING_TOKEN", "DING_SECRET", "FEISHU_TOKEN", "SMS_TOKEN"):
        monkeypatch.setenv(f"APPRISE_TEMPLATE_{name}", "placeholder")
    notifier = notifier_for(repo_root / "deploy" / "apprise.example.yml")
    assert notifier.tags() == set(TAGS)
    schemes = {c.target.scheme for c in notifier.channels}
    assert {"mailtos", "mailto", "wecombot", "dingtalk", "feishu", "jsons"} <= schemes


@pytest.mark.asyncio
async def test_without_configuration_a_local_sink_prints_and_writes_the_outbox(tmp_path: Path) -> None:
    said: list[str] = []
    console = tmp_path / "console.txt"
    with console.open("w", encoding="utf-8") as out:
        notifier = load_notifier(DeliverySettings(outbox_dir=tmp_path), TAGS, console=out, announce=said.append)
        await dispatcher(notifier, MemoryLedger(), Clock()).on_alert(make_alert("SAE"))
    assert "SAFETY_NOTIFY_CONFIG is not set" in said[0]
    records = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["recipient"] for r in records) == ["ethics", "pi"]
    assert "严重不良事件" in console.read_text(encoding="utf-8")


@pytest.mark.asyncio
async def test_unacknowledged_sae_is_re_sent_to_pi_and_copied_to_the_safety_officer(tmp_path: Path) -> None:
    notifier = load_notifier(
        DeliverySettings(outbox_dir=tmp_path),
        TAGS,
        console=open(  # noqa: SIM115
            tmp_path / "console.txt", "w"
        ),
        announce=lambda text: None,
    )
    clock = Clock()
    store = MemoryLedger()
    d = dispatcher(notifier, store, clock)
    late, acked = make_alert("SAE"), make_alert("SAE", subject="AA-002", event="AE-8")
    await d.on_alert(late)
    await d.on_alert(acked)
    await d.on_event(
        {
            "type": "ack",
            "alert_id": acked.alert_id,
            "who": "Dr Test",
            "role": "pi",
            "at": clock.now.isoformat(),
            "conclusion": "assessing",
            "remote": "127.0.0.1",
        }
    )
    clock.advance(hours=2)
    await d.sweep()
    await d.sweep()
    records = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    escalations = [r for r in records if r["title"].startswith("【升级")]
    assert sorted(r["recipient"] for r in escalations) == ["pi", "safety_officer"]
    assert all("AA-001" in r["title"] for r in escalations)


def test_safety_deliver_re_run_sends_nothing_twice(tmp_path: Path, smtp, hook) -> None:  # type: ignore[no-untyped-def]
    from streams.cli import main

    port, sink = smtp
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(
        "\n".join(a.to_json() for a in (make_alert("SAE"), make_alert("DLT", event="AE-9"))) + "\n",
        encoding="utf-8",
    )
    config = write_config(
        tmp_path,
        {
            "pi": mail(port, "pi@example.org"),
            "ethics": mail(port, "ec@example.org"),
            "safety_officer": mail(port, "so@example.org"),
        },
    )
    argv = ["--alerts", str(alerts), "--outbox", str(tmp_path / "out"), "--config", str(config), "--no-sweep"]
    assert main(["deliver", *argv]) == 0
    assert main(["deliver", *argv]) == 0
    assert len(sink.to("pi@example.org")) == 2 and len(sink.to("ec@example.org")) == 1
    assert sink.to("so@example.org") == []


def test_the_worker_plugin_adds_ack_routes_and_delivery_agents(app) -> None:  # type: ignore[no-untyped-def]
    routes = {(r.method, r.resource.canonical) for r in app.web.web_app.router.routes()}  # type: ignore[union-attr]
    assert ("POST", "/alerts/{alert_id}/ack") in routes
    assert ("POST", "/alerts/{alert_id}/ethics-submitted") in routes
    assert ("GET", "/alerts/{alert_id}/ack") in routes
    assert {"delivery_router", "delivery_ledger"} <= {a.name for a in app.agents.values()}


@pytest.mark.asyncio
async def test_a_screening_sae_without_a_study_day_is_delivered_from_its_command(tmp_path: Path) -> None:
    from streams.worker.delivery import handle_command

    said: list[str] = []
    with (tmp_path / "console.txt").open("w", encoding="utf-8") as out:
        notifier = load_notifier(DeliverySettings(outbox_dir=tmp_path), TAGS, console=out, announce=said.append)
        screening = make_alert("SAE").model_copy(update={"study_day": None})
        command = {"type": "alert", "alert": json.loads(screening.to_json())}  # as the router sends it
        assert "study_day" not in command["alert"]
        await handle_command(dispatcher(notifier, MemoryLedger(), Clock()), command)
    records = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(r)["recipient"] for r in records) == ["ethics", "pi"]


@pytest.mark.asyncio
async def test_an_smtp_outage_longer_than_the_retry_window_loses_nothing_and_is_reported_over_another_route(
    tmp_path: Path, hook
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # the SMTP server is down: nothing listens here yet
    config = tmp_path / "apprise.yml"
    config.write_text(
        "version: 1\nurls:\n"
        f"  - {mail(port, 'pi@example.org')}:\n      - tag: pi\n"
        f"  - {mail(port, 'ec@example.org')}:\n      - tag: ethics\n"
        f"  - {mail(port, 'so@example.org')}:\n      - tag: safety_officer\n"
        f"  - json://127.0.0.1:{hook.port}/officer:\n      - tag: safety_officer\n",
        encoding="utf-8",
    )
    clock, metrics, store = Clock(), SafetyMetrics.create(CollectorRegistry()), MemoryLedger()
    d = dispatcher(notifier_for(config), store, clock, metrics)
    alert = make_alert("SAE")
    await d.on_alert(alert)
    for _ in range(RETRY.max_attempts + 3):  # well past the retry window (3 attempts)
        clock.advance(seconds=RETRY.max_delay_seconds * 1.2)
        await d.sweep()
    value = metrics.registry.get_sample_value
    entry = store.get(alert.alert_id)
    assert entry is not None and {x.recipient: x.state for x in entry.deliveries} == {
        "pi": "pending",
        "ethics": "pending",
    }
    assert all(len(x.attempts) > RETRY.max_attempts for x in entry.deliveries)  # still retried, at the cap
    assert value("safety_deliveries_owed", {"kind": "SAE", "recipient": "pi"}) == 1
    assert value("safety_deliveries_owed_oldest_seconds") >= 5 * RETRY.max_delay_seconds
    notices = [r["json"] for r in hook.on("/officer") if "DELIVERY_FAILED" in r["json"]["title"]]
    assert sorted("failed_recipient: pi" in n["message"] for n in notices) == [False, True]  # pi and ethics, once each
    for notice in (e for e in store.entries() if e.alert.kind == "DELIVERY_FAILED"):
        assert [x.scheme for x in notice.deliveries] == ["json"]  # not through the SMTP server that is down

    sink = SmtpSink()
    server = Controller(sink, hostname="127.0.0.1", port=port)
    server.start()  # the server returns
    try:
        for _ in range(3):
            clock.advance(seconds=RETRY.max_delay_seconds * 1.2)
            await d.sweep()
    finally:
        server.stop()
    assert len(sink.to("pi@example.org")) == 1 and len(sink.to("ec@example.org")) == 1  # once each, late
    assert sink.to("so@example.org") == []
    (pi_mail,) = sink.to("pi@example.org")
    assert (
        pi_mail["X-Safety-Delivery-Id"]
        and pi_mail["X-Safety-Delivery-Id"] != sink.to("ec@example.org")[0]["X-Safety-Delivery-Id"]
    )
    assert value("safety_deliveries_owed", {"kind": "SAE", "recipient": "pi"}) == 0
    assert value("safety_deliveries_owed_oldest_seconds") == 0


def test_a_safety_officer_reachable_only_through_one_server_is_warned_about(tmp_path: Path) -> None:
    said: list[str] = []
    config = write_config(tmp_path, {tag: mail(25, f"{tag}@example.org") for tag in TAGS})
    load_notifier(DeliverySettings(notify_config=config), TAGS, announce=said.append)
    assert any("every safety_officer channel" in line and "another server" in line for line in said)


def test_safety_deliver_waits_until_every_delivery_is_final_and_fails_while_a_dlt_is_owed(
    tmp_path: Path, smtp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    import threading

    from streams.cli import main

    for name, value in {"BASE_SECONDS": "0.2", "MAX_DELAY_SECONDS": "0.5", "MAX_ATTEMPTS": "2"}.items():
        monkeypatch.setenv(f"SAFETY_RETRY_{name}", value)
    port, sink = smtp
    pi_port = free_port()  # the PI's mail server is down
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(make_alert("DLT").to_json() + "\n", encoding="utf-8")
    config = write_config(
        tmp_path,
        {
            "pi": mail(pi_port, "pi@example.org"),
            "ethics": mail(port, "ec@example.org"),
            "safety_officer": mail(port, "so@example.org"),
        },
    )
    argv = ["--alerts", str(alerts), "--outbox", str(tmp_path / "out"), "--config", str(config)]
    assert main(["deliver", *argv, "--wait", "2"]) == 1
    summary = capsys.readouterr().err
    assert "1 delivered, 0 failed, 1 pending (1 of an SAE" in summary  # delivered: the notice; owed: the DLT
    assert "run the same command again" in summary
    assert len(sink.to("so@example.org")) == 1  # DELIVERY_FAILED over the server that works

    pi_sink = SmtpSink()
    server = Controller(pi_sink, hostname="127.0.0.1", port=pi_port)
    later = threading.Timer(1.0, server.start)  # the server returns while the command waits
    later.start()
    try:
        assert main(["deliver", *argv, "--wait", "60"]) == 0
    finally:
        later.join()
        server.stop()
    assert "2 delivered, 0 failed, 0 pending" in capsys.readouterr().err
    assert len(pi_sink.to("pi@example.org")) == 1 and len(sink.to("so@example.org")) == 1


@pytest.mark.asyncio
async def test_a_withdrawal_message_names_the_alert_it_withdraws_from_the_ledger(tmp_path: Path) -> None:
    notifier = load_notifier(
        DeliverySettings(outbox_dir=tmp_path),
        TAGS,
        console=open(tmp_path / "console.txt", "w"),  # noqa: SIM115
        announce=lambda text: None,
    )
    d = dispatcher(notifier, MemoryLedger(), Clock())
    original = make_alert("DLT", event="AE-9")
    await d.on_alert(original)
    withdrawal = original.model_copy(
        update={
            "alert_id": "0" * 24,
            "kind": "ALERT_WITHDRAWN",
            "withdraws": original.alert_id,
            "reason": f"revision 2 of AE-9 no longer meets {original.rule_id}",
        }
    )
    await d.on_alert(withdrawal)
    records = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    (message,) = [r for r in records if "ALERT_WITHDRAWN" in r["title"]]
    named = "Withdrawn: Dose-limiting toxicity (DLT, rule DLT-RULE), Infusion related reaction, grade 3, day 14."
    assert named in message["text"]
    assert "撤回原因：触发记录的更正（第 2 版）已不再符合 DLT-RULE" in message["text"]


class StalledWebhook(Webhook):
    """Takes each request and answers only once ``release`` is set: sends in flight for as long as a test likes."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, "json": await request.json()})
        await self.release.wait()
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.mark.asyncio
async def test_a_stop_gives_up_the_sends_in_flight_and_leaves_them_owed_for_the_next_sweep(tmp_path: Path) -> None:
    # Before: the ledger agent waited for every send of the command it held and faust's clean stop waited for the
    # agent, until the worker's 30 s bound ended it with code 75.
    stalled = await StalledWebhook().start()
    try:
        config = write_config(
            tmp_path,
            {tag: f"json://127.0.0.1:{stalled.port}/{tag}" for tag in TAGS},
        )
        notifier, store, clock, stopping = notifier_for(config), MemoryLedger(), Clock(), asyncio.Event()
        d = Dispatcher(
            notifier, store, escalation=Escalation(), retry=RETRY, time_zone="Asia/Shanghai", clock=clock,
            stopping=stopping,
        )  # fmt: skip
        sae = make_alert("SAE")
        sending = asyncio.create_task(d.on_alert(sae))
        for _ in range(500):  # both sends (pi, ethics) reach the receiver, which does not answer
            if len(stalled.received) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(stalled.received) == 2
        stopping.set()  # SIGTERM (streams/worker/run.py)
        entry = await sending  # returns without the answers
        assert [(x.recipient, x.state, x.attempts) for x in entry.deliveries] == [
            ("pi", "pending", ()),
            ("ethics", "pending", ()),
        ]  # neither delivered nor failed: nothing is recorded without the receiver's answer
        later = make_alert("SAE", subject="AA-002")
        await d.on_alert(later)  # a command still buffered for the stopping agent: its entry opens, nothing is sent
        assert len(stalled.received) == 2 and store.get(later.alert_id) is not None

        stalled.release.set()  # the restarted worker (no stop asked) sends what is owed on its sweep
        restarted = Dispatcher(
            notifier, store, escalation=Escalation(), retry=RETRY, time_zone="Asia/Shanghai", clock=clock
        )
        await restarted.sweep()
        for alert in (sae, later):
            owed = store.get(alert.alert_id)
            assert owed is not None and {x.state for x in owed.deliveries} == {"delivered"}
    finally:
        stalled.release.set()
        await stalled.stop()
