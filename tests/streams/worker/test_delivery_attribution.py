"""The ledger agent puts the PI's attribution on the event stream before it records the acknowledgement
(docs/rules.md, "The PI's attribution"; safety/delivery/attribution.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import Clock, make_alert

from safety.delivery.ledger import LedgerEntry, RetryPolicy
from safety.model.outputs import Alert
from safety.rules.protocol import Escalation
from streams.notify.channels import load_notifier
from streams.settings import DeliverySettings
from streams.worker.delivery import Dispatcher, MemoryLedger, handle_command

SUSPECTED = Alert.model_validate(
    {
        **make_alert("SUSPECTED_DLT", subject="AA-002", event="L-ALT").model_dump(),
        "rule_id": "SUSPECTED_DLT-LAB",
        "ctcae_term": "Alanine aminotransferase increased",
        "basis": {"criterion": "treatment-emergent lab grade >= 3", "observed_at": "2026-07-07T09:00:00+08:00"},
    }
)


class Recorder(MemoryLedger):
    """The ledger, and the event topic, writing into one journal: the order the agent does things in."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[tuple[str, Any]] = []
        self.fail_sends = 0

    async def put(self, entry: LedgerEntry) -> None:
        self.journal.append(("ledger", len(entry.acks)))
        await super().put(entry)

    async def send(self, event: dict[str, Any]) -> None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise ConnectionError("broker unreachable")
        self.journal.append(("events", event))


def dispatcher(tmp_path: Path, store: Recorder, clock: Clock) -> Dispatcher:
    notifier = load_notifier(
        DeliverySettings(outbox_dir=tmp_path),
        ("pi", "ethics", "safety_officer"),
        console=open(tmp_path / "console.txt", "w"),  # noqa: SIM115
        announce=lambda text: None,
    )
    return Dispatcher(
        notifier,
        store,
        escalation=Escalation(),
        retry=RetryPolicy(),
        time_zone="Asia/Shanghai",
        clock=clock,
        emit_event=store.send,
    )


def ack(clock: Clock, causality: str | None, role: str = "pi", ack_id: str = "a1") -> dict[str, Any]:
    return {
        "type": "ack",
        "alert_id": SUSPECTED.alert_id,
        "ack_id": ack_id,
        "who": "staff-07",
        "role": role,
        "at": clock.now.isoformat(),
        "conclusion": "attributed",
        "causality": causality,
    }


def sent(store: Recorder) -> list[dict[str, Any]]:
    return [item for where, item in store.journal if where == "events"]


@pytest.mark.asyncio
async def test_the_attribution_is_on_the_event_stream_before_the_ledger_records_the_ack(tmp_path: Path) -> None:
    clock, store = Clock(), Recorder()
    d = dispatcher(tmp_path, store, clock)
    await handle_command(d, {"type": "alert", "alert": json.loads(SUSPECTED.to_json())})
    store.journal.clear()

    await handle_command(d, ack(clock, "related"))

    (first, second) = store.journal
    assert first[0] == "events" and second == ("ledger", 1)
    event = first[1]
    assert (event["type"], event["event_id"], event["revision"]) == (
        "adverse_event",
        f"ATTR-{SUSPECTED.alert_id}",
        1,
    )
    assert (event["subject_id"], event["causality"], event["recorded_at"]) == (
        "AA-002",
        "related",
        clock.now.isoformat(),
    )


@pytest.mark.asyncio
async def test_a_redelivered_ack_sends_nothing_again_and_a_later_attribution_is_revision_2(tmp_path: Path) -> None:
    clock, store = Clock(), Recorder()
    d = dispatcher(tmp_path, store, clock)
    await handle_command(d, {"type": "alert", "alert": json.loads(SUSPECTED.to_json())})
    await handle_command(d, ack(clock, "unlikely"))
    await handle_command(d, ack(clock, "unlikely"))  # the same command read again after a rebalance
    await handle_command(d, ack(clock, None, ack_id="a2"))  # a follow-up that attributes nothing
    await handle_command(d, ack(clock, "unlikely", role="safety_officer", ack_id="a3"))  # not the investigator
    clock.advance(hours=30)
    await handle_command(d, ack(clock, "possible", ack_id="a4"))
    assert [(e["revision"], e["causality"]) for e in sent(store)] == [(1, "unlikely"), (2, "possible")]


@pytest.mark.asyncio
async def test_an_ack_that_arrived_before_its_alert_is_attributed_when_the_alert_arrives(tmp_path: Path) -> None:
    clock, store = Clock(), Recorder()
    d = dispatcher(tmp_path, store, clock)
    await handle_command(d, ack(clock, "probable"))
    assert sent(store) == []
    await handle_command(d, {"type": "alert", "alert": json.loads(SUSPECTED.to_json())})
    await handle_command(d, {"type": "alert", "alert": json.loads(SUSPECTED.to_json())})  # seen again
    assert [(e["revision"], e["causality"]) for e in sent(store)] == [(1, "probable")]


@pytest.mark.asyncio
async def test_an_attribution_the_broker_did_not_take_leaves_the_ack_unrecorded_until_it_does(
    tmp_path: Path,
) -> None:
    """Never an attribution recorded in the ledger that the rules never saw: a failed send records nothing, and
    the command applied again (the worker re-reads it) sends the same event and then records the ack."""
    clock, store = Clock(), Recorder()
    d = dispatcher(tmp_path, store, clock)
    await handle_command(d, {"type": "alert", "alert": json.loads(SUSPECTED.to_json())})
    store.fail_sends = 1
    with pytest.raises(ConnectionError):
        await d.on_event(ack(clock, "related"))
    entry = store.get(SUSPECTED.alert_id)
    assert entry is not None and entry.acks == ()
    await d.on_event(ack(clock, "related"))
    assert [e["revision"] for e in sent(store)] == [1]
    assert len(store.get(SUSPECTED.alert_id).acks) == 1  # type: ignore[union-attr]
