"""Regenerate the scenario timelines and expectations: `python tests/scenarios/make_scenarios.py`.

The files it writes are the specification readers look at; this script only keeps them consistent (times
are study days after day 0 = 2026-07-01 09:00 Asia/Shanghai, `recorded_at` 2 h after `occurred_at` unless given).
"""

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent
STUDY = "ChiCTR2600125907"
DAY0 = datetime(2026, 7, 1, 9, 0)


def t(day, hours=0.0):
    return (DAY0 + timedelta(days=day, hours=hours)).isoformat(timespec="minutes")


def ev(type_, eid, day, subj="AA-001", hours=0.0, rec=None, **kw):
    d = {"type": type_, "event_id": eid, "study_id": STUDY, "subject_id": subj, "occurred_at": t(day, hours)}
    d["recorded_at"] = (
        t(*rec) if isinstance(rec, tuple) else t(rec if rec is not None else day, hours + (0 if rec is not None else 2))
    )
    d.update(kw)
    return d


def inf(subj="AA-001", eid=None, day=0):
    return ev("infusion", eid or f"INF-{subj}", day, subj, infusion_number=1, dose_per_kg=1e6)


def enr(subj="AA-001"):
    return ev("enrollment", f"ENR-{subj}", -7, subj, sex="F", age=34, severity="SAA")


def lab(eid, day, test, value, unit, lo=None, hi=None, subj="AA-001", **kw):
    d = ev("lab", eid, day, subj, test=test, value=value, unit=unit, **kw)
    if lo is not None:
        d["ref_low"] = lo
    if hi is not None:
        d["ref_high"] = hi
    return d


def neut(eid, day, v, **kw):
    return lab(eid, day, "NEUT", v, "10^9/L", 2.0, 7.0, **kw)


def alt(eid, day, v, **kw):
    return lab(eid, day, "ALT", v, "U/L", 7, 40, **kw)


def bili(eid, day, v, **kw):
    return lab(eid, day, "BILI", v, "umol/L", 3.4, 17.1, **kw)


def plat(eid, day, v, **kw):
    return lab(eid, day, "PLAT", v, "10^9/L", 100, 300, **kw)


def ae(
    eid,
    day,
    term,
    grade,
    hours=0.0,
    subj="AA-001",
    serious=(),
    causality=None,
    expected=None,
    rev=1,
    rec=None,
):
    d = ev(
        "adverse_event",
        eid,
        day,
        subj,
        hours=hours,
        rec=rec,
        term=term.lower(),
        ctcae_term=term,
        grade=grade,
        serious=list(serious),
    )
    if causality:
        d["causality"] = causality
    if expected is not None:
        d["expected"] = expected
    if rev != 1:
        d["revision"] = rev
    return d


def A(kind, rule, day, grade=None, ids=(), subj="AA-001", **kw):
    d = {
        "kind": kind,
        "rule_id": rule,
        "subject_id": subj,
        "study_day": day,
        "grade": grade,
        "event_ids": list(ids),
    }
    d.update(kw)
    return d


def W(index, **kw):
    d = {"kind": "ALERT_WITHDRAWN", "withdraws": f"@{index}"}
    d.update(kw)
    return d


S = {}


def scenario(name, description, events, alerts, rejected=(), as_of=None):
    S[name] = (description, events, alerts, list(rejected), as_of)


# The default schedule's tests, with a unit and a normal value and range: a complete visit raises nothing else.
NORMAL = {
    "NEUT": ("lab", 3.5, "10^9/L", 2.0, 7.0),
    "PLAT": ("lab", 200, "10^9/L", 100, 300),
    "HGB": ("lab", 130, "g/L", 115, 150),
    "WBC": ("lab", 6.0, "10^9/L", 4.0, 10.0),
    "ALT": ("lab", 20, "U/L", 7, 40),
    "AST": ("lab", 22, "U/L", 13, 35),
    "BILI": ("lab", 10, "umol/L", 3.4, 17.1),
    "CREAT": ("lab", 70, "umol/L", 45, 84),
    "K": ("lab", 4.2, "mmol/L", 3.5, 5.3),
    "SODIUM": ("lab", 140, "mmol/L", 137, 147),
    "ALB": ("lab", 42, "g/L", 35, 50),
    "INR": ("lab", 1.0, "ratio", 0.8, 1.2),
    "APTT": ("lab", 30, "s", 25, 35),
    "FIBRINO": ("lab", 3.0, "g/L", 2, 4),
    "QTCF": ("ecg", 410, "ms", None, None),
    "TEMP": ("vital", 36.6, "C", None, None),
    "SYSBP": ("vital", 118, "mmHg", None, None),
    "PULSE": ("vital", 72, "beats/min", None, None),
    "OXYSAT": ("vital", 98, "%", None, None),
}
VISITS = {  # the default schedule up to day 14 (rules: safety/rules/schedule.py, DEFAULT_SCHEDULE)
    0: ("TEMP", "SYSBP", "PULSE", "OXYSAT"),
    1: tuple(NORMAL),
    3: ("NEUT", "PLAT", "HGB", "WBC"),
    7: (
        "NEUT",
        "PLAT",
        "HGB",
        "WBC",
        "ALT",
        "AST",
        "BILI",
        "CREAT",
        "K",
        "SODIUM",
        "ALB",
        "INR",
        "APTT",
        "FIBRINO",
        "TEMP",
        "SYSBP",
        "PULSE",
        "OXYSAT",
    ),
    14: ("NEUT", "PLAT", "HGB", "WBC"),
}


def visit(day, subj="AA-001", skip=(), only=None, rec=None):
    """The scheduled draws and measurements of ``day`` (1 h after the visit starts), all normal, minus ``skip``."""
    events = []
    for test in only or VISITS[day]:
        if test in skip:
            continue
        type_, value, unit, lo, hi = NORMAL[test]
        eid = f"{subj}-D{day}-{test}"
        if type_ == "lab":
            events.append(lab(eid, day, test, value, unit, lo, hi, subj=subj, hours=1, rec=rec))
        else:
            events.append(ev(type_, eid, day, subj, hours=1, rec=rec, test=test, value=value, unit=unit))
    return events


def midnight(day):
    """Local midnight starting study day ``day`` (day 0 = 2026-07-01), as written on an alert."""
    return t(day, -9) + ":00+08:00"


base = [enr(), inf()]
scenario(
    "dlt1_infusion_reaction_23h",
    "DLT-1: an infusion reaction of grade 3, 23 h after the infusion, is a DLT whatever the causality.",
    base + [ae("AE-1", 0, "Infusion related reaction", 3, hours=23, causality="unrelated")],
    [A("DLT", "DLT-1", 0 + 1, 3, ["AE-1"], ctcae_term="Infusion related reaction")],
)
scenario(
    "dlt1_infusion_reaction_25h",
    "DLT-1: the same reaction 25 h after the infusion is outside the 24 h limit; unrelated, so no DLT-2 either.",
    base + [ae("AE-1", 0, "Infusion related reaction", 3, hours=25, causality="unrelated")],
    [],
)
nb = [enr(), neut("L-B", -1, 1.2), inf()]
scenario(
    "dlt4_confirmed_day7",
    "DLT-4: NEUT below 50% of baseline (1.2) and grade 4 on day 2, still so on day 9 (7 days later): DLT raised on day 9. Day 2 also starts a POTENTIAL_SAE episode (grade 2 -> 4).",
    nb + [neut("L-2", 2, 0.4), neut("L-9", 9, 0.3)],
    [
        A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 2, 4, ["L-2"]),
        A("DLT", "DLT-4", 9, 4, ["L-2", "L-9"], ctcae_term="Neutrophil count decreased"),
    ],
)
scenario(
    "dlt4_not_confirmed_day5",
    "DLT-4: a confirming value only 5 study days later does not confirm.",
    nb + [neut("L-2", 2, 0.4), neut("L-7", 7, 0.3)],
    [A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 2, 4, ["L-2"])],
)
scenario(
    "dlt4_recovered_between",
    "DLT-4: a recovered value (1.0) on day 5 drops the pending confirmation (and ends the POTENTIAL_SAE episode); day 9 opens a new one, so nothing is confirmed.",
    nb + [neut("L-2", 2, 0.4), neut("L-5", 5, 1.0), neut("L-9", 9, 0.3)],
    [
        A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 2, 4, ["L-2"]),
        A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 9, 4, ["L-9"]),
    ],
)
scenario(
    "dlt4_grade4_at_baseline",
    "DLT-4: an aplastic anemia subject already at grade 4 before infusion (NEUT 0.4) needs a further halving: 0.3 and 0.25 raise no DLT-4 (and, not treatment-emergent, no POTENTIAL_SAE).",
    [enr(), neut("L-B", -1, 0.4), inf(), neut("L-2", 2, 0.3), neut("L-9", 9, 0.25)],
    [],
)
scenario(
    "window_day366_no_dlt_day400_sae",
    "Window: a related grade 3 AE on day 366 starts no DLT (nor SUSPECTED_DLT); an SAE on day 400 is still alerted.",
    base
    + [
        ae("AE-366", 366, "Rash maculo-papular", 3, causality="related", expected=True),
        ae("AE-400", 400, "Lung infection", 3, causality="unrelated", serious=["hospitalization"]),
    ],
    [A("SAE", "SAE-SERIOUS", 400, 3, ["AE-400"], ctcae_term="Lung infection")],
)
scenario(
    "hys_law_bilirubin_day14",
    "Hy's law: ALT 3.25 x ULN on day 1 and bilirubin 2.3 x ULN on day 15 (14 days later), no ALP: raised on the later day, no ctcae_term.",
    base + [alt("L-ALT", 1, 130), bili("L-BILI", 15, 40)],
    [A("HYS_LAW", "HYS_LAW-ALT", 15, None, ["L-ALT", "L-BILI"], ctcae_term=None)],
)
scenario(
    "hys_law_bilirubin_day15",
    "Hy's law: the same bilirubin 15 days after the ALT is outside the span.",
    base + [alt("L-ALT", 1, 130), bili("L-BILI", 16, 40)],
    [],
)
scenario(
    "hys_law_blocked_by_alp",
    "Hy's law: an ALP >= 2 x ULN measured between the two values means cholestasis: no alert.",
    base + [alt("L-ALT", 1, 130), lab("L-ALP", 3, "ALP", 300, "U/L", 40, 120), bili("L-BILI", 5, 40)],
    [],
)
three = [enr("AA-001"), enr("AA-002"), enr("AA-003"), inf("AA-001"), inf("AA-002"), inf("AA-003")]


def dlt(s: str, e: str, d: int) -> dict:
    return ae(e, d, "Colitis", 3, subj=s, causality="possible", expected=True)


scenario(
    "stopping_boundary_2_of_3",
    "Stopping rule: 2 of 3 infused subjects with a DLT gives P(rate > 0.30) = 0.916 > 0.90: raised once, named after the crossing event; the third DLT does not raise it again.",
    three + [dlt("AA-001", "AE-1", 5), dlt("AA-002", "AE-2", 6), dlt("AA-003", "AE-3", 7)],
    [
        A("DLT", "DLT-2", 5, 3, ["AE-1"]),
        A("DLT", "DLT-2", 6, 3, ["AE-2"], subj="AA-002"),
        A(
            "STOPPING_BOUNDARY",
            "STOPPING-BAYES",
            6,
            None,
            ["AE-2"],
            subj="AA-002",
            basis={"x": 2, "n": 3, "probability": 0.9163},
        ),
        A("DLT", "DLT-2", 7, 3, ["AE-3"], subj="AA-003"),
    ],
)
scenario(
    "stopping_boundary_1_of_3",
    "Stopping rule: 1 of 3 gives 0.652: not crossed.",
    three + [dlt("AA-001", "AE-1", 5)],
    [A("DLT", "DLT-2", 5, 3, ["AE-1"])],
)
scenario(
    "susar_7_vs_15_days",
    "SUSAR: related, unexpected SAEs; life-threatening gets the 7-day clock, hospitalisation the 15-day clock (from recorded_at).",
    base
    + [
        ae(
            "AE-1",
            3,
            "Lung infection",
            2,
            serious=["hospitalization"],
            causality="possible",
            expected=False,
            rec=(4, 0),
        ),
        ae(
            "AE-2",
            5,
            "Sepsis",
            2,
            serious=["life_threatening"],
            causality="unassessable",
            expected=False,
            rec=(5, 6),
        ),
    ],
    [
        A("SAE", "SAE-SERIOUS", 3, 2, ["AE-1"], report_due_at=t(5, 0) + ":00+08:00"),
        A("SUSAR", "SUSAR-15D", 3, 2, ["AE-1"], report_due_at=t(19, 0) + ":00+08:00"),
        A("SAE", "SAE-SERIOUS", 5, 2, ["AE-2"], report_due_at=t(6, 6) + ":00+08:00"),
        A("SUSAR", "SUSAR-7D", 5, 2, ["AE-2"], report_due_at=t(12, 6) + ":00+08:00"),
    ],
)
scenario(
    "susar_clock_shortened_by_revision",
    "SUSAR: a revision adding life-threatening raises a new SUSAR-7D (due 7 days from the revision's recorded_at) and withdraws the 15-day one.",
    base
    + [
        ae(
            "AE-1",
            3,
            "Lung infection",
            2,
            serious=["hospitalization"],
            causality="possible",
            expected=False,
            rec=(3, 4),
        ),
        ae(
            "AE-1",
            3,
            "Lung infection",
            2,
            serious=["hospitalization", "life_threatening"],
            causality="possible",
            expected=False,
            rev=2,
            rec=(4, 0),
        ),
    ],
    [
        A("SAE", "SAE-SERIOUS", 3, 2, ["AE-1"]),
        A("SUSAR", "SUSAR-15D", 3, 2, ["AE-1"]),
        A("SUSAR", "SUSAR-7D", 3, 2, ["AE-1"], report_due_at=t(11, 0) + ":00+08:00"),
        W(1),
    ],
)
scenario(
    "potential_sae_suppressed_by_same_day_sae",
    "POTENTIAL_SAE: a grade 4 platelet count on day 3 is covered by the subject's SAE with onset on day 3, processed before it.",
    [
        enr(),
        plat("L-B", -1, 120),
        inf(),
        ae("AE-1", 3, "Epistaxis", 3, serious=["hospitalization"], causality="unrelated"),
        plat("L-3", 3, 20),
    ],
    [A("SAE", "SAE-SERIOUS", 3, 3, ["AE-1"])],
)
scenario(
    "potential_sae_not_suppressed_by_next_day_sae",
    "POTENTIAL_SAE: an SAE with onset on day 4 does not cover a day 3 value.",
    [
        enr(),
        plat("L-B", -1, 120),
        inf(),
        ae("AE-1", 4, "Epistaxis", 3, serious=["hospitalization"], causality="unrelated"),
        plat("L-3", 3, 20),
    ],
    [
        A("SAE", "SAE-SERIOUS", 4, 3, ["AE-1"]),
        A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 3, 4, ["L-3"], ctcae_term="Platelet count decreased"),
    ],
)
scenario(
    "episodes_realert_only_on_higher_grade",
    "Episodes: ALT grade 3 alerts SUSPECTED_DLT; another grade 3 does not; grade 4 alerts again (and POTENTIAL_SAE); a grade 1 ends both episodes; the next grade 3 starts a new one.",
    base + [alt("L-1", 1, 250), alt("L-2", 2, 260), alt("L-3", 3, 900), alt("L-5", 5, 50), alt("L-6", 6, 250)],
    [
        A(
            "SUSPECTED_DLT",
            "SUSPECTED_DLT-LAB",
            1,
            3,
            ["L-1"],
            ctcae_term="Alanine aminotransferase increased",
        ),
        A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 3, 4, ["L-3"]),
        A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 3, 4, ["L-3"]),
        A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 6, 3, ["L-6"]),
    ],
)
scenario(
    "dlt_priority_and_also_matched",
    "DLT priority: a related grade 5 infusion reaction 2 h after infusion meets DLT-5, DLT-1 and DLT-2: one DLT, rule DLT-5, the others in also_matched (with the SAE and the 7-day SUSAR).",
    base
    + [
        ae(
            "AE-1",
            0,
            "Infusion related reaction",
            5,
            hours=2,
            serious=["death"],
            causality="probable",
            expected=False,
        )
    ],
    [
        A("SAE", "SAE-SERIOUS", 0, 5, ["AE-1"]),
        A("SUSAR", "SUSAR-7D", 0, 5, ["AE-1"]),
        A("DLT", "DLT-5", 0, 5, ["AE-1"], also_matched=["DLT-1", "DLT-2"]),
    ],
)
scenario(
    "correction_withdraws_sae",
    "Correction: revision 2 removes the seriousness; the SAE stays in the output and is followed by ALERT_WITHDRAWN.",
    base
    + [
        ae("AE-1", 4, "Nausea", 2, serious=["hospitalization"], causality="unrelated"),
        ae("AE-1", 4, "Nausea", 2, serious=[], causality="unrelated", rev=2, rec=(6, 0)),
    ],
    [A("SAE", "SAE-SERIOUS", 4, 2, ["AE-1"]), W(0, event_ids=["AE-1"])],
)
scenario(
    "correction_makes_ae_serious",
    "Correction: revision 2 makes the AE serious; the SAE is raised then, its clock from the revision's recorded_at.",
    base
    + [
        ae("AE-1", 4, "Nausea", 2, causality="unrelated"),
        ae("AE-1", 4, "Nausea", 2, serious=["hospitalization"], causality="unrelated", rev=2, rec=(6, 0)),
    ],
    [A("SAE", "SAE-SERIOUS", 4, 2, ["AE-1"], report_due_at=t(7, 0) + ":00+08:00")],
)
scenario(
    "duplicate_same_revision",
    "Duplicates: the same event_id and revision again (a redelivery) changes nothing.",
    base + [ae("AE-1", 4, "Nausea", 2, serious=["hospitalization"], causality="unrelated")] * 2,
    [A("SAE", "SAE-SERIOUS", 4, 2, ["AE-1"])],
)
scenario(
    "conflicting_duplicate",
    "Duplicates: the same event_id and revision with other content is rejected as a conflicting duplicate and changes nothing.",
    base
    + [
        ae("AE-1", 4, "Nausea", 2, serious=["hospitalization"], causality="unrelated"),
        ae("AE-1", 4, "Nausea", 3, serious=["hospitalization"], causality="related", expected=False),
    ],
    [A("SAE", "SAE-SERIOUS", 4, 2, ["AE-1"])],
    [{"kind": "conflicting_duplicate", "event_id": "AE-1"}],
)
scenario(
    "suspected_dlt_ae_then_dlt",
    "SUSPECTED_DLT-AE: a grade 3 non-hematologic AE without causality asks for PI attribution; revision 2 adds 'possible': DLT-2 is raised and the suspected DLT withdrawn.",
    base + [ae("AE-1", 8, "Colitis", 3), ae("AE-1", 8, "Colitis", 3, causality="possible", rev=2, rec=(9, 0))],
    [A("SUSPECTED_DLT", "SUSPECTED_DLT-AE", 8, 3, ["AE-1"]), A("DLT", "DLT-2", 8, 3, ["AE-1"]), W(0)],
)
scenario(
    "death_related",
    "Death: a related death on day 30 is an SAE, a SUSAR (7 days) and, in the window, DLT-5; each is coded Death NOS, grade 5 (the cause is free text and stays out).",
    base + [ev("death", "D-1", 30, cause="multi-organ failure", causality="related")],
    [
        A("SAE", "SAE-DEATH", 30, 5, ["D-1"], ctcae_term="Death NOS"),
        A("SUSAR", "SUSAR-7D", 30, 5, ["D-1"], ctcae_term="Death NOS"),
        A("DLT", "DLT-5", 30, 5, ["D-1"], ctcae_term="Death NOS"),
    ],
)
scenario(
    "late_lab_after_later_ones",
    "Late data: labs are processed in arrival order; a day-11 value entered on day 14 does not end the episode that the newer day-12 value keeps open, and a late grade 4 takes its study day from occurred_at and its clock from recorded_at.",
    base
    + [
        alt("L-10", 10, 250),
        alt("L-12", 12, 260),
        alt("L-11", 11, 50, rec=(14, 0)),
        alt("L-13", 13, 270),
        alt("L-9", 9, 900, rec=(15, 0)),
    ],
    [
        A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 10, 3, ["L-10"]),
        A(
            "SUSPECTED_DLT",
            "SUSPECTED_DLT-LAB",
            9,
            4,
            ["L-9"],
            raised_at=t(15, 0) + ":00+08:00",
            report_due_at=t(18, 0) + ":00+08:00",
        ),
        A(
            "POTENTIAL_SAE",
            "POTENTIAL_SAE-LAB",
            9,
            4,
            ["L-9"],
            raised_at=t(15, 0) + ":00+08:00",
            report_due_at=t(16, 0) + ":00+08:00",
        ),
    ],
)
scenario(
    "late_baseline",
    "Late baseline: day 2's NEUT 0.4 is graded without a baseline (grade 0, so POTENTIAL_SAE). A pre-infusion NEUT 1.2 entered later becomes the baseline of later values only (day 2 is not re-graded): day 9 and day 16 are below 50% of it at grade 4, so DLT-4 is raised on day 16.",
    [
        enr(),
        inf(),
        neut("L-2", 2, 0.4),
        neut("L-B", -1, 1.2, rec=(3, 0)),
        neut("L-9", 9, 0.3),
        neut("L-16", 16, 0.25),
    ],
    [A("POTENTIAL_SAE", "POTENTIAL_SAE-LAB", 2, 4, ["L-2"]), A("DLT", "DLT-4", 16, 4, ["L-9", "L-16"])],
)
scenario(
    "baseline_calcium_keeps_its_albumin",
    "A baseline calcium keeps its albumin correction however many albumins follow: the pre-infusion draw (CA 1.6 "
    "mmol/L, ALB 15 g/L) is corrected to 2.1 mmol/L, baseline Hypocalcemia grade 0. Ten later albumins (more than "
    "grading keeps of recent ones) arrive before day 10's draw (ALB 40 g/L, CA 1.6 mmol/L: Hypocalcemia 3), which "
    "is therefore treatment-emergent and raises SUSPECTED_DLT-LAB.",
    [
        enr(),
        lab("L-CA-B", -2, "CA", 1.6, "mmol/L", 2.1, 2.6),
        lab("L-ALB-B", -2, "ALB", 15, "g/L", 35, 50),
        inf(),
        *[lab(f"L-ALB-{d}", d, "ALB", 40, "g/L", 35, 50) for d in range(1, 11)],
        lab("L-CA-10", 10, "CA", 1.6, "mmol/L", 2.1, 2.6),
    ],
    [A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 10, 3, ["L-CA-10"], ctcae_term="Hypocalcemia")],
)
scenario(
    "hypoglycemia_30_mg_per_dl_is_grade_3",
    "A unit CTCAE prints wins over conversion: glucose 30 mg/dL is read against CTCAE's mg/dL bands ('<40 - 30 "
    "mg/dL'), Hypoglycemia 3, so SUSPECTED_DLT-LAB only; converted to 1.67 mmol/L it would be grade 4 and also "
    "raise POTENTIAL_SAE-LAB.",
    [
        enr(),
        lab("L-GLU-B", -2, "GLUC", 90, "mg/dL", 70, 110),
        inf(),
        lab("L-GLU-5", 5, "GLUC", 30, "mg/dL", 70, 110),
    ],
    [A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 5, 3, ["L-GLU-5"], ctcae_term="Hypoglycemia")],
)


def suspected_dlt_id(subj, rule, event_ids, term, grade):
    """The alert_id of a suspected DLT (safety/model/outputs.py alert_id: kind, rule, subject, sorted event ids,
    then the episode's term and grade)."""
    text = "|".join(["SUSPECTED_DLT", rule, subj, *sorted(event_ids), term, str(grade)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


ALT_TERM = "Alanine aminotransferase increased"
SUSPECTED = suspected_dlt_id("AA-002", "SUSPECTED_DLT-LAB", ["L-ALT"], ALT_TERM, 3)


def attribution(causality, rev=1, day=7, hours=1.0, serious=()):
    """The PI's attribution of AA-002's suspected DLT as the worker's ledger agent writes it onto safety.events
    (safety/delivery/attribution.py): onset = the ALT value's time, recorded_at = the acknowledgement's."""
    d = ev(
        "adverse_event",
        f"ATTR-{SUSPECTED}",
        6,
        "AA-002",
        rec=(day, hours),
        source="attribution",
        term=ALT_TERM,
        ctcae_term=ALT_TERM,
        grade=3,
        serious=list(serious),
        causality=causality,
        attribution_of=SUSPECTED,
        who="staff-07",
    )
    d["revision"] = rev
    return d


# AA-001 already has a DLT (1 of 3 infused: 0.652); AA-002's ALT 250 U/L (6.25 x ULN, grade 3) asks for attribution
attributed = three + [dlt("AA-001", "AE-1", 5), alt("L-ALT", 6, 250, subj="AA-002")]
suspected = A("SUSPECTED_DLT", "SUSPECTED_DLT-LAB", 6, 3, ["L-ALT"], subj="AA-002", ctcae_term=ALT_TERM)
scenario(
    "attribution_related_raises_dlt2",
    "The PI's attribution closes a suspected DLT: the PI attributes AA-002's grade 3 ALT increase as 'probable' "
    "(in the related set). The attribution, an adverse_event from the alert, is DLT-2 on the ALT value's study day, "
    "and with it 2 of 3 infused subjects have a DLT: the stopping boundary (0.916) is crossed by that event.",
    attributed + [attribution("probable")],
    [
        A("DLT", "DLT-2", 5, 3, ["AE-1"]),
        suspected,
        A(
            "DLT",
            "DLT-2",
            6,
            3,
            [f"ATTR-{SUSPECTED}"],
            subj="AA-002",
            ctcae_term=ALT_TERM,
            raised_at=t(7, 1) + ":00+08:00",
        ),
        A(
            "STOPPING_BOUNDARY",
            "STOPPING-BAYES",
            6,
            None,
            [f"ATTR-{SUSPECTED}"],
            subj="AA-002",
            basis={"x": 2, "n": 3, "probability": 0.9163},
        ),
    ],
)
scenario(
    "attribution_unrelated_closes_the_suspicion",
    "The PI attributes the same suspected DLT as 'unrelated': the attribution raises nothing (no DLT, no stopping "
    "boundary); the acknowledgement that carried it closes the suspicion.",
    attributed + [attribution("unrelated")],
    [A("DLT", "DLT-2", 5, 3, ["AE-1"]), suspected],
)
scenario(
    "attribution_revised_to_related",
    "A later attribution of the same alert is a higher revision of its event: 'unlikely' first raises nothing; "
    "revision 2, 'possible' two days later, raises DLT-2 then (its clock from the second attribution) and crosses "
    "the stopping boundary.",
    attributed + [attribution("unlikely"), attribution("possible", rev=2, day=9, hours=0)],
    [
        A("DLT", "DLT-2", 5, 3, ["AE-1"]),
        suspected,
        A("DLT", "DLT-2", 6, 3, [f"ATTR-{SUSPECTED}"], subj="AA-002", raised_at=t(9, 0) + ":00+08:00"),
        A("STOPPING_BOUNDARY", "STOPPING-BAYES", 6, None, [f"ATTR-{SUSPECTED}"], subj="AA-002"),
    ],
)
BLOOD = ["NEUT", "PLAT", "HGB", "WBC"]
HEARTBEAT = [enr(), inf(), *visit(0), *visit(1), *visit(3)]
scenario(
    "heartbeat_missed_day7_blood_routine_before_due",
    "Expected data, --as-of before the due moment: the day-7 blood routine never came, but its window (days 6..8) "
    "and the 2-day grace period end only at midnight starting day 11; at 23:59 on day 10 nothing is overdue.",
    [*HEARTBEAT, *visit(7, skip=BLOOD)],
    [],
    as_of=t(10, 14.98),
)
scenario(
    "heartbeat_missed_day7_blood_routine",
    "Expected data, --as-of after the due moment: the day-7 blood routine never came; DATA_OVERDUE names the four "
    "tests and the window, raised at the moment it fell due (midnight starting day 11), to the safety officer and "
    "the PI, with no reporting clock. Every other visit up to day 7 is complete.",
    [*HEARTBEAT, *visit(7, skip=BLOOD)],
    [
        A(
            "DATA_OVERDUE",
            "DATA_OVERDUE",
            7,
            None,
            [],
            raised_at=midnight(11),
            recipients=["safety_officer", "pi"],
            basis={"group": "blood_routine", "missing": BLOOD, "window_first_day": 6, "window_last_day": 8},
        )
    ],
    as_of=t(11, -9),
)
scenario(
    "heartbeat_partial_draw_missing_plat",
    "Expected data, each test on its own: the day-7 blood routine came without a platelet count; DATA_OVERDUE "
    "names PLAT only.",
    [*HEARTBEAT, *visit(7, skip=["PLAT"])],
    [
        A(
            "DATA_OVERDUE",
            "DATA_OVERDUE",
            7,
            None,
            [],
            raised_at=midnight(11),
            basis={"group": "blood_routine", "missing": ["PLAT"]},
        )
    ],
    as_of=t(14, 0),
)
scenario(
    "heartbeat_late_result_withdraws",
    "Expected data arriving late: the day-7 platelet count (taken on day 7) is entered on day 12, after its visit "
    "fell due; the DATA_OVERDUE raised at midnight starting day 11 is followed by ALERT_WITHDRAWN, reason received.",
    [*HEARTBEAT, *visit(7, skip=["PLAT"]), *visit(7, only=["PLAT"], rec=(12, 0)), *visit(14)],
    [
        A("DATA_OVERDUE", "DATA_OVERDUE", 7, None, [], basis={"missing": ["PLAT"]}),
        W(0, reason="received", event_ids=["AA-001-D7-PLAT"], study_day=7),
    ],
    as_of=t(20, 0),
)
scenario(
    "heartbeat_subject_ended_study",
    "Expected data end with the subject: the day-3 blood routine is missed, then the subject withdraws on day 5 "
    "(end_of_study). Day 3 is still overdue; nothing scheduled after day 5 is expected, a year later as well.",
    [*HEARTBEAT[:-4], ev("end_of_study", "EOS-AA-001", 5, reason="withdrawn")],
    [A("DATA_OVERDUE", "DATA_OVERDUE", 3, None, [], raised_at=midnight(7), basis={"missing": BLOOD})],
    as_of=t(400, 0),
)
for name, (description, events, alerts, rejected, as_of) in S.items():
    (OUT / f"{name}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    expectation = {"description": description, "alerts": alerts, "rejected": rejected}
    if as_of is not None:
        expectation["as_of"] = as_of
    (OUT / f"{name}.expected.json").write_text(json.dumps(expectation, indent=1) + "\n")
print(len(S))
