"""The site's bilingual SAE report (严重不良事件报告表) as rows of label and value, for the PDF and the HTML.

Both renderers (streams/documents/) lay out the same ``SaeReport``, so the two never disagree on a field. Every
label is bilingual; values are coded (a Chinese and an English word) or numbers and dates, except the fields the
investigator writes for the report (``PiEntry``), which are printed as written and marked as still to be written
when absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Final

from safety.documents.case import CaseVersion
from safety.rules.documents import Bilingual

B = Bilingual
TO_BE_WRITTEN: Final = B(zh="（待研究者填写）", en="(to be written by the investigator)")
NOT_REPORTED: Final = B(zh="未报告", en="not reported")

SERIOUSNESS_LABELS: Final = {
    "death": B(zh="导致死亡", en="Results in death"),
    "life_threatening": B(zh="危及生命", en="Life-threatening"),
    "hospitalization": B(zh="导致住院或住院时间延长", en="Requires or prolongs hospitalization"),
    "disability": B(zh="导致永久或严重的残疾或功能丧失", en="Persistent or significant disability"),
    "congenital_anomaly": B(zh="先天性异常或出生缺陷", en="Congenital anomaly / birth defect"),
    "medically_important": B(zh="其他重要医学事件", en="Other important medical event"),
}
OUTCOME_LABELS: Final = {
    "recovered": B(zh="痊愈", en="Recovered / resolved"),
    "recovering": B(zh="好转", en="Recovering / resolving"),
    "not recovered": B(zh="未好转", en="Not recovered / not resolved"),
    "recovered with sequelae": B(zh="痊愈伴后遗症", en="Recovered with sequelae"),
    "fatal": B(zh="死亡", en="Fatal"),
    "unknown": B(zh="不详", en="Unknown"),
    "uncoded outcome": B(zh="未编码（原文不予转录）", en="Uncoded (text withheld)"),
}
ACTION_LABELS: Final = {
    "withdrawn": B(zh="永久停用", en="Drug withdrawn"),
    "dose_reduced": B(zh="减量", en="Dose reduced"),
    "not_changed": B(zh="继续用药", en="Dose not changed"),
    "not_applicable": B(zh="不适用", en="Not applicable"),
    "unknown": B(zh="不详", en="Unknown"),
}
CHALLENGE_LABELS: Final = {
    "yes": B(zh="是", en="Yes"),
    "no": B(zh="否", en="No"),
    "not_applicable": B(zh="不适用", en="N/A"),
    "unknown": B(zh="不详", en="Unknown"),
}
ROLE_LABELS: Final = {
    "pi": B(zh="主要研究者", en="Principal investigator"),
    "ethics": B(zh="伦理委员会", en="Ethics committee"),
    "safety_officer": B(zh="安全官", en="Safety officer"),
}
SEX_LABELS: Final = {"F": B(zh="女", en="Female"), "M": B(zh="男", en="Male")}


@dataclass(frozen=True)
class Row:
    label: Bilingual
    value: Bilingual  # zh and en are equal for numbers, codes and dates
    written: bool = False  # True: the investigator's own words, printed as written


@dataclass(frozen=True)
class Section:
    title: Bilingual
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class SaeReport:
    title: Bilingual
    report_type: Bilingual
    case_id: str
    version: int
    sections: tuple[Section, ...]


def same(text: str) -> Bilingual:
    return B(zh=text, en=text)


def day(at: datetime | None, tz: tzinfo) -> Bilingual:
    return NOT_REPORTED if at is None else same(at.astimezone(tz).strftime("%Y-%m-%d"))


def minute(at: datetime | None, tz: tzinfo) -> Bilingual:
    return NOT_REPORTED if at is None else same(at.astimezone(tz).strftime("%Y-%m-%d %H:%M"))


def yes_no(flag: bool | None, yes: Bilingual, no: Bilingual) -> Bilingual:
    return NOT_REPORTED if flag is None else yes if flag else no


def report_type(case: CaseVersion) -> Bilingual:
    """Initial, follow-up n, or the summary report (总结报告, still follow-up n) once the event is over."""
    if case.initial:
        return B(zh="首次报告", en="Initial report")
    if case.summary:
        return B(zh=f"总结报告（第{case.follow_up}次随访）", en=f"Summary report (follow-up no. {case.follow_up})")
    return B(zh=f"随访报告（第{case.follow_up}次）", en=f"Follow-up report no. {case.follow_up}")


def _pi(label: Bilingual, text: str | None) -> Row:
    present = text is not None and bool(text.strip())
    return Row(label, same(text) if present and text is not None else TO_BE_WRITTEN, written=present)


def sae_report(case: CaseVersion, tz: tzinfo) -> SaeReport:
    """The SAE report of one case version; dates in the study's time zone ``tz``."""
    c = case.constants
    pi = case.pi
    seriousness = case.seriousness
    criteria = (
        B(
            zh="；".join(SERIOUSNESS_LABELS[s].zh for s in seriousness),
            en="; ".join(SERIOUSNESS_LABELS[s].en for s in seriousness),
        )
        if seriousness
        else B(zh="无（修订后不再符合严重标准）", en="None (no longer serious after the revision)")
    )
    term_en = case.ctcae_term + (f" (MedDRA {case.meddra_code})" if case.meddra_code else "")
    infusions = "; ".join(
        f"#{i.number} {i.at.astimezone(tz):%Y-%m-%d}"
        + ("" if i.dose_per_kg is None else f" {i.dose_per_kg / c.product.dose_scale:g}x10^6/kg")
        for i in case.infusions
    )
    link = (
        same(f"{case.case_id}")
        if case.initial
        else B(
            zh=f"{case.case_id}（首次报告日期 {case.first_known.astimezone(tz):%Y-%m-%d}）",
            en=f"{case.case_id} (initial report of {case.first_known.astimezone(tz):%Y-%m-%d})",
        )
    )
    sections = (
        Section(
            B(zh="报告信息", en="Report"),
            (
                Row(B(zh="报告类型", en="Report type"), report_type(case)),
                Row(B(zh="病例编号 / 版本", en="Case id / version"), same(f"{case.case_id} / v{case.version}")),
                Row(B(zh="关联首次报告", en="Linked initial report"), link),
                Row(B(zh="报告日期", en="Report date"), minute(case.report_date, tz)),
                Row(B(zh="研究者获知日期", en="Date site first aware"), minute(case.first_known, tz)),
                Row(B(zh="报告时限", en="Report due"), minute(case.report_due_at, tz)),
            ),
        ),
        Section(
            B(zh="试验信息", en="Trial"),
            (
                Row(B(zh="试验名称", en="Trial title"), c.trial_title),
                Row(B(zh="注册号", en="Registration number"), same(c.registration_number)),
                Row(B(zh="伦理批件号", en="Ethics approval number"), same(c.ethics_approval_number)),
                Row(B(zh="申办者", en="Sponsor"), c.sponsor),
                Row(B(zh="研究药物", en="Investigational product"), c.product.name),
                Row(
                    B(zh="剂量与途径", en="Dose and route"),
                    B(zh=f"{c.product.dose.zh}；{c.product.route.zh}", en=f"{c.product.dose.en}; {c.product.route.en}"),
                ),
                Row(B(zh="输注记录", en="Infusions"), same(infusions) if infusions else NOT_REPORTED),
            ),
        ),
        Section(
            B(zh="受试者", en="Subject"),
            (
                Row(B(zh="受试者编号", en="Subject code"), same(case.subject_code)),
                Row(B(zh="性别", en="Sex"), SEX_LABELS[case.sex] if case.sex else NOT_REPORTED),
                Row(B(zh="年龄（岁）", en="Age (years)"), NOT_REPORTED if case.age is None else same(str(case.age))),
            ),
        ),
        Section(
            B(zh="严重不良事件", en="Serious adverse event"),
            (
                _pi(B(zh="SAE名称（原文）", en="SAE term (verbatim)"), pi.verbatim_term if pi else None),
                Row(B(zh=f"CTCAE v{case.ctcae_version} 术语", en=f"CTCAE v{case.ctcae_version} term"), same(term_en)),
                Row(B(zh="发生日期", en="Onset"), minute(case.onset, tz)),
                Row(
                    B(zh="研究日", en="Study day"),
                    NOT_REPORTED if case.study_day is None else same(str(case.study_day)),
                ),
                Row(B(zh="严重性标准", en="Seriousness criteria"), criteria),
                Row(B(zh="CTCAE 分级", en="CTCAE grade"), same(str(case.grade))),
                Row(B(zh="与研究药物的关系", en="Causality"), case.causality_wording or NOT_REPORTED),
                Row(
                    B(zh="判定为相关", en="Related (derived)"),
                    yes_no(case.related, B(zh="是", en="Yes"), B(zh="否", en="No")),
                ),
                Row(
                    B(zh="预期性", en="Expectedness"),
                    yes_no(case.expected, B(zh="预期", en="Expected"), B(zh="非预期", en="Unexpected")),
                ),
                Row(B(zh="SUSAR", en="SUSAR"), B(zh="是", en="Yes") if case.susar else B(zh="否", en="No")),
                Row(
                    B(zh="对研究药物采取的措施", en="Action taken with product"),
                    ACTION_LABELS[pi.action_taken] if pi and pi.action_taken else TO_BE_WRITTEN,
                ),
                Row(B(zh="转归", en="Outcome"), OUTCOME_LABELS[case.outcome] if case.outcome else NOT_REPORTED),
                Row(B(zh="结束日期", en="End date"), day(case.ended_at, tz)),
                _pi(B(zh="治疗措施", en="Treatment"), pi.treatment if pi else None),
            ),
        ),
        Section(
            B(zh="事件描述", en="Narrative"),
            (_pi(B(zh="研究者描述", en="Investigator's narrative"), pi.narrative if pi else None),),
        ),
        Section(
            B(zh="报告者", en="Reporter"),
            (Row(B(zh="报告者身份", en="Reporter role"), ROLE_LABELS[case.reporter_role]),),
        ),
    )
    return SaeReport(
        title=B(zh="严重不良事件报告表", en="Serious Adverse Event Report"),
        report_type=report_type(case),
        case_id=case.case_id,
        version=case.version,
        sections=sections,
    )
