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

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from safety.errors import RuleFileError
from streams.feeds.sdtm_rules import SubjectCodes

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WideTest(_Strict):
    """One item of a form that records several tests side by side (``IT.PT_PULSE``): its test code and unit."""

    test: str
    unit: str | None = None


class GroupMapping(_Strict):
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


class OdmMapping(_Strict):
    subjects: SubjectCodes | None = None
    """SubjectKey -> subject code; absent: ``subjects`` of rules/feeds/sdtm.yaml (``--subjects FILE`` overrides)."""
    groups: dict[str, GroupMapping]


def load_odm_mapping(path: Path) -> OdmMapping:
    """The mapping file, validated; a refusal names the file, the key and what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read the ODM mapping ({exc.strerror}); check the path") from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return OdmMapping.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        raise RuleFileError(f"{path}: {where}: {err['msg']}") from exc
