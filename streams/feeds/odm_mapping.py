"""The mapping of an EDC's ODM 1.3 clinical data to SDTM variables, as data: the strict schema of the file passed
with ``safety import odm --mapping`` (docs/odm.md, "The mapping file").

Every EDC names its forms, item groups and items after its own study build (``IG.AE.AE_ARRAY1``, ``IT.AETOXGR``), so
the file says, per ItemGroupOID, which SDTM domain its rows are and which SDTM variable each ItemOID fills. From
there the SDTM mapping (streams/feeds/sdtm.py with rules/feeds/sdtm.yaml) does the rest: the same test codes, units,
causality scale and seriousness flags as an SDTM export. Checked at load, unknown keys refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator

from safety.rules.strict import Strict
from streams.feeds.sdtm_rules import SubjectCodes
from streams.rulefiles import load_rule_file

Domain = Literal["DM", "EX", "LB", "VS", "EG", "AE", "DS"]
DATE_VARIABLES: dict[str, tuple[str, ...]] = {
    "DM": ("RFICDTC", "RFSTDTC", "DMDTC"),
    "EX": ("EXSTDTC",),
    "LB": ("LBDTC",),
    "VS": ("VSDTC",),
    "EG": ("EGDTC",),
    "AE": ("AESTDTC",),
    "DS": ("DSSTDTC",),
}
"""The variables that date a row of each domain; the first is the one a visit date fills (``visit_dates``)."""
_VARIABLE = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")


class WideTest(Strict):
    """One item of a form that records several tests side by side (``IT.PT_PULSE``): its test code and unit."""

    test: str
    unit: str | None = None


class GroupMapping(Strict):
    domain: Domain
    items: dict[str, str] = {}
    """ItemOID -> SDTM variable (``IT.AETERM: AETERM``)."""
    tests: dict[str, WideTest] = {}
    """Findings recorded one item per test: each item present gives one row with --TESTCD and --ORRES."""
    values: dict[str, dict[str, str]] = {}
    """SDTM variable -> {the EDC's value -> the SDTM value} (``SEX: {Male: M}``, ``LBTESTCD: {Hb: HGB}``)."""
    visit_dates: list[str] = []
    """ItemOIDs, in order, whose value in the same StudyEventData dates a row whose own date item is empty; the
    event says so in ``imputed``."""

    @field_validator("items")
    @classmethod
    def _sdtm_names(cls, value: dict[str, str]) -> dict[str, str]:
        for item, variable in value.items():
            if not _VARIABLE.fullmatch(variable):
                raise ValueError(f"{item}: {variable!r} is not an SDTM variable name (upper case, at most 8 chars)")
        return value

    @model_validator(mode="after")
    def _tests_only_for_findings(self) -> GroupMapping:
        if self.tests and self.domain not in ("LB", "VS", "EG"):
            raise ValueError(f"tests: only LB, VS and EG groups record findings, not {self.domain}")
        return self


class OdmMapping(Strict):
    subjects: SubjectCodes | None = None
    """SubjectKey -> subject code; absent: ``subjects`` of rules/feeds/sdtm.yaml (``--subjects FILE`` overrides)."""
    groups: dict[str, GroupMapping]


def load_odm_mapping(path: Path) -> OdmMapping:
    """The mapping file, validated; a refusal names the file, the key and what is wrong."""
    return load_rule_file(path, OdmMapping, "ODM mapping")
