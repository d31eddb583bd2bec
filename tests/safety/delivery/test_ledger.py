"""safety.delivery.ledger: one delivery per (message, channel), back-off with deterministic jitter, append-only
audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from delivery_fixtures import RAISED, make_alert

from safety.delivery.ledger import (
    Ack,
    RetryPolicy,
    Target,
    ack_refusal,
    acting_for,
    add_message,
    delivery_failed_alert,
    due_deliveries,
    mark_failure_reported,
    needs_failure_report,
    open_entry,
    owed_deliveries,
    owed_since,
    record_ack,
    record_attempt,
    retry_delay,
    submission_refusal,
    tally,
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


def test_a_failed_attempt_schedules_a_retry_and_a_kind_that_is_not_owed_is_given_up_after_72_hours() -> None:
    entry = open_entry(make_alert("HYS_LAW", recipients=["pi", "ethics"]), TARGETS, NOW)
    entry, d = record_attempt(entry, "alert", ETHICS.channel, delivered=False, error="refused", now=NOW, policy=POLICY)
    assert d.state == "pending" and d.next_attempt_at is not None and d.next_attempt_at > NOW
    assert ETHICS.channel not in [x.channel for x in due_deliveries(entry, NOW)]
    assert ETHICS.channel in [x.channel for x in due_deliveries(entry, d.next_attempt_at)]
    for _ in range(2):
        entry, d = record_attempt(
            entry, "alert", ETHICS.channel, delivered=False, error="refused", now=NOW, policy=POLICY
        )
    assert d.state == "pending" and [a.number for a in d.attempts] == [1, 2, 3]  # past the window, still retried
    assert needs_failure_report(entry, d, POLICY)
    late = NOW + timedelta(hours=POLICY.give_up_after_hours)
    entry, d = record_attempt(entry, "alert", ETHICS.channel, delivered=False, error="refused", now=late, policy=POLICY)
    assert d.state == "failed" and d.next_attempt_at is None


@pytest.mark.parametrize("kind", ["SAE", "SUSAR", "DLT", "STOPPING_BOUNDARY"])
def test_a_serious_alert_past_the_retry_window_stays_owed_and_is_retried_at_the_capped_delay(kind: str) -> None:
    entry = open_entry(make_alert(kind, recipients=["pi"]), [PI], NOW)
    now = NOW
    for _ in range(POLICY.max_attempts + 4):  # an outage far longer than the retry window
        entry, d = record_attempt(entry, "alert", PI.channel, delivered=False, error="refused", now=now, policy=POLICY)
        assert d.state == "pending" and d.next_attempt_at is not None
        assert d.next_attempt_at - now <= timedelta(seconds=POLICY.max_delay_seconds * (1 + POLICY.jitter))
        now = d.next_attempt_at
    assert d.next_attempt_at - d.attempts[-2].at >= timedelta(seconds=POLICY.max_delay_seconds * 0.8)
    assert needs_failure_report(entry, d, POLICY) and [x.channel for _, x in owed_deliveries([entry])] == [PI.channel]
    assert PI.channel in [x.channel for x in due_deliveries(entry, now)]
    entry, d = record_attempt(entry, "alert", PI.channel, delivered=True, error=None, now=now, policy=POLICY)
    assert d.state == "delivered" and PI.channel not in {x.channel for _, x in owed_deliveries([entry])}


def test_the_failure_is_reported_once_the_retry_window_is_used_up_not_before() -> None:
    entry = open_entry(make_alert("SAE"), TARGETS, NOW)
    for number in range(1, POLICY.max_attempts + 1):
        entry, d = record_attempt(entry, "alert", PI.channel, delivered=False, error="x", now=NOW, policy=POLICY)
        assert needs_failure_report(entry, d, POLICY) == (number == POLICY.max_attempts)
    entry = mark_failure_reported(entry, d.key)
    entry, d = record_attempt(entry, "alert", PI.channel, delivered=False, error="x", now=NOW, policy=POLICY)
    assert not needs_failure_report(entry, d, POLICY)


def test_the_failure_notice_avoids_the_route_that_failed() -> None:
    smtp = "mailto:server-a"
    pi_mail = Target(channel="pi:mailto:1", recipient="pi", scheme="mailto", route=smtp)
    officer_mail = Target(channel="safety_officer:mailto:5", recipient="safety_officer", scheme="mailto", route=smtp)
    officer_sms = Target(channel="safety_officer:jsons:6", recipient="safety_officer", scheme="jsons", route="json:b")
    entry = open_entry(make_alert("SAE", recipients=["pi"]), [pi_mail], NOW)
    for _ in range(POLICY.max_attempts):
        entry, d = record_attempt(entry, "alert", pi_mail.channel, delivered=False, error="x", now=NOW, policy=POLICY)
    notice = delivery_failed_alert(entry, d, NOW)
    assert notice.basis is not None and notice.basis["still_owed"] is True
    sent = open_entry(notice, [pi_mail, officer_mail, officer_sms], NOW)
    assert [x.channel for x in sent.deliveries] == [officer_sms.channel]
    only_mail = open_entry(notice, [pi_mail, officer_mail], NOW)  # no other route: it waits for the same one
    assert [x.channel for x in only_mail.deliveries] == [officer_mail.channel]


def test_owed_since_is_when_the_message_was_queued() -> None:
    entry = open_entry(make_alert("SAE"), TARGETS, NOW)
    later = NOW + timedelta(minutes=7)
    entry, d = record_attempt(entry, "alert", PI.channel, delivered=False, error="x", now=later, policy=POLICY)
    assert owed_since(entry, d) == NOW


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
        entry, d = record_attempt(entry, "alert", ETHICS.channel, delivered=False, error="x", now=NOW, policy=POLICY)
    meta = open_entry(delivery_failed_alert(entry, d, NOW), TARGETS, NOW)
    late = NOW + timedelta(hours=POLICY.give_up_after_hours)
    for _ in range(3):
        meta, md = record_attempt(meta, "alert", OFFICER.channel, delivered=False, error="x", now=late, policy=POLICY)
    assert md.state == "failed" and not needs_failure_report(meta, md, POLICY)


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


def test_tally_counts_each_state_and_a_recipient_without_any_delivery_as_pending() -> None:
    sae = open_entry(make_alert("SAE"), [PI], NOW)  # ethics has no channel: pending, not forgotten
    sae, _ = record_attempt(sae, "alert", PI.channel, delivered=True, error=None, now=NOW, policy=POLICY)
    hys = open_entry(make_alert("HYS_LAW", recipients=["pi"]), [PI], NOW)
    late = NOW + timedelta(hours=POLICY.give_up_after_hours)
    for _ in range(POLICY.max_attempts):
        hys, _ = record_attempt(hys, "alert", PI.channel, delivered=False, error="x", now=late, policy=POLICY)
    dlt = open_entry(make_alert("DLT"), [PI], NOW)
    counts = tally([sae, hys, dlt])
    assert (counts.delivered, counts.failed, counts.pending, counts.owed) == (1, 1, 2, 2) and not counts.final
    assert tally([sae.model_copy(update={"alert": make_alert("SAE", recipients=["pi"])})]).final
