"""A site's mapping, as data (rules/sites/<site>.yaml): codes to our test codes, unit spellings, whose subjects.

Laboratories name a test by LOINC or by a local code and spell units their own way (UCUM ``10*9/L``, the
``giga.l-1`` of some analysers); the grader knows the test codes and spellings of rules/ctcae_v5.yaml and
rules/units.yaml. The site file says which code is which test, and every LOINC entry carries the code's LOINC long
name, so a reviewer can check a mass code is not mapped where the laboratory sends moles.

Patient identifiers (an MRN in HL7 PID-3, a FHIR Patient id) are mapped to the pseudonymous subject code by a
site-held file outside the repository (``subjects_file``: CSV ``identifier,subject_id``) and then dropped; a
patient who is not in it is not a study subject.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safety.errors import SafetyError

LOINC = "LN"
"""The coding system name of LOINC in HL7 v2 (OBX-3.3); FHIR's ``http://loinc.org`` is read as the same."""
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


class CodeEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    test: Annotated[str, Field(min_length=1, max_length=16)]
    type: Literal["lab", "vital"] = "lab"
    name: str | None = None
    """LOINC long name (required for LOINC codes) or the laboratory's own name of a local code."""


class SiteFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
    study_id: str
    source: Annotated[str, Field(min_length=1, max_length=32)]
    subjects_file: str | None = None
    codes: dict[str, dict[str, CodeEntry]]
    units: dict[str, str] = {}

    @model_validator(mode="after")
    def _loinc_named(self) -> SiteFile:
        unnamed = [code for code, entry in self.codes.get(LOINC, {}).items() if not entry.name]
        if unnamed:
            raise ValueError(f"LOINC codes {unnamed} need their LOINC long name in `name`, to be checked")
        return self


class Site:
    """A loaded site: code and unit lookups, and the identifier -> subject code mapping (never logged)."""

    def __init__(self, spec: SiteFile, subjects: dict[str, str]) -> None:
        self.spec = spec
        self._subjects = subjects
        self._units_folded = {k.casefold(): v for k, v in spec.units.items()}

    def __repr__(self) -> str:  # the mapping's keys are identifiers: never shown
        return f"Site({self.spec.site!r}, {len(self._subjects)} subjects)"

    @property
    def name(self) -> str:
        return self.spec.site

    def subject(self, identifiers: list[str]) -> str | None:
        """The subject code of the first identifier the mapping knows, else None (not a study subject)."""
        for identifier in identifiers:
            code = self._subjects.get(identifier.strip())
            if code is not None:
                return code
        return None

    def code(self, system: str, code: str) -> CodeEntry | None:
        return self.spec.codes.get(system, {}).get(code.strip())

    def unit(self, spelling: str | None) -> str | None:
        """The grader's spelling of a unit; one the site file does not list is passed on as sent."""
        if spelling is None or not spelling.strip():
            return None
        spelling = spelling.strip()
        return self.spec.units.get(spelling) or self._units_folded.get(spelling.casefold()) or spelling


def _known_units() -> set[str]:
    with (RULES_DIR / "units.yaml").open(encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    return {spelling for test in table["tests"].values() for spelling in test["units"]}


def _known_tests() -> set[str]:
    with (RULES_DIR / "units.yaml").open(encoding="utf-8") as handle:
        tests = set(yaml.safe_load(handle)["tests"])
    return tests | {"RESP", "WEIGHT", "PULSE"}


def read_subjects(path: Path) -> dict[str, str]:
    """The site-held CSV ``identifier,subject_id``. Errors name the line, never the identifier on it."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise SafetyError(f"subjects file {path}: cannot read it ({exc.strerror}); set subjects_file") from exc
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        identifier, subject = (row.get("identifier") or "").strip(), (row.get("subject_id") or "").strip()
        if not identifier or not subject:
            raise SafetyError(f"subjects file {path}, line {number}: expected the columns identifier,subject_id")
        mapping[identifier] = subject
    return mapping


def load_site(path: Path, subjects_file: Path | None = None) -> Site:
    """Read and check a site file; ``subjects_file`` (from settings) wins over the file's own path."""
    try:
        with path.open(encoding="utf-8") as handle:
            spec = SiteFile.model_validate(yaml.safe_load(handle))
    except (OSError, yaml.YAMLError) as exc:
        raise SafetyError(f"site file {path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SafetyError(f"site file {path}, {where}: {first['msg']}") from exc
    unknown_units = sorted(set(spec.units.values()) - _known_units())
    if unknown_units:
        raise SafetyError(f"site file {path}, units: {unknown_units} are not spellings of rules/units.yaml")
    tests = {entry.test for codes in spec.codes.values() for entry in codes.values()}
    unknown_tests = sorted(tests - _known_tests())
    if unknown_tests:
        raise SafetyError(f"site file {path}, codes: tests {unknown_tests} are not in rules/units.yaml")
    chosen = subjects_file or (path.parent / spec.subjects_file if spec.subjects_file else None)
    if chosen is None:
        raise SafetyError(f"site file {path}: no subjects_file; set it in the file or SAFETY_FEEDS_SUBJECTS_FILE")
    return Site(spec, read_subjects(chosen))
