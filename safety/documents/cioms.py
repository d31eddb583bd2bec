"""CIOMS I (the international one-page suspect adverse reaction report) as numbered boxes, for the PDF.

The boxes are the form's (1 patient ... 25a report type); a box the case cannot fill says so. Box 1 holds the
subject code, never initials: the trial identifies its subjects by code only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from safety.documents.case import CaseVersion
from safety.documents.sae_report import (
    ACTION_LABELS,
    CHALLENGE_LABELS,
    OUTCOME_LABELS,
    TO_BE_WRITTEN,
)


@dataclass(frozen=True)
class Cioms:
    case_id: str
    version: int
    patient: str  # box 1: the subject code
    country: str  # 1a
    age: str  # 2a
    sex: str  # 3
    onset: tuple[str, str, str]  # 4-6: day, month, year
    died: bool  # 8-12 seriousness boxes
    hospitalised: bool
    disability: bool
    life_threatening: bool
    other_serious: bool  # congenital anomaly or medically important (box 12 "other")
    reaction: str  # 7 + 13
    suspect_drug: str  # 14
    daily_dose: str  # 15
    route: str  # 16
    indication: str  # 17
    therapy_dates: str  # 18
    therapy_duration: str  # 19
    dechallenge: str  # 20
    rechallenge: str  # 21
    concomitant: str  # 22
    history: str  # 23
    sponsor: str  # 24a
    control_number: str  # 24b
    date_received: str  # 24c
    report_source: str  # 24d
    report_date: str  # 25
    report_type: str  # 25a


def cioms(case: CaseVersion, tz: tzinfo) -> Cioms:
    c = case.constants
    pi = case.pi
    onset = case.onset.astimezone(tz)
    lines = [
        f"{case.ctcae_term} (CTCAE v{case.ctcae_version} grade {case.grade})"
        + (f", MedDRA {case.meddra_code}" if case.meddra_code else ""),
        f"Outcome: {OUTCOME_LABELS[case.outcome].en if case.outcome else 'not reported'}"
        + (f", ended {case.ended_at.astimezone(tz):%Y-%m-%d}" if case.ended_at else ""),
        "Causality (investigator): "
        + (case.causality_wording.en if case.causality_wording else "not reported")
        + "; expectedness: "
        + ("not reported" if case.expected is None else "expected" if case.expected else "unexpected"),
        "Action taken: " + (ACTION_LABELS[pi.action_taken].en if pi and pi.action_taken else TO_BE_WRITTEN.en),
        "Treatment: " + (pi.treatment if pi and pi.treatment else TO_BE_WRITTEN.en),
        "Narrative: " + (pi.narrative if pi and pi.narrative else TO_BE_WRITTEN.en),
    ]
    if case.infusions:
        first, last = case.infusions[0].at.astimezone(tz), case.infusions[-1].at.astimezone(tz)
        dates = f"{first:%Y-%m-%d} to {last:%Y-%m-%d} ({len(case.infusions)} infusion(s))"
        duration = f"{(last.date() - first.date()).days + 1} day(s)"
    else:
        dates = duration = "not reported"
    serious = set(case.seriousness)
    return Cioms(
        case_id=case.case_id,
        version=case.version,
        patient=case.subject_code,
        country=c.country,
        age="not reported" if case.age is None else f"{case.age} years",
        sex={"F": "F", "M": "M"}.get(case.sex or "", "not reported"),
        onset=(f"{onset:%d}", f"{onset:%m}", f"{onset:%Y}"),
        died="death" in serious,
        hospitalised="hospitalization" in serious,
        disability="disability" in serious,
        life_threatening="life_threatening" in serious,
        other_serious=bool(serious & {"congenital_anomaly", "medically_important"}),
        reaction="\n".join(lines),
        suspect_drug=c.product.name.en,
        daily_dose=c.product.dose.en,
        route=c.product.route.en,
        indication=c.product.indication.en,
        therapy_dates=dates,
        therapy_duration=duration,
        dechallenge=CHALLENGE_LABELS[pi.dechallenge].en if pi and pi.dechallenge else TO_BE_WRITTEN.en,
        rechallenge=CHALLENGE_LABELS[pi.rechallenge].en if pi and pi.rechallenge else TO_BE_WRITTEN.en,
        concomitant=pi.concomitant if pi and pi.concomitant else TO_BE_WRITTEN.en,
        history=f"Trial {c.registration_number}, subject {case.subject_code}",
        sponsor=c.sponsor.en,
        control_number=f"{case.case_id} v{case.version}",
        date_received=f"{case.first_known.astimezone(tz):%Y-%m-%d}",
        report_source=f"Study ({c.registration_number})",
        report_date=f"{case.report_date.astimezone(tz):%Y-%m-%d}",
        report_type="Initial" if case.initial else f"Follow-up {case.follow_up}",
    )
