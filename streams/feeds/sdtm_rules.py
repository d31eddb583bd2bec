"""The mapping of an SDTM export to contract events, as data: the strict schema of ``rules/feeds/sdtm.yaml``.

Test codes, unit spellings, the causality scale, seriousness flags and disposition reasons differ between EDCs and
sponsors; they are a file a data manager can read and change, checked at load (extra keys refused), never code.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from safety.errors import RuleFileError
from safety.rules.strict import Strict
from safety.vocab import Causality, Seriousness
from streams.rulefiles import load_rule_file, rules_dir

EndReason = Literal["completed", "withdrawn", "lost_to_follow_up", "death"]


class SubjectCodes(Strict):
    """USUBJID -> subject code by a declared pattern: the whole USUBJID must match and capture ``number``."""

    pattern: re.Pattern[str]
    template: str

    @field_validator("pattern")
    @classmethod
    def _captures_number(cls, value: re.Pattern[str]) -> re.Pattern[str]:
        if "number" not in value.groupindex:
            raise ValueError("the pattern must capture (?P<number>...)")
        return value

    def code(self, usubjid: str) -> str | None:
        match = self.pattern.fullmatch(usubjid)
        return self.template.format(number=match["number"]) if match else None


class SdtmRules(Strict):
    subjects: SubjectCodes
    lab_tests: dict[str, str]
    vital_tests: dict[str, str]
    ecg_tests: dict[str, Literal["QTCF", "QTCB"]]
    units: dict[str, str]
    severity_grades: dict[str, Annotated[int, Field(ge=1, le=5)]]
    causality: dict[str, Causality]
    seriousness: dict[str, Seriousness]
    serious_without_criterion: Seriousness
    disposition: dict[str, EndReason]
    dose_per_kg_units: dict[str, Annotated[float, Field(gt=0)]]


def default_path() -> Path:
    return rules_dir() / "feeds" / "sdtm.yaml"


def load_sdtm_rules(path: Path | None = None) -> SdtmRules:
    """``rules/feeds/sdtm.yaml`` (or ``path``), validated; a refusal names the file, the key and what is wrong."""
    return load_rule_file(path or default_path(), SdtmRules, "SDTM mapping")


def load_subject_table(path: Path) -> dict[str, str]:
    """An explicit USUBJID -> subject code table (CSV with the header ``usubjid,subject_code``)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or {"usubjid", "subject_code"} - set(reader.fieldnames):
                raise RuleFileError(f"{path}: expected a CSV with the header usubjid,subject_code")
            table: dict[str, str] = {}
            for number, row in enumerate(reader, 2):
                usubjid, code = (row["usubjid"] or "").strip(), (row["subject_code"] or "").strip()
                if not usubjid or not code or usubjid in table:
                    raise RuleFileError(f"{path}: line {number}: an empty or repeated usubjid; one row per subject")
                table[usubjid] = code
            return table
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read the subject table ({exc.strerror}); check the path") from exc
