"""Bilingual alert texts (Chinese first, then English), built from an explicit whitelist of Alert fields.

README, "Alert delivery" (Messages): texts carry the subject code, study day, term, grade, rule and due time;
never a name or other identifier. So nothing reaches a body unless it is named here: the top-level fields in
``ALERT_FIELDS`` and the ``basis`` keys in ``BASIS_KEYS``; free-form values must also look like what they claim
(a subject code, a CTCAE term in English, short printable ASCII), or they are withheld. A verbatim AE term or a
``patient_name`` carried along in an input event can therefore never reach a message. The term is the alert's
coded CTCAE term, or "uncoded term" when its basis says the AE's ctcae_term is not one (safety/coding.py).

Every value is HTML-escaped in the HTML body (apprise passes raw HTML in a markdown body through unescaped). Titles
fit chat previews and ``short`` fits one SMS segment (70 characters for Chinese text).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from safety.coding import TERM_CODING_KEY, UNCODED_TERM
from safety.model.outputs import Alert

ALERT_FIELDS: Final = (
    "alert_id",
    "kind",
    "rule_id",
    "study_id",
    "subject_id",
    "study_day",
    "ctcae_term",
    "grade",
    "raised_at",
    "report_due_at",
    "also_matched",
    "basis",
    "withdraws",
    "reason",
)
# basis leaves (by their own key, at any depth) that may be shown; everything else is withheld and counted.
BASIS_KEYS: Final = frozenset(
    {
        "criterion",
        "ctcae_version",
        "test",
        "tests",
        "value",
        "unit",
        "uln",
        "lln",
        "x_uln",
        "baseline",
        "baseline_value",
        "baseline_grade",
        "fraction_of_baseline",
        "grade",
        "serious",
        "seriousness",
        "causality",
        "expected",
        "study_day",
        "day",
        "days",
        "days_after",
        "hours_after_infusion",
        "within_hours",
        "infusion_number",
        "x",
        "n",
        "probability",
        "threshold",
        "boundary",
        "confirmed_on_day",
        "first_day",
        "confirm_day",
        "rule",
        "also_matched",
        "episode_max_grade",
        "clock_hours",
        "failed_alert",
        "failed_kind",
        "failed_recipient",
        "failed_channel",
        "failed_message",
        "attempts",
        "alt",
        "ast",
        "bili",
        "alp",
        "transaminase",
        "bilirubin",
        "event_type",
        "onset",
        "related_set",
        "window",
        "infusion_at",
        TERM_CODING_KEY,
    }
)
MAX_TITLE: Final = 60
MAX_SHORT: Final = 70

_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_CTCAE_TERM = re.compile(r"^[A-Za-z][A-Za-z0-9 ,()'/+\-]{0,119}$")
_SAFE_TEXT = re.compile(r"^[\x20-\x7e]{0,160}$")

KIND_ZH: Final = {
    "SAE": "严重不良事件",
    "SUSAR": "可疑且非预期严重不良反应",
    "DLT": "剂量限制性毒性",
    "SUSPECTED_DLT": "疑似剂量限制性毒性",
    "POTENTIAL_SAE": "潜在严重不良事件",
    "HYS_LAW": "海氏法则（疑似药物性肝损伤）",
    "STOPPING_BOUNDARY": "达到试验停止界值",
    "ALERT_WITHDRAWN": "警报撤回",
    "DELIVERY_FAILED": "警报投递失败",
    "DATA_OVERDUE": "预期数据逾期未到",
    "FEED_SILENT": "数据来源中断",
}
KIND_EN: Final = {
    "SAE": "Serious adverse event",
    "SUSAR": "Suspected unexpected serious adverse reaction",
    "DLT": "Dose-limiting toxicity",
    "SUSPECTED_DLT": "Suspected dose-limiting toxicity",
    "POTENTIAL_SAE": "Potential serious adverse event",
    "HYS_LAW": "Potential Hy's law case",
    "STOPPING_BOUNDARY": "Stopping boundary crossed",
    "ALERT_WITHDRAWN": "Alert withdrawn",
    "DELIVERY_FAILED": "Alert delivery failed",
    "DATA_OVERDUE": "Expected data overdue",
    "FEED_SILENT": "Data feed silent",
}
ESCALATION_TEXT: Final = {
    "UNACKNOWLEDGED": ("升级提醒：警报发出 2 小时内未获确认", "ESCALATION: not acknowledged within 2 h"),
    "ETHICS_REPORT_DUE": (
        "升级提醒：伦理委员会报告尚未提交，距截止时间不足 4 小时",
        "ESCALATION: ethics report not submitted, due within 4 h",
    ),
    "REPORT_OVERDUE": ("升级提醒：伦理委员会报告已逾期", "ESCALATION: ethics report overdue"),
}
_SUPERSEDED = re.compile(r"^revision (\d+) of \S+ superseded it with ([A-Za-z0-9_.\-]+) alert ([0-9a-f]{24})$")
_NO_LONGER = re.compile(r"^revision (\d+) of \S+ no longer meets ([A-Za-z0-9_.\-]+)$")
WITHHELD_ZH = "（已隐去）"
WITHHELD_EN = "(withheld)"


class Message(BaseModel):
    """A rendered alert: ``title`` for e-mail subjects and chat, ``short`` for SMS, ``text`` and ``html``
    bodies."""

    model_config = ConfigDict(frozen=True)

    title: str
    short: str
    text: str
    html: str


def _checked(value: Any, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if pattern.fullmatch(text) else WITHHELD_EN


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (str(key),))
    else:
        yield path, value


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value if _SAFE_TEXT.fullmatch(value) else None
    if isinstance(value, list | tuple):
        parts = [_scalar(v) for v in value]
        if any(p is None for p in parts) or len(parts) > 12:
            return None
        return ", ".join(p for p in parts if p is not None)
    return None


def basis_lines(basis: dict[str, Any] | None) -> tuple[list[tuple[str, str]], int]:
    """Whitelisted basis leaves as (dotted key, value) and the number of leaves withheld."""
    shown: list[tuple[str, str]] = []
    withheld = 0
    for path, value in _leaves(basis or {}):
        text = _scalar(value) if path and path[-1] in BASIS_KEYS else None
        if text is None or not all(_CODE.fullmatch(p) for p in path):
            withheld += 1
        else:
            shown.append((".".join(path), text))
    return shown, withheld


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z (UTC%z)")


def withdrawal_reason(reason: str | None) -> tuple[str, str]:
    """Why an alert was withdrawn, in Chinese and English, from the reason the rules wrote (safety/detectors).

    The rules' reason names the corrected record by its event id, which no message shows (ALERT_FIELDS): the
    known wordings are said again without it; any other reason is shown only when it is a single code.
    """
    if reason and (m := _SUPERSEDED.fullmatch(reason)):
        revision, rule, replacement = m.groups()
        return (
            f"触发记录的更正（第 {revision} 版）使其改由 {rule} 警报 {replacement} 取代",
            f"a correction (revision {revision}) of the triggering record superseded it with {rule} alert "
            f"{replacement}",
        )
    if reason and (m := _NO_LONGER.fullmatch(reason)):
        revision, rule = m.groups()
        return (
            f"触发记录的更正（第 {revision} 版）已不再符合 {rule}",
            f"a correction (revision {revision}) of the triggering record no longer meets {rule}",
        )
    code = _checked(reason, _CODE)
    return (code or "-", code or "-") if code != WITHHELD_EN else (WITHHELD_ZH, WITHHELD_EN)


def withdrawal_lines(v: dict[str, Any], withdrawn: dict[str, Any] | None) -> tuple[str, str]:
    """What a withdrawal withdraws (the original alert's kind, term, grade and study day) and why, in Chinese
    and in English. ``v`` is the withdrawal's view, ``withdrawn`` the original's when the caller has it (else its
    kind, term and grade are unknown: the withdrawal record carries only its rule and study day)."""
    original = withdrawn if withdrawn is not None and withdrawn["alert_id"] == v["withdraws"] else None
    kind = (_checked(original["kind"], _CODE) if original is not None else None) or "?"
    term = (_checked(original["ctcae_term"], _CTCAE_TERM) if original is not None else None) or "-"
    grade = original["grade"] if original is not None else None
    day = original["study_day"] if original is not None else v["study_day"]
    rule = _checked(v["rule_id"], _CODE) or "-"
    why_zh, why_en = withdrawal_reason(v["reason"])
    grade_zh, grade_en = (f"{grade} 级", f"grade {grade}") if grade is not None else ("分级 -", "grade -")
    day_zh, day_en = (f"第 {day} 天", f"day {day}") if day is not None else ("研究日未知", "day unknown")
    return (
        f"已撤回：{KIND_ZH.get(kind, kind)}（{kind}，规则 {rule}），{term}，{grade_zh}，{day_zh}。撤回原因：{why_zh}",
        f"Withdrawn: {KIND_EN.get(kind, kind)} ({kind}, rule {rule}), {term}, {grade_en}, {day_en}. Reason: {why_en}",
    )


def _view(alert: Alert) -> dict[str, Any]:
    """The only place an Alert is read: exactly the whitelisted fields."""
    return {name: getattr(alert, name) for name in ALERT_FIELDS}


def render(
    alert: Alert,
    *,
    time_zone: str,
    ack_url: str | None = None,
    escalation: str | None = None,
    withdrawn: Alert | None = None,
) -> Message:
    """Render one alert (or one escalation of it) for one recipient; ``ack_url`` is that recipient's signed
    link; ``withdrawn``, for an ALERT_WITHDRAWN record, the alert it withdraws (what the message names)."""
    v = _view(alert)
    tz = ZoneInfo(time_zone)
    kind = str(v["kind"])
    subject = _checked(v["subject_id"], _SUBJECT) or "?"
    rule = _checked(v["rule_id"], _CODE) or "-"
    study = _checked(v["study_id"], _CODE) or "-"
    term = _checked(v["ctcae_term"], _CTCAE_TERM)
    if term is None and TERM_CODING_KEY in (v["basis"] or {}):
        term = UNCODED_TERM  # the AE's term is not a CTCAE term of the study's version (safety/coding.py)
    grade = v["grade"]
    day = v["study_day"]
    due = _local(v["report_due_at"], tz)
    raised = _local(v["raised_at"], tz)
    also = [_checked(x, _CODE) or WITHHELD_EN for x in (v["also_matched"] or [])]
    withdraws = _checked(v["withdraws"], _CODE)
    basis, withheld = basis_lines(v["basis"])
    day_zh = f"第 {day} 天" if day is not None else "研究日未知"
    day_en = f"day {day}" if day is not None else "day unknown"
    esc = ESCALATION_TEXT.get(escalation or "")
    original = _view(withdrawn) if withdrawn is not None else None
    lead = esc or (withdrawal_lines(v, original) if kind == "ALERT_WITHDRAWN" else None)

    prefix = "升级" if esc else ""
    title = _fit(
        f"【{prefix}{kind}】{subject} {day_zh} {KIND_ZH.get(kind, kind)} / {'ESCALATION ' if esc else ''}{kind} "
        f"{subject} {day_en}",
        MAX_TITLE,
    )
    short = _fit(
        f"【{prefix}{kind}】{subject} {day_zh} {KIND_ZH.get(kind, kind)}"
        + (f" 截止 {v['report_due_at'].astimezone(tz):%m-%d %H:%M}" if v["report_due_at"] else ""),
        MAX_SHORT,
    )

    # (label zh, label en, value) rows, in the order both languages show them
    rows: list[tuple[str, str, str]] = [
        ("受试者编号", "Subject", subject),
        ("研究日", "Study day", str(day) if day is not None else "-"),
        ("警报类型", "Kind", kind),
        ("规则", "Rule", rule),
        ("CTCAE 术语", "CTCAE term", term or "-"),
        ("分级", "Grade", str(grade) if grade is not None else "-"),
        ("截止时间", "Due", due or "-"),
        ("触发时间", "Raised", raised or "-"),
        ("试验", "Study", study),
    ]
    if also:
        rows.append(("同时符合", "Also matched", ", ".join(also)))
    if withdraws:
        rows.append(("撤回的警报", "Withdraws", withdraws))

    lines_zh = [f"{zh}：{val}" for zh, _, val in rows]
    lines_en = [f"{en}: {val}" for _, en, val in rows]
    basis_text = [f"  {k}: {val}" for k, val in basis]
    withheld_zh = [f"  另有 {withheld} 项依据{WITHHELD_ZH}，请在系统中查看"] if withheld else []
    withheld_en = [f"  {withheld} further basis field(s) {WITHHELD_EN}; see the dashboard"] if withheld else []
    ack_zh = [f"确认接收：{ack_url}"] if ack_url else []
    ack_en = [f"Acknowledge: {ack_url}"] if ack_url else []

    text_parts = [
        *([lead[0]] if lead else []),
        f"{KIND_ZH.get(kind, kind)}（{kind}）",
        *lines_zh,
        "依据：",
        *(basis_text or ["  -"]),
        *withheld_zh,
        *ack_zh,
        "",
        *([lead[1]] if lead else []),
        f"{KIND_EN.get(kind, kind)} ({kind})",
        *lines_en,
        "Basis:",
        *(basis_text or ["  -"]),
        *withheld_en,
        *ack_en,
    ]
    text = "\n".join(text_parts)

    e = html.escape

    def table(lang: int) -> str:
        cells = "".join(f"<tr><th align='left'>{e(row[lang])}</th><td>{e(row[2])}</td></tr>" for row in rows)
        basis_rows = "".join(f"<li>{e(k)}: {e(val)}</li>" for k, val in basis) or "<li>-</li>"
        more = withheld_zh if lang == 0 else withheld_en
        return f"<table>{cells}</table><ul>{basis_rows}{''.join(f'<li>{e(m.strip())}</li>' for m in more)}</ul>"

    link = f'<p><a href="{e(ack_url, quote=True)}">确认接收 / Acknowledge</a></p>' if ack_url else ""
    body_html = (
        "<div lang='zh-CN'>"
        + (f"<p><strong>{e(lead[0])}</strong></p>" if lead else "")
        + f"<h3>{e(KIND_ZH.get(kind, kind))}（{e(kind)}）</h3>{table(0)}</div>"
        + "<hr><div lang='en'>"
        + (f"<p><strong>{e(lead[1])}</strong></p>" if lead else "")
        + f"<h3>{e(KIND_EN.get(kind, kind))} ({e(kind)})</h3>{table(1)}</div>"
        + link
    )
    return Message(title=title, short=short, text=text, html=body_html)
