"""safety.delivery.messages: bilingual, whitelisted, escaped alert texts (protocol.md, Reporting and escalation)."""

from __future__ import annotations

import pytest
from delivery_fixtures import make_alert

from safety.delivery.messages import MAX_SHORT, MAX_TITLE, render

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
    utc = alert.model_copy(
        update={"report_due_at": alert.report_due_at.astimezone(__import__("datetime").UTC)}
    )
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
    m = render(
        make_alert(basis={"causality": "related", "narrative": "free text", "mrn": 12345}), time_zone=TZ
    )
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
