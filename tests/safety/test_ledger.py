"""safety.ledger: one delivery per (message, channel), back-off with deterministic jitter, append-only
audit."""

from __future__ import annotations

from datetime import timedelta

from delivery_fixtures import RAISED, make_alert

from safety.ledger import (
    Ack,
    RetryPolicy,
    Target,
    ack_refusal,
    acting_for,
    add_message,
    delivery_failed_alert,
    due_deliveries,
    needs_failure_report,
    open_entry,
    record_ack,
    record_attempt,
    retry_delay,
    submission_refusal,
)

PI = Target(channel="pi:mailto:1", recipient="pi", scheme="mailto")
PI_CHAT = Target(channel="pi:wecombot:2", recipient="pi", scheme="wecombot")
ETHICS = Target(channel="ethics:json:3", recipient="ethics", scheme="json")
OFFICER = Target(channel="safety_officer:json:4", recipient="safety_officer", scheme="json")
TARGETS = [PI, PI_CHAT, ETHICS, OFFICER]
POLICY = RetryPolicy(max_attempts=3, base_seconds=60, factor=2, max_delay_seconds=3600, jitter=0.2)
NOW = RAISED


def test_an_alert_opens_one_delivery_per_channel_of_its_recipients_only() -> None:
    entry = open_entry(make_alert("DLT"), TARGETS, NOW)  # DLT goes to the PI only
    assert [d.channel for d in entry.deliveries] == ["pi:mailto:1", "pi:wecombot:2"]
    assert all(d.state == "pending" for d in due_deliveries(entry, NOW))


def test_queuing_the_same_message_again_adds_nothing() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    again = add_message(entry, "alert", [PI, PI_CHAT, ETHICS], NOW + timedelta(hours=1))
    assert again == entry


def test_back_off_grows_exponentially_within_the_jitter_band_and_is_deterministic() -> None:
    delays = [retry_delay(POLICY, n, "seed").total_seconds() for n in (1, 2, 3, 4)]
    for n, delay in enumerate(delays, 1):
        nominal = 60 * 2 ** (n - 1)
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert delays == [retry_delay(POLICY, n, "seed").total_seconds() for n in (1, 2, 3, 4)]
    assert retry_delay(POLICY, 1, "seed") != retry_delay(POLICY, 1, "other seed")
    assert retry_delay(POLICY, 30, "seed").total_seconds() <= 3600 * 1.2


def test_a_failed_attempt_schedules_a_retry_and_the_limit_gives_up() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    entry, d = record_attempt(
        entry, "alert", ETHICS.channel, delivered=False, error="refused", now=NOW, policy=POLICY
    )
    assert d.state == "pending" and d.next_attempt_at is not None and d.next_attempt_at > NOW
    assert ETHICS.channel not in [x.channel for x in due_deliveries(entry, NOW)]
    assert ETHICS.channel in [x.channel for x in due_deliveries(entry, d.next_attempt_at)]
    for _ in range(2):
        entry, d = record_attempt(
            entry, "alert", ETHICS.channel, delivered=False, error="refused", now=NOW, policy=POLICY
        )
    assert d.state == "failed" and [a.number for a in d.attempts] == [1, 2, 3]
    assert needs_failure_report(entry, d)


def test_a_delivered_channel_is_never_due_again() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    entry, d = record_attempt(entry, "alert", PI.channel, delivered=True, error=None, now=NOW, policy=POLICY)
    assert d.state == "delivered" and d.attempts[0].outcome == "delivered"
    assert PI.channel not in [x.channel for x in due_deliveries(entry, NOW + timedelta(days=1))]


def test_delivery_failed_goes_to_the_safety_officer_and_names_no_url_or_error() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    for _ in range(3):
        entry, d = record_attempt(
            entry,
            "alert",
            ETHICS.channel,
            delivered=False,
            error="550 ethics-office@example.cn unknown",
            now=NOW,
            policy=POLICY,
        )
    alert = delivery_failed_alert(entry, d, NOW)
    assert alert.kind == "DELIVERY_FAILED" and alert.recipients == ["safety_officer"]
    assert alert.basis["failed_recipient"] == "ethics" and alert.basis["attempts"] == 3
    assert "example.cn" not in alert.to_json()
    assert alert.alert_id == delivery_failed_alert(entry, d, NOW + timedelta(1)).alert_id  # one per failure


def test_a_delivery_failed_alert_never_reports_its_own_failure() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    for _ in range(3):
        entry, d = record_attempt(
            entry, "alert", ETHICS.channel, delivered=False, error="x", now=NOW, policy=POLICY
        )
    meta = open_entry(delivery_failed_alert(entry, d, NOW), TARGETS, NOW)
    for _ in range(3):
        meta, md = record_attempt(
            meta, "alert", OFFICER.channel, delivered=False, error="x", now=NOW, policy=POLICY
        )
    assert md.state == "failed" and not needs_failure_report(meta, md)


def test_acks_are_appended_never_overwritten_and_a_redelivered_ack_is_ignored() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    first = Ack(ack_id="a1", who="Dr Test", role="pi", at=NOW, conclusion="assessing", remote="127.0.0.1")
    second = Ack(
        ack_id="a2",
        who="Officer Test",
        role="safety_officer",
        at=NOW + timedelta(minutes=5),
        conclusion="seen",
        causality="possible",
    )
    entry = record_ack(record_ack(record_ack(entry, first), first), second)
    assert [a.ack_id for a in entry.acks] == ["a1", "a2"] and entry.acks[0].who == "Dr Test"


def test_a_second_ack_is_kept_as_a_follow_up_and_never_replaces_the_first() -> None:
    entry = open_entry(make_alert(), TARGETS, NOW)
    first = Ack(ack_id="a1", who="Dr Test", role="pi", at=NOW, conclusion="assessing")
    later = Ack(ack_id="a2", who="Clerk Test", role="ethics", at=NOW + timedelta(hours=1), conclusion="noted")
    entry = record_ack(record_ack(entry, first), later)
    assert [(a.ack_id, a.follow_up) for a in entry.acks] == [("a1", False), ("a2", True)]
    assert entry.acknowledged and entry.acks[0] == first


def test_an_alert_is_acknowledged_by_its_recipients_or_the_safety_officer_for_the_team() -> None:
    dlt, sae = make_alert("DLT"), make_alert("SAE")  # DLT to the PI; SAE to the PI and the ethics committee
    assert ack_refusal(dlt, "pi") is None and ack_refusal(sae, "ethics") is None
    assert "did not receive this DLT alert" in (ack_refusal(dlt, "ethics") or "")
    assert ack_refusal(dlt, "safety_officer") is None and acting_for(dlt, "safety_officer") == "team"
    assert acting_for(dlt, "pi") is None


def test_only_the_pi_and_the_ethics_committee_mark_an_sae_or_susar_report_submitted() -> None:
    assert submission_refusal(make_alert("SAE"), "pi") is None
    assert submission_refusal(make_alert("SUSAR"), "ethics") is None
    assert "may not mark" in (submission_refusal(make_alert("SAE"), "safety_officer") or "")
    assert "only SAE and SUSAR" in (submission_refusal(make_alert("DLT"), "pi") or "")
