"""Recipients per study (docs/rules.md, "Several studies": the PI of one study never receives another study's
alerts). Apprise URLs tagged ``<study_id>:<role>``; real loopback SMTP (aiosmtpd), as in test_delivery.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from delivery_helpers import Clock, SmtpSink, free_port, make_alert
from study_fixtures import STUDY_A, STUDY_B

from safety.delivery.ledger import RetryPolicy
from safety.errors import DeliveryConfigError
from safety.model.outputs import Alert
from safety.rules.protocol import Escalation
from streams.notify.channels import Notifier, load_notifier, required_study_tags
from streams.rulefiles import load_protocol
from streams.settings import DeliverySettings
from streams.worker.delivery import Dispatcher, MemoryLedger

ROOT = Path(__file__).resolve().parents[3]
PROTOCOLS = [
    load_protocol(ROOT / "rules" / "studies" / f"{STUDY_A}.yaml"),
    load_protocol(ROOT / "tests" / "fixtures" / "studies" / f"{STUDY_B}.yaml"),
]
STUDIES = [STUDY_A, STUDY_B]


@pytest.fixture()
def smtp() -> Iterator[tuple[int, SmtpSink]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, sink
    finally:
        controller.stop()


def config(tmp_path: Path, port: int, tags: dict[str, str]) -> Path:
    """One mailto URL per (tag, mailbox) on the loopback SMTP server."""
    lines = ["version: 1", "urls:"]
    for tag, mailbox in tags.items():
        lines += [f"  - mailto://127.0.0.1:{port}?from=sae-bot@example.org&to={mailbox}:", f"      - tag: {tag}"]
    path = tmp_path / "apprise.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


PER_STUDY = {
    f"{STUDY_A}:pi": "pi-a@example.org",
    f"{STUDY_A}:ethics": "ec-a@example.org",
    f"{STUDY_B}:pi": "pi-b@example.org",
    f"{STUDY_B}:ethics": "ec-b@example.org",
    "safety_officer": "so@example.org",
}


def notifier(path: Path) -> Notifier:
    settings = DeliverySettings(notify_config=path, connect_timeout=2, read_timeout=5)
    return load_notifier(settings, required_study_tags(PROTOCOLS), studies=STUDIES, announce=lambda text: None)


def dispatcher(notify: Notifier, clock: Clock) -> Dispatcher:
    retry = RetryPolicy(max_attempts=3, base_seconds=60, factor=2, max_delay_seconds=600, jitter=0.2)
    return Dispatcher(
        notify, MemoryLedger(), escalation=Escalation(), retry=retry, time_zone="Asia/Shanghai", clock=clock
    )


def of_study(alert: Alert, study: str, subject: str) -> Alert:
    return alert.model_copy(update={"study_id": study, "subject_id": subject, "alert_id": f"{study}-{alert.kind}"})


def test_a_deployment_of_several_studies_needs_each_study_s_own_tags() -> None:
    assert {f"{STUDY_B.lower()}:pi", f"{STUDY_A.lower()}:ethics"} <= required_study_tags(PROTOCOLS)
    assert "pi" not in required_study_tags(PROTOCOLS)
    assert "pi" in required_study_tags(PROTOCOLS[:1])  # one study: bare tags, as before


@pytest.mark.asyncio
async def test_each_study_s_alerts_reach_only_that_study_s_pi_and_committee(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    port, sink = smtp
    d = dispatcher(notifier(config(tmp_path, port, PER_STUDY)), Clock())
    await d.on_alert(of_study(make_alert("DLT"), STUDY_B, "BB-001"))
    await d.on_alert(of_study(make_alert("SAE", event="AE-8"), STUDY_A, "AA-001"))
    assert [str(m["Subject"]).split("】")[1].split()[0] for m in sink.to("pi-b@example.org")] == ["BB-001"]
    assert [str(m["Subject"]).split("】")[1].split()[0] for m in sink.to("pi-a@example.org")] == ["AA-001"]
    assert len(sink.to("ec-a@example.org")) == 1 and sink.to("ec-b@example.org") == []
    assert sink.to("so@example.org") == []


@pytest.mark.asyncio
async def test_an_escalation_goes_to_the_study_s_own_pi_and_the_deployment_s_safety_officer(
    tmp_path: Path,
    smtp,  # type: ignore[no-untyped-def]
) -> None:
    port, sink = smtp
    clock = Clock()
    d = dispatcher(notifier(config(tmp_path, port, PER_STUDY)), clock)
    await d.on_alert(of_study(make_alert("DLT"), STUDY_B, "BB-001"))
    clock.advance(hours=2, minutes=1)
    await d.sweep()
    assert len(sink.to("pi-b@example.org")) == 2 and len(sink.to("so@example.org")) == 1
    assert sink.to("pi-a@example.org") == []


def test_a_bare_pi_tag_is_refused_when_the_deployment_has_several_studies(tmp_path: Path) -> None:
    tags = {**PER_STUDY, "pi": "pi-everyone@example.org"}
    with pytest.raises(DeliveryConfigError, match=r"'pi' would misroute alerts.*'<study_id>:pi'"):
        notifier(config(tmp_path, 25, tags))


def test_a_tag_naming_a_study_the_deployment_does_not_know_is_refused(tmp_path: Path) -> None:
    tags = {**PER_STUDY, "ChiCTR2600999999:pi": "pi-typo@example.org"}
    with pytest.raises(DeliveryConfigError, match="chictr2600999999:pi"):
        notifier(config(tmp_path, 25, tags))


def test_a_study_without_its_own_pi_url_is_refused_naming_the_tag_to_add(tmp_path: Path) -> None:
    tags = {k: v for k, v in PER_STUDY.items() if k != f"{STUDY_B}:pi"}
    with pytest.raises(DeliveryConfigError, match=f"no URL is tagged '{STUDY_B.lower()}:pi'"):
        notifier(config(tmp_path, 25, tags))


def test_a_study_s_own_safety_officer_replaces_the_deployment_s_for_that_study_only(tmp_path: Path) -> None:
    tags = {**PER_STUDY, f"{STUDY_B}:safety_officer": "so-b@example.org"}
    notify = notifier(config(tmp_path, 25, tags))
    officers = {
        study: [notify.tag(t) for t in notify.targets_for(study) if t.recipient == "safety_officer"]
        for study in STUDIES
    }
    assert officers == {STUDY_A: ["safety_officer"], STUDY_B: [f"{STUDY_B.lower()}:safety_officer"]}


@pytest.mark.asyncio
async def test_without_configuration_the_outbox_names_each_study_s_channel(tmp_path: Path) -> None:
    settings = DeliverySettings(outbox_dir=tmp_path)
    with (tmp_path / "console.txt").open("w", encoding="utf-8") as console:
        notify = load_notifier(
            settings, required_study_tags(PROTOCOLS), studies=STUDIES, console=console, announce=lambda text: None
        )
        await dispatcher(notify, Clock()).on_alert(of_study(make_alert("DLT"), STUDY_B, "BB-001"))
    records = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["channel"], r["recipient"]) for r in records] == [(f"{STUDY_B.lower()}:pi:local", "pi")]


def test_safety_deliver_with_a_rules_directory_sends_each_study_s_alerts_to_its_own_pi(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    from study_fixtures import studies_dir

    from streams.cli import main

    port, sink = smtp
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text(
        "".join(
            of_study(make_alert("DLT"), study, subject).to_json() + "\n"
            for study, subject in ((STUDY_A, "AA-001"), (STUDY_B, "BB-001"))
        ),
        encoding="utf-8",
    )
    argv = [
        "--alerts",
        str(alerts),
        "--outbox",
        str(tmp_path / "out"),
        "--config",
        str(config(tmp_path, port, PER_STUDY)),
        "--rules",
        str(studies_dir(tmp_path)),
        "--no-sweep",
    ]
    assert main(["deliver", *argv]) == 0
    assert ["AA-001" in str(m["Subject"]) for m in sink.to("pi-a@example.org")] == [True]
    assert ["BB-001" in str(m["Subject"]) for m in sink.to("pi-b@example.org")] == [True]
