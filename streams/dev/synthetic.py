"""A synthetic, deterministic UC-MSC aplastic anemia trial: the demo's data and the benchmarks' load.

``generate_trial`` writes the study ChiCTR2600125907 (rules/studies/ChiCTR2600125907.yaml) as contract events
(README, "Input handling"): 48 subjects enrolled a few days apart, each screened, infused 1 to 4 times and
followed to study day 365 (or death / withdrawal). The data look like aplastic anemia: severe cytopenias at
baseline, transfusions while cytopenic, responders recovering after months, cyclosporine-like liver and blood
pressure noise, some abnormal liver baselines (ALT up to 2 x ULN, allowed by inclusion), infections, infusion
reactions, late lab entry and conventional units from outside laboratories. Draws follow the study's schedule of
expected data (safety/rules/schedule.py), except a few missed or late on purpose (``MISSED_DRAWS``,
``LATE_RESULTS``), so the heartbeat's DATA_OVERDUE and its withdrawal by a late result show in the demo.

The random part of the trial is kept clinically quiet on purpose: random blood counts never fall to grade 4
from a grade 3 baseline nor below 65% of baseline, random chemistry and vitals stay below grade 3, and random
adverse events carry a causality outside the related set (hospitalised lung infections do raise SAEs, as in
any aplastic anemia cohort). Every other alert comes from one of the scripted scenarios in ``SCENARIOS``, so
the demo's alert list reads as a story and a change in the rules shows up as a change of that story. Together
the scenarios raise every alert kind of docs/rules.md, including a stopping boundary crossed at 3 of 4 infused
subjects (posterior 0.969, a worked value of docs/rules.md, STOPPING_BOUNDARY).

Pure and deterministic: no I/O, no clock; the same arguments give the same events (per-subject random streams
derived from the seed, so one subject's script never shifts another's data).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

STUDY_ID = "ChiCTR2600125907"
TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has no DST: a fixed +08:00 offset is exact
DEFAULT_SEED = 20260701
DEFAULT_START = datetime(2026, 7, 1, 8, 0, tzinfo=TZ)
SCREENING_TO_INFUSION_DAYS = 7
FOLLOW_UP_DAYS = (1, 3, 7, 14, 21, 28, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330, 365)
FULL_CHEMISTRY_DAYS = frozenset({14, 28, 90, 180, 365})
EARLY_PANEL_DAYS = frozenset({1, 7})  # the schedule's early biochemistry and coagulation (safety/rules/schedule.py)
LIVER_RENAL_DAYS = frozenset({60, 120, 240, 300})
COAGULATION_DAYS = frozenset({1, 7, 28, 180, 365})
DIFFERENTIAL_DAYS = frozenset({28, 90, 180, 365})  # LYM and RETI besides the routine NEUT/PLAT/HGB/WBC
ECG_DAYS = frozenset({1, 28, 90, 180, 365})
INTERIM_CBC_DAYS = (45, 75, 105, 135, 165)  # transfusion clinic between monthly visits while dependent

CBC = ("NEUT", "PLAT", "HGB", "WBC")
CHEMISTRY = ("ALT", "AST", "BILI", "ALP", "GGT", "CREAT", "ALB", "K", "SODIUM", "CA", "MG", "GLUC")
LIVER_RENAL = ("ALT", "AST", "BILI", "CREAT")
EARLY_BIOCHEMISTRY = ("ALT", "AST", "BILI", "CREAT", "K", "SODIUM", "ALB")
COAGULATION = ("INR", "APTT", "FIBRINO")
ALL_LABS = (*CBC, "LYM", "RETI", *CHEMISTRY, *COAGULATION)
VISIT_VITALS = ("TEMP", "SYSBP", "DIABP", "PULSE")

# SI unit, reference range (male, female) and decimals, as a Chinese tertiary hospital laboratory reports.
_REF: dict[str, tuple[str, tuple[float, float], tuple[float, float], int]] = {
    "NEUT": ("10^9/L", (1.8, 6.3), (1.8, 6.3), 2),
    "PLAT": ("10^9/L", (125, 350), (125, 350), 0),
    "HGB": ("g/L", (130, 175), (115, 150), 0),
    "WBC": ("10^9/L", (3.5, 9.5), (3.5, 9.5), 2),
    "LYM": ("10^9/L", (1.1, 3.2), (1.1, 3.2), 2),
    "RETI": ("10^9/L", (24, 84), (24, 84), 1),
    "ALT": ("U/L", (9, 50), (7, 40), 0),
    "AST": ("U/L", (15, 40), (13, 35), 0),
    "BILI": ("umol/L", (3.4, 20.5), (3.4, 20.5), 1),
    "ALP": ("U/L", (45, 125), (35, 100), 0),
    "GGT": ("U/L", (10, 60), (7, 45), 0),
    "CREAT": ("umol/L", (57, 111), (41, 81), 0),
    "ALB": ("g/L", (40, 55), (40, 55), 1),
    "K": ("mmol/L", (3.5, 5.3), (3.5, 5.3), 2),
    "SODIUM": ("mmol/L", (137, 147), (137, 147), 0),
    "CA": ("mmol/L", (2.11, 2.52), (2.11, 2.52), 2),
    "MG": ("mmol/L", (0.75, 1.02), (0.75, 1.02), 2),
    "GLUC": ("mmol/L", (3.9, 6.1), (3.9, 6.1), 2),
    "INR": ("ratio", (0.8, 1.2), (0.8, 1.2), 2),
    "APTT": ("s", (25.0, 35.0), (25.0, 35.0), 1),
    "FIBRINO": ("g/L", (2.0, 4.0), (2.0, 4.0), 2),
}
# Outside laboratories (follow-up at the subject's local hospital) report conventional units: unit, factor
# (conventional = SI x factor, the inverse of rules/units.yaml's factor) and decimals.
_CONVENTIONAL: dict[str, tuple[str, float, int]] = {
    "HGB": ("g/dL", 0.1, 1),
    "ALB": ("g/dL", 0.1, 1),
    "CREAT": ("mg/dL", 1 / 88.4, 2),
    "BILI": ("mg/dL", 1 / 17.1, 2),
    "GLUC": ("mg/dL", 18.0, 0),
    "CA": ("mg/dL", 1 / 0.2495, 1),
    "MG": ("mg/dL", 1 / 0.4114, 2),
    "FIBRINO": ("mg/dL", 100.0, 0),
}
_COUNTS_UCUM = "10*9/L"  # outside laboratories send counts in UCUM spelling
_VITAL_UNITS = {
    "TEMP": "C",
    "SYSBP": "mmHg",
    "DIABP": "mmHg",
    "PULSE": "beats/min",
    "RESP": "breaths/min",
    "OXYSAT": "%",
    "WEIGHT": "kg",
}

# Scripted scenarios, by subject number: what each one exercises (docs/rules.md, per alert kind).
SCENARIOS: dict[int, str] = {
    1: "DLT-4: baseline NEUT 0.82 falls < 50% and to grade 4 on day 7 (POTENTIAL_SAE); confirmed day 14",
    2: "DLT-1: grade 3 infusion related reaction 2 h after the first infusion (also matches DLT-2)",
    4: "DLT-2: related grade 3 rash on day 3; third DLT of 4 infused subjects -> STOPPING_BOUNDARY (0.969)",
    7: "SAE: sepsis with hospitalization (unlikely related); fever > 40 C and SpO2 86% -> SUSPECTED_DLT",
    9: "SUSAR (15 days): hospitalised pneumonitis, possibly related, not in the Investigator's Brochure",
    11: "DLT-3: catheter-related thrombosis grade 2, causality unlikely (anything but unrelated counts)",
    13: "DLT-5 + SAE + SUSAR (7 days): sudden death on day 46, causality unassessable",
    15: "SUSPECTED_DLT: grade 3 hypertension (SYSBP 166) on cyclosporine",
    17: "HYS_LAW: ALT 4.3 x ULN on day 28, bilirubin 2.2 x ULN on day 31, ALP < 2 x ULN",
    20: "ALERT_WITHDRAWN: hemolysed specimen K 7.3 (SUSPECTED_DLT, POTENTIAL_SAE) corrected to 4.5",
    22: "SUSPECTED_DLT: QTcF 508 ms on day 28",
    24: "SUSPECTED_DLT-AE then DLT-2 and SUSAR: hospitalised lung infection, causality added by a revision",
    26: "ALERT_WITHDRAWN: grade 3 infusion reaction (DLT-1) downgraded to grade 2 by the investigator",
    28: "SAE by revision: a fever becomes serious when the subject is admitted",
    31: "SAE x2: intracranial hemorrhage (unrelated), then death; no DLT-5",
    38: "SAE x2: fatal sepsis (unrelated) on day 212",
    10: "duplicate: the day 28 platelet count arrives twice (same event_id and revision): changes nothing",
}
_NO_RANDOM_SAE = frozenset(SCENARIOS)  # scripted subjects get only their script's serious events

# Expected data that does not arrive, on purpose (docs/rules.md, "Expected data"), by subject number: the visit
# day and the tests not drawn (none listed: the visit did not take place). Every other draw follows the study's
# schedule, so the heartbeat's DATA_OVERDUE in the demo are these, and late results (below, and the few random
# ones) withdrawing theirs.
MISSED_DRAWS: dict[int, tuple[int, tuple[str, ...]]] = {
    5: (14, ()),  # the day 14 visit did not take place: blood routine overdue
    6: (21, ("PLAT",)),  # the day 21 platelet tube clotted: PLAT alone overdue
}
LATE_RESULTS: dict[int, tuple[int, tuple[str, ...], float]] = {
    8: (28, COAGULATION, 9.0),  # the day 28 coagulation results come 9 days after the draw: overdue, then withdrawn
}


def _iso(moment: datetime) -> str:
    """ISO 8601 with the study's +08:00 offset (every moment here is built in TZ)."""
    return (moment if moment.tzinfo is TZ else moment.astimezone(TZ)).isoformat(timespec="seconds")


def _round(value: float, decimals: int) -> float | int:
    return int(round(value)) if decimals == 0 else round(value, decimals)


@dataclass
class _Profile:
    """The hidden truth of one subject, from which every observation is drawn."""

    number: int
    sex: str
    age: int
    severity: str
    weight: float
    enrolled_at: datetime
    infusion_days: list[int]
    responder: bool
    response_day: float
    targets: dict[str, float]
    base: dict[str, float]
    liver_abnormal: bool
    outside_lab: bool
    temp_unit: str
    fate: tuple[str, int]  # (end_of_study reason, study day)
    bench: bool = False

    @property
    def subject_id(self) -> str:
        return f"AA-{self.number:03d}"

    @property
    def day0(self) -> datetime:
        return self.enrolled_at + timedelta(days=SCREENING_TO_INFUSION_DAYS)


@dataclass
class _Builder:
    """Builds one subject's events; ``arrivals`` keep (recorded_at, sequence, event) for the global order."""

    profile: _Profile
    rng: random.Random
    events: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    observed: dict[str, float] = field(default_factory=dict)  # last observed pre-infusion value per test
    drawn: dict[tuple[int, str], float] = field(default_factory=dict)  # (study day, test) -> blood count

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{self.profile.subject_id}-{prefix}{self.counters[prefix]:04d}"

    def at(self, day: int, hour: int = 8, minute: int = 30) -> datetime:
        """A local time on a study day (day 0 = first infusion's date)."""
        d0 = self.profile.day0
        return datetime(d0.year, d0.month, d0.day, hour, minute, tzinfo=TZ) + timedelta(days=day)

    def emit(
        self,
        kind: str,
        prefix: str,
        occurred: datetime,
        recorded: datetime,
        source: str,
        event_id: str | None = None,
        revision: int = 1,
        **fields: Any,
    ) -> dict[str, Any]:
        event: dict[str, Any] = {"type": kind, "event_id": event_id or self.next_id(prefix)}
        if revision > 1:
            event["revision"] = revision
        event.update(
            study_id=STUDY_ID,
            subject_id=self.profile.subject_id,
            occurred_at=_iso(occurred),
            recorded_at=_iso(recorded),
            source=source,
        )
        event.update({k: v for k, v in fields.items() if v is not None})
        self.events.append((recorded, len(self.events), event))
        return event

    # --- observations --------------------------------------------------------------------------------------
    def lab(
        self,
        test: str,
        day: int,
        value: float | str,
        when: datetime | None = None,
        *,
        outside: bool = False,
        late_days: float = 0.0,
        status: str | None = None,
        event_id: str | None = None,
        revision: int = 1,
        recorded: datetime | None = None,
    ) -> dict[str, Any]:
        p = self.profile
        unit, male, female, decimals = _REF[test]
        low, high = male if p.sex == "M" else female
        occurred = when or self.at(day, 7, 40)
        if outside and test in _CONVENTIONAL:
            unit, factor, decimals = _CONVENTIONAL[test]
            low, high = low * factor, high * factor
            if isinstance(value, (int, float)):
                value = value * factor
        elif outside and unit == "10^9/L":
            unit = _COUNTS_UCUM
        shown: float | int | str = value if isinstance(value, str) else _round(value, decimals)
        if recorded is None:
            delay = timedelta(days=late_days) if late_days else timedelta(hours=2, minutes=self.rng.randint(5, 90))
            recorded = occurred + delay
        return self.emit(
            "lab",
            "L",
            occurred,
            recorded,
            "HL7" if outside else "LIS",
            event_id=event_id,
            revision=revision,
            test=test,
            value=shown,
            unit=unit,
            ref_low=_round(low, decimals),
            ref_high=_round(high, decimals),
            status=status,
        )

    def vital(self, test: str, value: float, when: datetime) -> None:
        unit = self.profile.temp_unit if test == "TEMP" else _VITAL_UNITS[test]
        decimals = 1 if test in ("TEMP", "WEIGHT") else 0
        self.emit(
            "vital",
            "V",
            when,
            when + timedelta(minutes=self.rng.randint(2, 20)),
            "bedside",
            test=test,
            value=_round(value, decimals),
            unit=unit,
        )

    def ecg(self, value: float, when: datetime) -> None:
        self.emit(
            "ecg",
            "E",
            when,
            when + timedelta(hours=1),
            "EDC",
            test="QTCF",
            value=int(round(value)),
            unit="ms",
        )

    def adverse_event(
        self,
        term: str,
        ctcae_term: str,
        grade: int,
        onset: datetime,
        recorded: datetime,
        *,
        serious: list[str] | None = None,
        causality: str | None = None,
        expected: bool | None = None,
        outcome: str | None = None,
        ended: datetime | None = None,
        event_id: str | None = None,
        revision: int = 1,
    ) -> dict[str, Any]:
        return self.emit(
            "adverse_event",
            "AE",
            onset,
            recorded,
            "EDC",
            event_id=event_id,
            revision=revision,
            term=term,
            ctcae_term=ctcae_term,
            grade=grade,
            serious=list(serious or []),
            causality=causality,
            expected=expected,
            outcome=outcome,
            ended_at=_iso(ended) if ended else None,
        )


# --- the hidden truth -------------------------------------------------------------------------------------


def _profile(number: int, enrolled_at: datetime, rng: random.Random, bench: bool = False) -> _Profile:
    sex = rng.choice("MF")
    severity = rng.choices(("VSAA", "SAA", "NSAA"), weights=(2, 5, 3))[0]
    neut = {"VSAA": rng.uniform(0.1, 0.19), "SAA": rng.uniform(0.2, 0.49), "NSAA": rng.uniform(0.5, 0.8)}[severity]
    plat = rng.uniform(5, 15) if severity != "NSAA" else rng.uniform(15, 30)
    hgb = rng.uniform(60, 90)
    lym = rng.uniform(0.8, 1.8)
    low_high = {t: (m if sex == "M" else f) for t, (_, m, f, _) in _REF.items()}
    base: dict[str, float] = {"NEUT": neut, "PLAT": plat, "HGB": hgb, "LYM": lym, "RETI": rng.uniform(5, 20)}
    liver_abnormal = rng.random() < 0.12
    for test in CHEMISTRY + COAGULATION:
        low, high = low_high[test]
        base[test] = rng.uniform(low + 0.15 * (high - low), high - 0.2 * (high - low))
    for test in ("ALT", "AST"):
        high = low_high[test][1]
        base[test] = high * (rng.uniform(1.2, 2.0) if liver_abnormal else rng.uniform(0.35, 0.8))
    base["BILI"] = rng.uniform(6, 16)
    responder = rng.random() < 0.55
    targets = {
        "NEUT": rng.uniform(1.0, 2.6),
        "PLAT": rng.uniform(40, 130),
        "HGB": rng.uniform(100, 135),
        "RETI": rng.uniform(30, 70),
    }
    n_inf = rng.choices((1, 2, 3, 4), weights=(2, 3, 3, 2))[0]
    infusion_days = [0, 14, 28, 42][:n_inf] if rng.random() < 0.5 else [0, 7, 14, 21][:n_inf]
    roll = rng.random()
    if roll < 0.04:
        fate = ("withdrawn", rng.randint(60, 200))
    elif roll < 0.07:
        fate = ("lost_to_follow_up", rng.randint(120, 300))
    else:
        fate = ("completed", 365)
    return _Profile(
        number=number,
        sex=sex,
        age=rng.randint(18, 69),
        severity=severity,
        weight=rng.uniform(45, 82),
        enrolled_at=enrolled_at,
        infusion_days=infusion_days,
        responder=responder,
        response_day=rng.uniform(45, 150),
        targets=targets,
        base=base,
        liver_abnormal=liver_abnormal,
        outside_lab=rng.random() < 0.25,
        temp_unit="Cel" if rng.random() < 0.1 else "C",
        fate=fate,
        bench=bench,
    )


def _recovery(p: _Profile, day: int) -> float:
    """0 before response, rising to 1 around the response day (a logistic of about a month)."""
    if not p.responder or day <= 0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-(day - p.response_day) / 12.0))


_BASELINE_BAND = {"NEUT": (0.05, 0.8), "PLAT": (5.0, 30.0), "HGB": (60.0, 90.0)}  # aplastic anemia at entry
_GRADE4_BELOW = {"NEUT": 0.5, "PLAT": 25.0, "WBC": 1.0, "LYM": 0.2}  # CTCAE v5.0 grade 4 (rules/ctcae_v5.yaml)


def _blood(b: _Builder, test: str, day: int) -> float:
    """A blood count on a study day: disease trajectory x noise, never below the quiet floor.

    One draw per test and day (WBC is the sum of the same day's NEUT and LYM plus monocytes).
    """
    key = (day, test)
    if key in b.drawn:
        return b.drawn[key]
    p = b.profile
    if test == "WBC":
        value = _blood(b, "NEUT", day) + _blood(b, "LYM", day) + b.rng.uniform(0.1, 0.3)
    elif test == "LYM":
        value = p.base[test] * math.exp(b.rng.gauss(0, 0.1))
    else:
        base = p.base[test]
        target = p.targets.get(test, base)
        value = (base + (target - base) * _recovery(p, day)) * math.exp(b.rng.gauss(0, 0.09))
    if day < 0 and test in _BASELINE_BAND:
        low, high = _BASELINE_BAND[test]
        value = min(max(value, low), high)
    seen = b.observed.get(test)
    if day >= 0 and seen is not None:
        # Quiet floor: no random grade 4 from a grade 3 baseline, never near 50% of baseline (DLT-4).
        floor = seen * 0.66
        grade4 = _GRADE4_BELOW.get(test)
        if grade4 is not None and seen >= grade4:
            floor = max(floor, grade4 * 1.02)
        value = max(value, floor)
    b.drawn[key] = value
    return value


_SPREAD = {
    "ALT": 0.12,
    "AST": 0.12,
    "GGT": 0.12,
    "ALP": 0.08,
    "BILI": 0.12,
    "CREAT": 0.06,
    "ALB": 0.04,
    "K": 0.05,
    "SODIUM": 0.012,
    "CA": 0.025,
    "MG": 0.05,
    "GLUC": 0.08,
    "INR": 0.04,
    "APTT": 0.05,
    "FIBRINO": 0.08,
}  # visit-to-visit variation (log scale)


def _chemistry(b: _Builder, test: str) -> float:
    """Baseline x noise, clipped to +-2 sd so that random chemistry never reaches grade 3."""
    p = b.profile
    spread = _SPREAD[test]
    value = p.base[test] * math.exp(max(-2 * spread, min(2 * spread, b.rng.gauss(0, spread))))
    if test in ("ALT", "AST"):
        value = min(value, p.base[test] * 1.35)  # abnormal baselines grade by x baseline: stay below 1.5
    return value


def _count(value: float, test: str) -> float | str:
    if test == "NEUT" and value < 0.1:
        return "<0.1"
    return value


# --- one subject ------------------------------------------------------------------------------------------


def _subject(p: _Profile, rng: random.Random) -> list[tuple[datetime, int, dict[str, Any]]]:
    b = _Builder(profile=p, rng=rng)
    script = SCENARIOS.get(p.number) if not p.bench else None
    last_day = p.fate[1]
    b.emit(
        "enrollment",
        "ENR",
        p.enrolled_at,
        p.enrolled_at + timedelta(hours=1),
        "EDC",
        sex=p.sex,
        age=p.age,
        severity=p.severity,
    )

    # Screening (day -7): everything; baseline visit (day -1): blood counts and vitals.
    for test in ALL_LABS:
        value = _blood(b, test, -7) if test in (*CBC, "LYM", "RETI") else _chemistry(b, test)
        if test in ("ALT", "AST"):  # inclusion: ALT/AST <= 2 x ULN at screening
            ranges = _REF[test][1] if p.sex == "M" else _REF[test][2]
            value = min(value, 1.95 * ranges[1])
        b.lab(test, -SCREENING_TO_INFUSION_DAYS, _count(value, test))
    _visit_vitals(b, -SCREENING_TO_INFUSION_DAYS, full=True)
    b.ecg(rng.uniform(400, 440), b.at(-SCREENING_TO_INFUSION_DAYS, 9, 10))
    if not p.bench:
        b.drawn.update({(day, test): v for (n, day, test), v in _OVERRIDES.items() if n == p.number})
    for test in CBC:
        value = _blood(b, test, -1)
        shown = _count(value, test)
        b.lab(test, -1, shown)
        b.observed[test] = 0.1 if isinstance(shown, str) else float(_round(value, _REF[test][3]))
    _visit_vitals(b, -1, full=False)

    # Infusions, with bedside monitoring; ~20% mild infusion reactions (expected, related, grade 1-2).
    for number, day in enumerate(p.infusion_days, 1):
        start = b.at(day, 9, 0)
        b.emit(
            "infusion",
            "INF",
            start,
            start + timedelta(hours=1, minutes=10),
            "EDC",
            infusion_number=number,
            dose_per_kg=1.0e6,
            lot=f"UCMSC-{start:%y%m}-{(p.number + number) % 7 + 1:02d}",
        )
        # Bedside monitoring: everything before, then temperature, pressure, pulse and SpO2 at 1 h and 4 h.
        _visit_vitals(b, day, full=True, when=start - timedelta(minutes=30))
        for minutes in (60, 240):
            tests = ("TEMP", "SYSBP", "PULSE", "OXYSAT") if minutes == 60 else ("TEMP", "SYSBP")
            _visit_vitals(b, day, full=False, when=start + timedelta(minutes=minutes), tests=tests)
        if not script and rng.random() < 0.2:
            onset = start + timedelta(hours=rng.uniform(0.5, 6))
            b.adverse_event(
                "chills and fever after infusion",
                "Infusion related reaction",
                rng.choice((1, 2)),
                onset,
                onset + timedelta(hours=rng.uniform(3, 30)),
                causality="related",
                expected=True,
                outcome="recovered",
                ended=onset + timedelta(hours=rng.uniform(2, 12)),
            )

    # Follow-up visits, interim blood counts and transfusions while dependent.
    for day in FOLLOW_UP_DAYS:
        if day > last_day:
            break
        _follow_up(b, day)
    for day in INTERIM_CBC_DAYS:
        if day <= last_day and _recovery(p, day) < 0.5:
            when = b.at(day, 10, 0)
            for test in ("NEUT", "PLAT", "HGB"):
                b.lab(test, day, _count(_blood(b, test, day), test), when)
            _transfuse(b, day, when)

    _random_adverse_events(b, last_day)
    if script:
        _SCRIPTS[p.number](b)
    reason, day = b.profile.fate
    if reason != "death":  # scripted deaths write their own end_of_study
        moment = b.at(day, 16, 0)
        b.emit("end_of_study", "EOS", moment, moment + timedelta(days=1), "EDC", reason=reason)
    return b.events


def _visit_vitals(
    b: _Builder, day: int, *, full: bool, when: datetime | None = None, tests: tuple[str, ...] = VISIT_VITALS
) -> None:
    p, rng = b.profile, b.rng
    moment = when or b.at(day, 8, 10)
    ranges = {"TEMP": (36.2, 37.2), "SYSBP": (104, 138), "DIABP": (62, 86), "PULSE": (64, 96)}
    for test in tests:
        if test in ranges:
            b.vital(test, rng.uniform(*ranges[test]), moment)
    if full or day <= 7 or "OXYSAT" in tests:
        b.vital("OXYSAT", rng.uniform(95, 99.4), moment)
    if full:
        b.vital("RESP", rng.uniform(14, 20), moment)
        b.vital("WEIGHT", p.weight + rng.uniform(-0.8, 0.8), moment)


def _follow_up(b: _Builder, day: int) -> None:
    p, rng = b.profile, b.rng
    outside = p.outside_lab and day >= 60
    late = rng.uniform(2, 6) if outside else (rng.uniform(1, 4) if rng.random() < 0.04 else 0.0)
    if p.number in SCENARIOS and not p.bench:
        late = 0.0  # scripted subjects' labs arrive on time, so their scenarios play in the order written
    missed_day, not_drawn = MISSED_DRAWS.get(p.number, (None, ())) if not p.bench else (None, ())
    if day == missed_day and not not_drawn:
        return  # the visit did not take place
    late_day, late_tests, late_by = LATE_RESULTS.get(p.number, (None, (), 0.0)) if not p.bench else (None, (), 0.0)
    draw = b.at(day, 7, rng.randint(20, 55))
    tests: list[str] = list(CBC)
    if day in DIFFERENTIAL_DAYS:
        tests += ["LYM", "RETI"]
    if day in FULL_CHEMISTRY_DAYS:
        tests += list(CHEMISTRY)
    elif day in EARLY_PANEL_DAYS:
        tests += list(EARLY_BIOCHEMISTRY)
    elif day in LIVER_RENAL_DAYS:
        tests += list(LIVER_RENAL)
    if day in COAGULATION_DAYS:
        tests += list(COAGULATION)
    if day == missed_day:
        tests = [test for test in tests if test not in not_drawn]
    for test in tests:
        value = _blood(b, test, day) if test in (*CBC, "LYM", "RETI") else _chemistry(b, test)
        if not p.bench and (p.number, day, test) in _OVERRIDES:
            value = _OVERRIDES[(p.number, day, test)]
        delay = late_by if day == late_day and test in late_tests else late
        b.lab(test, day, _count(value, test), draw, outside=outside, late_days=delay)
    full = day in (28, 90, 180, 365)
    _visit_vitals(b, day, full=full, tests=VISIT_VITALS if day <= 28 or full else ("TEMP", "SYSBP", "DIABP"))
    if day in ECG_DAYS:
        b.ecg(rng.uniform(398, 442), b.at(day, 9, 0))
    _transfuse(b, day, draw)


def _transfuse(b: _Builder, day: int, draw: datetime) -> None:
    """RBC when HGB < 70 g/L, platelets when PLAT < 15 x 10^9/L (the subject's own counts of that draw)."""
    when = draw + timedelta(hours=6)
    if b.drawn.get((day, "HGB"), 999) < 70:
        b.emit("transfusion", "TX", when, when + timedelta(hours=2), "EDC", product="RBC", units=2)
    if b.drawn.get((day, "PLAT"), 999) < 15:
        later = when + timedelta(hours=1)
        b.emit("transfusion", "TX", later, later + timedelta(hours=2), "EDC", product="PLT", units=1)


_RANDOM_AES: tuple[tuple[str, str, tuple[int, ...], tuple[str, ...]], ...] = (
    ("neutropenic fever", "Fever", (1, 2), ("unlikely", "unrelated")),
    ("upper respiratory tract infection", "Upper respiratory infection", (1, 2), ("unrelated",)),
    ("gum bleeding", "Gum hemorrhage", (1,), ("unrelated",)),
    ("nosebleed", "Epistaxis", (1, 2), ("unrelated",)),
    ("headache", "Headache", (1,), ("possible", "unlikely")),
    ("fatigue", "Fatigue", (1,), ("unlikely",)),
    ("high blood pressure on cyclosporine", "Hypertension", (2,), ("unrelated",)),
    ("oral mucositis", "Mucositis oral", (1, 2), ("unlikely",)),
)


def _random_adverse_events(b: _Builder, last_day: int) -> None:
    p, rng = b.profile, b.rng
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
        term, ctcae, grades, causalities = rng.choice(_RANDOM_AES)
        day = rng.randint(1, min(last_day, 300))
        onset = b.at(day, rng.randint(0, 23), rng.randint(0, 59))
        b.adverse_event(
            term,
            ctcae,
            rng.choice(grades),
            onset,
            onset + timedelta(hours=rng.uniform(6, 60)),
            causality=rng.choice(causalities),
            expected=False,
            outcome="recovered",
            ended=onset + timedelta(days=rng.randint(1, 10)),
        )
        if ctcae == "Fever":
            b.vital("TEMP", rng.uniform(38.2, 39.3), onset + timedelta(minutes=20))
    if p.number not in _NO_RANDOM_SAE or p.bench:
        if rng.random() < 0.15:  # a hospitalised lung infection, the commonest SAE in aplastic anemia
            day = rng.randint(10, min(last_day, 250))
            onset = b.at(day, rng.randint(8, 20), 0)
            b.adverse_event(
                "pneumonia",
                "Lung infection",
                3,
                onset,
                onset + timedelta(hours=rng.uniform(8, 40)),
                serious=["hospitalization"],
                causality=rng.choice(("unlikely", "unrelated")),
                expected=False,
                outcome="recovered",
                ended=onset + timedelta(days=rng.randint(7, 16)),
            )
            b.vital("TEMP", rng.uniform(38.3, 39.6), onset + timedelta(minutes=30))


# --- the scripted scenarios -------------------------------------------------------------------------------

_OVERRIDES: dict[tuple[int, int, str], float] = {
    **{(1, day, "NEUT"): v for day, v in {-1: 0.82, 1: 0.7, 3: 0.55, 7: 0.31, 14: 0.24, 21: 0.38, 28: 0.61}.items()},
    (17, 28, "ALT"): 50 * 4.3,
    (17, 28, "AST"): 40 * 3.6,
    (17, 28, "BILI"): 18.4,  # AA-017 is male (see _scripted)
}


def _aa001(b: _Builder) -> None:
    b.lab("NEUT", 10, 0.28, b.at(10, 10, 0))  # interim count between day 7 and the confirming day 14
    onset = b.at(9, 14, 0)
    b.adverse_event(
        "agranulocytosis after infusion",
        "Neutrophil count decreased",
        4,
        onset,
        onset + timedelta(hours=20),
        causality="possible",
        expected=False,
        outcome="recovered",
        ended=b.at(28, 9, 0),
    )


def _aa002(b: _Builder) -> None:
    start = b.at(0, 9, 0)
    onset = start + timedelta(hours=2)
    b.vital("TEMP", 39.4, onset + timedelta(minutes=10))
    b.vital("SYSBP", 86, onset + timedelta(minutes=10))
    b.vital("OXYSAT", 91, onset + timedelta(minutes=10))
    b.adverse_event(
        "rigors, fever, hypotension during infusion",
        "Infusion related reaction",
        3,
        onset,
        onset + timedelta(hours=4),
        causality="related",
        expected=True,
        outcome="recovered",
        ended=onset + timedelta(hours=10),
    )


def _aa004(b: _Builder) -> None:
    onset = b.at(3, 10, 0)
    b.adverse_event(
        "generalised maculopapular rash",
        "Rash maculo-papular",
        3,
        onset,
        onset + timedelta(hours=8),
        causality="probable",
        expected=False,
        outcome="recovered",
        ended=b.at(12, 10, 0),
    )


def _aa007(b: _Builder) -> None:
    lung = b.at(33, 20, 0)
    b.adverse_event(
        "pneumonia",
        "Lung infection",
        2,
        lung,
        lung + timedelta(hours=14),
        causality="unlikely",
        expected=False,
        outcome="recovered",
        ended=b.at(45, 9, 0),
    )
    onset = b.at(35, 3, 0)
    for hours, temp, spo2 in ((0, 40.4, 86), (6, 39.6, 90), (30, 38.4, 95)):
        moment = onset + timedelta(hours=hours)
        b.vital("TEMP", temp, moment)
        b.vital("OXYSAT", spo2, moment)
        b.vital("PULSE", 128 - hours, moment)
    b.adverse_event(
        "septic shock",
        "Sepsis",
        4,
        onset,
        onset + timedelta(hours=5),
        serious=["hospitalization", "life_threatening"],
        causality="unlikely",
        expected=False,
        outcome="recovered",
        ended=b.at(47, 9, 0),
    )


def _aa009(b: _Builder) -> None:
    onset = b.at(40, 11, 0)
    b.adverse_event(
        "interstitial pneumonitis",
        "Pneumonitis",
        2,
        onset,
        onset + timedelta(hours=26),
        serious=["hospitalization"],
        causality="possible",
        expected=False,
        outcome="recovered",
        ended=b.at(58, 10, 0),
    )


def _aa011(b: _Builder) -> None:
    onset = b.at(20, 15, 0)
    b.adverse_event(
        "PICC-related right subclavian vein thrombosis",
        "Thromboembolic event",
        2,
        onset,
        onset + timedelta(hours=30),
        causality="unlikely",
        expected=False,
        outcome="recovering",
    )


def _aa013(b: _Builder) -> None:
    death = b.at(46, 2, 30)
    b.emit(
        "death",
        "D",
        death,
        death + timedelta(hours=9),
        "EDC",
        cause="sudden death at home, no autopsy",
        causality="unassessable",
        expected=False,
    )
    b.emit("end_of_study", "EOS", death, death + timedelta(days=1), "EDC", reason="death")


def _aa015(b: _Builder) -> None:
    when = b.at(60, 8, 50)
    b.vital("SYSBP", 166, when)
    b.vital("DIABP", 98, when)
    onset = when
    b.adverse_event(
        "hypertension on cyclosporine",
        "Hypertension",
        3,
        onset,
        onset + timedelta(hours=30),
        causality="unlikely",
        expected=False,
        outcome="recovered",
        ended=b.at(75, 9, 0),
    )


def _aa017(b: _Builder) -> None:
    """Day 28 values come from _OVERRIDES (the routine draw); day 31 and 42 are unscheduled liver panels."""
    d31 = b.at(31, 7, 45)
    b.lab("ALT", 31, 50 * 4.6, d31)
    b.lab("AST", 31, 40 * 3.9, d31)
    b.lab("BILI", 31, 45.6, d31)
    b.lab("ALP", 31, 131, d31)
    d42 = b.at(42, 7, 45)
    b.lab("ALT", 42, 50 * 1.8, d42)
    b.lab("AST", 42, 40 * 1.4, d42)
    b.lab("BILI", 42, 22.0, d42)
    d28 = b.at(28, 16, 0)
    b.adverse_event(
        "drug-induced liver injury",
        "Alanine aminotransferase increased",
        2,
        d28,
        d28 + timedelta(days=1),
        causality="possible",
        expected=False,
        outcome="recovered",
        ended=b.at(60, 9, 0),
    )


def _aa010(b: _Builder) -> None:
    """The LIS interface sends the day 28 platelet count twice: an exact duplicate, which changes nothing."""
    day28 = b.at(28).date().isoformat()
    for recorded, _, event in list(b.events):
        if event["type"] == "lab" and event["test"] == "PLAT" and event["occurred_at"].startswith(day28):
            b.events.append((recorded, len(b.events), dict(event)))
            return


def _aa020(b: _Builder) -> None:
    draw = b.at(62, 7, 50)
    first = b.lab("K", 62, 7.3, draw)
    corrected_at = draw + timedelta(days=1, hours=3)
    b.lab("K", 62, 4.5, draw, event_id=first["event_id"], revision=2, status="corrected", recorded=corrected_at)


def _aa022(b: _Builder) -> None:
    b.ecg(508, b.at(28, 9, 20))


def _aa024(b: _Builder) -> None:
    onset = b.at(50, 21, 0)
    first = b.adverse_event(
        "pneumonia, hospitalised",
        "Lung infection",
        3,
        onset,
        onset + timedelta(hours=12),
        serious=["hospitalization"],
        outcome="not recovered",
    )
    b.vital("TEMP", 39.1, onset + timedelta(minutes=30))
    b.adverse_event(
        "pneumonia, hospitalised",
        "Lung infection",
        3,
        onset,
        onset + timedelta(days=3),
        serious=["hospitalization"],
        causality="possible",
        expected=False,
        outcome="recovered",
        ended=b.at(63, 10, 0),
        event_id=first["event_id"],
        revision=2,
    )


def _aa026(b: _Builder) -> None:
    start = b.at(b.profile.infusion_days[-1], 9, 0)
    onset = start + timedelta(hours=1)
    first = b.adverse_event(
        "bronchospasm during infusion",
        "Infusion related reaction",
        3,
        onset,
        onset + timedelta(hours=5),
        causality="possible",
        expected=True,
    )
    b.adverse_event(
        "bronchospasm during infusion",
        "Infusion related reaction",
        2,
        onset,
        onset + timedelta(days=2),
        causality="possible",
        expected=True,
        outcome="recovered",
        ended=onset + timedelta(hours=3),
        event_id=first["event_id"],
        revision=2,
    )


def _aa028(b: _Builder) -> None:
    onset = b.at(44, 18, 0)
    first = b.adverse_event(
        "fever", "Fever", 2, onset, onset + timedelta(hours=10), causality="unrelated", expected=False
    )
    b.vital("TEMP", 39.2, onset + timedelta(minutes=15))
    b.adverse_event(
        "fever, admitted",
        "Fever",
        2,
        onset,
        onset + timedelta(days=1, hours=6),
        serious=["hospitalization"],
        causality="unrelated",
        expected=False,
        outcome="recovered",
        ended=b.at(49, 9, 0),
        event_id=first["event_id"],
        revision=2,
    )


def _aa031(b: _Builder) -> None:
    onset = b.at(150, 22, 10)
    b.adverse_event(
        "intracranial hemorrhage",
        "Intracranial hemorrhage",
        4,
        onset,
        onset + timedelta(hours=7),
        serious=["hospitalization", "life_threatening"],
        causality="unrelated",
        expected=False,
        outcome="fatal",
    )
    death = b.at(152, 5, 40)
    b.emit(
        "death",
        "D",
        death,
        death + timedelta(hours=5),
        "EDC",
        cause="intracranial hemorrhage",
        causality="unrelated",
        expected=False,
    )
    b.emit("end_of_study", "EOS", death, death + timedelta(days=1), "EDC", reason="death")


def _aa038(b: _Builder) -> None:
    onset = b.at(209, 16, 0)
    b.adverse_event(
        "sepsis, multi-organ failure",
        "Sepsis",
        5,
        onset,
        onset + timedelta(days=3, hours=4),
        serious=["hospitalization", "life_threatening", "death"],
        causality="unrelated",
        expected=False,
        outcome="fatal",
    )
    death = b.at(212, 4, 0)
    b.emit(
        "death",
        "D",
        death,
        death + timedelta(hours=6),
        "EDC",
        cause="sepsis",
        causality="unrelated",
        expected=False,
    )
    b.emit("end_of_study", "EOS", death, death + timedelta(days=1), "EDC", reason="death")


_SCRIPTS = {
    1: _aa001,
    2: _aa002,
    4: _aa004,
    10: _aa010,
    7: _aa007,
    9: _aa009,
    11: _aa011,
    13: _aa013,
    15: _aa015,
    17: _aa017,
    20: _aa020,
    22: _aa022,
    24: _aa024,
    26: _aa026,
    28: _aa028,
    31: _aa031,
    38: _aa038,
}
_FATES = {13: ("death", 46), 31: ("death", 152), 38: ("death", 212)}
_INFUSIONS = {1: [0], 2: [0], 3: [0, 14], 4: [0, 14], 17: [0, 14], 26: [0, 7]}


def _scripted(p: _Profile) -> _Profile:
    """Adjust a scripted subject's hidden truth so that its scenario plays out as written."""
    p.fate = _FATES.get(p.number, ("completed", 365))
    if p.number in _INFUSIONS:
        p.infusion_days = _INFUSIONS[p.number]
    if p.number == 1:
        p.severity, p.responder, p.response_day = "NSAA", True, 40.0
        p.base["NEUT"] = 0.82
    if p.number == 17:
        p.sex = "M"
    if p.number in (17, 20):
        p.liver_abnormal = False
        p.base["ALT"] = p.base["AST"] = 25.0
        p.base["BILI"] = 9.0
    p.outside_lab = False
    return p


def _enrollment_times(subjects: int, start: datetime, rng: random.Random) -> list[datetime]:
    """The first six subjects four days apart (sentinel dosing), then every 2 to 6 days."""
    times, moment = [], start
    for index in range(subjects):
        times.append(moment)
        moment = moment + timedelta(days=4 if index < 5 else rng.randint(2, 6))
    return times


def generate_trial(subjects: int = 48, seed: int = DEFAULT_SEED, start: datetime | None = None) -> list[dict[str, Any]]:
    """The synthetic trial as contract events (JSON-ready dicts), ordered by ``recorded_at``.

    ``subjects`` below 38 drops later scripted scenarios (and so some alert kinds); 48 is the protocol's size.
    """
    start = (start or DEFAULT_START).astimezone(TZ)
    times = _enrollment_times(subjects, start, random.Random(seed))
    arrivals: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for index, enrolled_at in enumerate(times):
        number = index + 1
        rng = random.Random(seed * 1000 + number)
        profile = _profile(number, enrolled_at, rng)
        if number in SCENARIOS:
            profile = _scripted(profile)
        arrivals.extend((recorded, number, seq, event) for recorded, seq, event in _subject(profile, rng))
    arrivals.sort(key=lambda item: (item[0], item[1], item[2]))
    return [event for _, _, _, event in arrivals]


def anchored_start(now: datetime, subjects: int = 48, seed: int = DEFAULT_SEED) -> datetime:
    """The ``start`` that makes the trial's last data arrive now: ``DEFAULT_START`` moved by whole days.

    A demo whose calendar is fixed raises some alerts "in the future" and others overdue on arrival, depending on the
    day it runs. Moving every date by the same whole number of days keeps each event's study day, time of day and
    order (the same seed gives the same trial), and puts the last ``recorded_at`` on the latest day on which it is
    not after ``now``: today in the study's zone once today's time of that arrival has passed, else yesterday.
    """
    last = max(datetime.fromisoformat(e["recorded_at"]) for e in generate_trial(subjects, seed, DEFAULT_START))
    return DEFAULT_START + timedelta(days=(now.astimezone(TZ) - last).days)  # .days floors: never after now


def to_jsonl(events: Iterable[dict[str, Any]]) -> str:
    """JSON lines, one compact event per line (the replay and ``safety produce`` input format)."""
    return "".join(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n" for event in events)


_MALFORMED = (
    b'{"type":"lab","event_id":"BAD-1","study_id":"ChiCTR2600125907","subject_id":"AA-900","occurred_at":"2026-0',
    b'{"type":"biopsy","event_id":"BAD-2","study_id":"ChiCTR2600125907","subject_id":"AA-900",'
    b'"occurred_at":"2026-08-01T08:00:00+08:00"}',
    b'{"type":"lab","event_id":"BAD-3","study_id":"ChiCTR2600125907","subject_id":"AA-900",'
    b'"occurred_at":"2026-08-01T08:00:00+08:00","test":"NEUT","value":"pending","unit":"10^9/L"}',
)


def generate_events(n: int, seed: int = DEFAULT_SEED, malformed: float = 0.001) -> Iterator[bytes]:
    """``n`` JSON lines (bytes, no newline) of a large synthetic cohort, for the benchmarks.

    Cohorts of 64 subjects are generated with the same per-subject model as the trial (no scripted scenarios),
    each cohort ordered by ``recorded_at``; about 330 events per subject, dominated by labs and vitals. A
    fraction ``malformed`` of the lines is deliberately bad (truncated JSON, unknown type, non-numeric value).
    """
    rng = random.Random(seed)
    produced = 0
    number = 0
    start = DEFAULT_START
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    while produced < n:
        arrivals: list[tuple[datetime, int, int, dict[str, Any]]] = []
        for enrolled_at in _enrollment_times(64, start, rng):
            number += 1
            sub_rng = random.Random(seed * 1000 + number)
            profile = _profile(number, enrolled_at, sub_rng, bench=True)
            arrivals.extend((recorded, number, seq, event) for recorded, seq, event in _subject(profile, sub_rng))
        arrivals.sort(key=lambda item: (item[0], item[1], item[2]))
        for _, _, _, event in arrivals:
            if produced >= n:
                return
            produced += 1
            if malformed and rng.random() < malformed:
                yield rng.choice(_MALFORMED)
            else:
                yield dumps(event).encode()
        start += timedelta(days=30)
