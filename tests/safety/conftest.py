"""Fixtures for the grading tests: rule sets (v5, v6, worst case) and a small builder of states and events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from safety.grading.grade import grade_observation
from safety.model.events import Ecg, Lab, Vital
from safety.model.outputs import GradedObservation
from safety.model.state import Reading, SubjectState
from safety.model.studyday import study_day
from safety.rules.ruleset import RuleSet
from streams.rulefiles import load_criteria

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
TZ = ZoneInfo("Asia/Shanghai")
INFUSION = datetime(2026, 7, 10, 9, 0, tzinfo=TZ)
UNIT_DEFAULT = {
    "NEUT": "10^9/L",
    "PLAT": "10^9/L",
    "WBC": "10^9/L",
    "LYM": "10^9/L",
    "HGB": "g/L",
    "ALB": "g/L",
    "CREAT": "umol/L",
    "BILI": "umol/L",
    "GLUC": "mmol/L",
    "CA": "mmol/L",
    "MG": "mmol/L",
    "FIBRINO": "g/L",
    "K": "mmol/L",
    "SODIUM": "mmol/L",
    "ALT": "U/L",
    "AST": "U/L",
    "ALP": "U/L",
    "GGT": "U/L",
    "APTT": "s",
    "INR": "ratio",
    "TEMP": "C",
    "SYSBP": "mmHg",
    "DIABP": "mmHg",
    "OXYSAT": "%",
    "QTCF": "ms",
    "QTCB": "ms",
    "PULSE": "beats/min",
    "WEIGHT": "kg",
    "RETI": "10^9/L",
}
VITALS = {"TEMP", "SYSBP", "DIABP", "PULSE", "RESP", "OXYSAT", "WEIGHT"}


def make_rules(version: str = "5.0", worst: bool = False) -> RuleSet:
    """A RuleSet for tests: the study's protocol when its file loads, else none (RuleSet is a dataclass)."""
    criteria = load_criteria(version, RULES_DIR, assume_worst_clinical=worst)
    try:
        from streams.rulefiles import load_ruleset

        return replace(load_ruleset(), criteria=criteria, version="test")
    except Exception:  # pragma: no cover - a rules/ directory without a loadable study file
        return RuleSet(protocol=None, criteria=criteria, tz=TZ, version="test")  # type: ignore[arg-type]


class Grader:
    """Builds subjects and observations and grades them with one RuleSet."""

    infusion = INFUSION
    tz = TZ

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._n = 0

    def state(self, infused: bool = True, baselines: Iterable[Reading] = ()) -> SubjectState:
        state = SubjectState(subject_id="AA-001", study_id="ChiCTR2600125907")
        if infused:
            state.first_infusion_at = INFUSION
            state.infusions = [INFUSION]
            state.day0 = INFUSION.date()
        for reading in baselines:
            state.pre_infusion.setdefault(reading.test, []).append(reading)
        return state

    def baseline(
        self,
        test: str,
        value: float,
        lln: float | None = None,
        uln: float | None = None,
        unit: str | None = None,
        at: datetime | None = None,
    ) -> Reading:
        return Reading(
            event_id=f"B-{test}",
            test=test,
            value=value,
            unit=unit or UNIT_DEFAULT[test],
            ref_low=lln,
            ref_high=uln,
            occurred_at=at or INFUSION - timedelta(days=2),
        )

    def obs(
        self,
        test: str,
        value: Any,
        unit: str | None = "default",
        lln: float | None = None,
        uln: float | None = None,
        at: datetime | None = None,
        event_id: str | None = None,
        revision: int = 1,
    ) -> Lab | Vital | Ecg:
        self._n += 1
        fields: dict[str, Any] = {
            "event_id": event_id or f"E-{self._n}",
            "revision": revision,
            "study_id": "ChiCTR2600125907",
            "subject_id": "AA-001",
            "occurred_at": (at or INFUSION + timedelta(days=7)).isoformat(),
            "test": test,
            "value": value,
            "unit": UNIT_DEFAULT.get(test) if unit == "default" else unit,
        }
        if test in ("QTCF", "QTCB"):
            return Ecg.model_validate({**fields, "type": "ecg"})
        if test in VITALS:
            return Vital.model_validate({**fields, "type": "vital"})
        return Lab.model_validate({**fields, "type": "lab", "ref_low": lln, "ref_high": uln})

    def grade(self, obs: Lab | Vital | Ecg, state: SubjectState | None = None) -> list[GradedObservation]:
        state = state if state is not None else self.state()
        return grade_observation(obs, state, self.rules, study_day(obs.occurred_at, state.day0, self.rules.tz))

    def row(
        self, test: str, value: Any, term: str | None = None, state: SubjectState | None = None, **kw: Any
    ) -> GradedObservation:
        """The row of ``term`` (the only row when None) for one observation."""
        rows = self.grade(self.obs(test, value, **kw), state)
        if term is None:
            assert len(rows) == 1, rows
            return rows[0]
        matching = [r for r in rows if r.ctcae_term == term]
        assert len(matching) == 1, rows
        return matching[0]


@pytest.fixture(scope="session")
def grader_class() -> type[Grader]:
    """The builder class, for module-scoped fixtures (the admiral conformance run)."""
    return Grader


@pytest.fixture(scope="session")
def rules5() -> RuleSet:
    return make_rules("5.0")


@pytest.fixture(scope="session")
def rules6() -> RuleSet:
    return make_rules("6.0")


@pytest.fixture(scope="session")
def rules5_worst() -> RuleSet:
    return make_rules("5.0", worst=True)


@pytest.fixture
def g5(rules5: RuleSet) -> Grader:
    return Grader(rules5)


@pytest.fixture
def g6(rules6: RuleSet) -> Grader:
    return Grader(rules6)


@pytest.fixture
def g5_worst(rules5_worst: RuleSet) -> Grader:
    return Grader(rules5_worst)
