"""safety.delivery.messages: bilingual, whitelisted, escaped alert texts (README, "Alert delivery")."""

from __future__ import annotations

import pytest
from delivery_fixtures import make_alert

from safety.delivery.messages import MAX_SHORT, MAX_TITLE, render
from safety.model.outputs import Alert

TZ = "Asia/Shanghai"


def test_text_is_chinese_first_then_english_with_every_required_field() -> None:
    alert = make_alert()
    m = render(alert, time_zone=TZ, ack_url="https://safety.example/alerts/x/ack?sig=1")
    zh, en = m.text.index("严重不良事件"), m.text.index("Serious adverse event")
    assert zh < en
    for needle in (
        "受试者编号：AA-001",
        "研究日：14",
        "规则：SAE-RULE",
        "CTCAE 术语：Infusion related reaction",
        "分级：3",
        "Subject: AA-001",
        "Study day: 14",
        "Kind: SAE",
        "Grade: 3",
        "causality: possible",
        "https://safety.example/alerts/x/ack?sig=1",
    ):
        assert needle in m.text


def test_due_time_is_shown_in_the_study_time_zone() -> None:
    alert = make_alert()  # due 2026-08-02 10:00 +08:00
    utc = alert.model_copy(update={"report_due_at": alert.report_due_at.astimezone(__import__("datetime").UTC)})
    assert "2026-08-02 10:00 CST (UTC+0800)" in render(utc, time_zone=TZ).text
    assert "2026-08-02 03:00 BST" in render(utc, time_zone="Europe/London").text  # 02:00 UTC


@pytest.mark.parametrize(
    "kind",
    [
        "SAE",
        "SUSAR",
        "DLT",
        "SUSPECTED_DLT",
        "POTENTIAL_SAE",
        "HYS_LAW",
        "STOPPING_BOUNDARY",
        "DELIVERY_FAILED",
    ],
)
def test_title_fits_chat_and_short_form_fits_one_sms(kind: str) -> None:
    m = render(make_alert(kind=kind, subject="AA-0000000000001"), time_zone=TZ, escalation="REPORT_OVERDUE")
    assert len(m.title) <= MAX_TITLE and len(m.short) <= MAX_SHORT
    assert "AA-0000000000001" in m.short and kind in m.short


def test_html_body_escapes_every_value() -> None:
    alert = make_alert(rule_id="<b>", basis={"criterion": "<script>alert(1)</script>"})
    m = render(alert, time_zone=TZ, ack_url="https://x.example/a?b=1&c=<2>")
    assert "<script>" not in m.html and "&lt;script&gt;" in m.html
    assert "&amp;c=&lt;2&gt;" in m.html


def test_unknown_basis_keys_are_withheld_and_counted() -> None:
    m = render(make_alert(basis={"causality": "related", "narrative": "free text", "mrn": 12345}), time_zone=TZ)
    assert "free text" not in m.text and "12345" not in m.text
    assert "2 further basis field(s) (withheld)" in m.text and "另有 2 项依据" in m.text


def test_escalation_is_announced_in_both_languages() -> None:
    m = render(make_alert(), time_zone=TZ, escalation="UNACKNOWLEDGED")
    assert m.text.startswith("升级提醒") and "ESCALATION: not acknowledged within 2 h" in m.text
    assert m.title.startswith("【升级SAE】")


def test_a_subject_code_that_is_not_a_code_is_withheld() -> None:
    m = render(make_alert(subject="张三"), time_zone=TZ)
    assert "张三" not in m.text + m.html + m.title + m.short


def test_an_uncoded_term_is_shown_as_such_with_the_reason_and_never_its_text(ruleset) -> None:  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    sae = next(a for a in phi.alerts(ruleset) if a.rule_id == "SAE-SERIOUS" and a.grade == 3)
    m = render(sae, time_zone=TZ)
    assert "CTCAE 术语：uncoded term" in m.text and "CTCAE term: uncoded term" in m.text
    assert "term_coding: uncoded term: ctcae_term is not a CTCAE v5.0 term; its text is withheld" in m.text
    assert "Syncope" not in m.text + m.html and phi.found(m.text + m.html + m.title + m.short) == []


def test_a_death_message_names_death_nos_and_grade_5(ruleset) -> None:  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    death = next(a for a in phi.alerts(ruleset) if a.rule_id == "SAE-DEATH")
    m = render(death, time_zone=TZ)
    assert "CTCAE term: Death NOS" in m.text and "Grade: 5" in m.text
    assert phi.found(m.text + m.html) == []


def test_an_escalation_title_says_so_in_both_languages() -> None:
    m = render(make_alert(), time_zone=TZ, escalation="REPORT_OVERDUE")
    assert m.title.startswith("【升级SAE】") and " / ESCALATION SAE AA-001" in m.title
    assert "升级提醒：伦理委员会报告已逾期" in m.html and "ESCALATION: ethics report overdue" in m.html
    assert "ESCALATION" not in render(make_alert(), time_zone=TZ).title


def withdrawal(original: Alert, reason: str) -> Alert:
    return make_alert(
        "ALERT_WITHDRAWN",
        rule_id=original.rule_id,
        study_day=original.study_day,
        ctcae_term=None,
        grade=None,
        event_ids=["AE-7"],
        withdraws=original.alert_id,
        reason=reason,
        basis=None,
    )


def test_a_withdrawal_says_what_it_withdraws_and_why_in_both_languages() -> None:
    original = make_alert("DLT", rule_id="DLT-2", ctcae_term="Colitis", study_day=8)
    m = render(withdrawal(original, "revision 2 of AE-7 no longer meets DLT-2"), time_zone=TZ, withdrawn=original)
    assert (
        "已撤回：剂量限制性毒性（DLT，规则 DLT-2），Colitis，3 级，第 8 天。"
        "撤回原因：触发记录的更正（第 2 版）已不再符合 DLT-2"
    ) in m.text
    assert (
        "Withdrawn: Dose-limiting toxicity (DLT, rule DLT-2), Colitis, grade 3, day 8. "
        "Reason: a correction (revision 2) of the triggering record no longer meets DLT-2"
    ) in m.text
    assert m.text.index("已撤回") < m.text.index("Withdrawn:") and "Withdrawn: Dose-limiting" in m.html
    assert "AE-7" not in m.text + m.html  # the source record's id is never in a message


def test_a_withdrawal_superseded_by_another_alert_names_it() -> None:
    original = make_alert("SUSAR", rule_id="SUSAR-15D")
    replacement = "0123456789abcdef01234567"
    reason = f"revision 2 of AE-7 superseded it with SUSAR-7D alert {replacement}"
    m = render(withdrawal(original, reason), time_zone=TZ, withdrawn=original)
    assert f"superseded it with SUSAR-7D alert {replacement}" in m.text
    assert f"改由 SUSAR-7D 警报 {replacement} 取代" in m.text


def test_a_withdrawal_without_its_original_or_with_an_unknown_reason_says_what_it_knows() -> None:
    original = make_alert("DLT", rule_id="DLT-2", study_day=8)
    m = render(withdrawal(original, "received"), time_zone=TZ)
    assert "Withdrawn: ? (?, rule DLT-2), -, grade -, day 8. Reason: received" in m.text
    odd = render(withdrawal(original, "see patient 13800138000's chart"), time_zone=TZ, withdrawn=original)
    assert "13800138000" not in odd.text + odd.html and "Reason: (withheld)" in odd.text
