"""An EDC's CDISC SDTM export (DM, EX, LB, VS, EG, AE, DS) -> contract events (docs/sdtm.md).

Every record either becomes an event that the contract's own parser accepts (``safety.model.parse.parse_event``,
the same check as the stream's ingest) or is listed with its domain, row, variable and reason: ``rejected`` (it
should have been an event but cannot be), or ``not_mapped`` (it is not a safety event of the contract: a
qualitative lab result, an ECG test other than QTcF/QTcB, a disposition reason the mapping does not name). A record
the import ledger holds with the same content is not checked again: it passed when an earlier import emitted it,
and it is not emitted again.
Milestones (DS records of another category) and other domains are counted, not listed.

SDTM has no day 0: the first EX record (by EXSTDTC, then EXSEQ) is the first infusion, which defines it. Event ids
derive from the subject code, the domain and --SEQ (``AA-001-AE-3``), so a re-exported record keeps its id and the
import ledger (streams/feeds/import_ledger.py) can tell an unchanged record from a corrected one. The USUBJID
never leaves this module: the subject code replaces it (rules/feeds/sdtm.yaml ``subjects``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from safety.model.outputs import Rejection
from safety.model.parse import parse_event
from safety.rules.ruleset import RuleSet
from streams.feeds.datasets import Cell, Dataset
from streams.feeds.import_ledger import ImportLedger, canonical, digest_of
from streams.feeds.sdtm_dates import end_of, iso, onset_of, parse_sdtm_date, start_of
from streams.feeds.sdtm_rules import SdtmRules

DOMAINS = ("DM", "EX", "LB", "VS", "EG", "AE", "DS")
TYPE_ORDER = {
    "enrollment": 0,
    "infusion": 1,
    "lab": 2,
    "vital": 2,
    "ecg": 2,
    "adverse_event": 3,
    "death": 4,
    "end_of_study": 5,
}
"""Events of one moment in the order a site lives them: enrolled, infused, measured, then what happened."""
RECORD_ID = "EDC_RECORD_ID"
"""A column that readers of other formats (streams/feeds/odm.py) fill with the EDC's stable record id; it replaces
--SEQ in the event id."""
EDC_NOTE = "EDC_NOTE"
"""A column that such readers fill with what they assumed to build the row; it joins the event's ``imputed``."""
_COMPARED = re.compile(r"(<=|>=|<|>)?\s*(\d+(?:\.\d*)?|\.\d+)")
_FIELD = re.compile(r"^(?:\w+\.)?(\w+)")

# contract field -> SDTM variable, per domain: a rejection by the contract parser names the variable to fix
_VARIABLES: dict[str, dict[str, str]] = {
    "DM": {"occurred_at": "RFICDTC", "sex": "SEX", "age": "AGE"},
    "EX": {"occurred_at": "EXSTDTC", "dose_per_kg": "EXDOSE", "lot": "EXLOT", "infusion_number": "EXSTDTC"},
    "LB": {
        "occurred_at": "LBDTC",
        "value": "LBSTRESN",
        "unit": "LBSTRESU",
        "ref_low": "LBSTNRLO",
        "ref_high": "LBSTNRHI",
        "test": "LBTESTCD",
    },
    "VS": {"occurred_at": "VSDTC", "value": "VSSTRESN", "unit": "VSSTRESU", "test": "VSTESTCD"},
    "EG": {"occurred_at": "EGDTC", "value": "EGSTRESN", "unit": "EGSTRESU", "test": "EGTESTCD"},
    "AE": {
        "occurred_at": "AESTDTC",
        "ended_at": "AEENDTC",
        "term": "AETERM",
        "grade": "AETOXGR",
        "ctcae_term": "AEDECOD",
        "meddra_code": "AEPTCD",
        "outcome": "AEOUT",
        "causality": "AEREL",
    },
    "DS": {"occurred_at": "DSSTDTC", "cause": "DSTERM", "reason": "DSDECOD"},
}


class _Names:
    """The variable names of a findings domain (LBTESTCD, LBSTRESN...), spelled once rather than per record."""

    def __init__(self, domain: str) -> None:
        self.testcd, self.stat, self.dtc = f"{domain}TESTCD", f"{domain}STAT", f"{domain}DTC"
        self.stresn, self.stresu, self.stnrlo, self.stnrhi = (
            f"{domain}{suffix}" for suffix in ("STRESN", "STRESU", "STNRLO", "STNRHI")
        )
        self.orres, self.orresu, self.ornrlo, self.ornrhi = (
            f"{domain}{suffix}" for suffix in ("ORRES", "ORRESU", "ORNRLO", "ORNRHI")
        )
        self.variables: tuple[str, ...] = (f"{domain}SEQ", self.testcd, self.stat, self.dtc, self.stresn, self.stresu)
        self.variables += (self.stnrlo, self.stnrhi, self.orres, self.orresu, self.ornrlo, self.ornrhi)


_OBSERVATION_VARIABLES = {domain: _Names(domain) for domain in ("LB", "VS", "EG")}
_READS: dict[str, tuple[str, ...]] = {
    "EX": ("EXSEQ", "EXSTDTC", "EXDOSE", "EXDOSU", "EXLOT"),
    "DM": ("RFICDTC", "RFSTDTC", "DMDTC", "SEX", "AGE", "AGEU"),
    "LB": (*_OBSERVATION_VARIABLES["LB"].variables, "LBLOINC"),
    "VS": _OBSERVATION_VARIABLES["VS"].variables,
    "EG": _OBSERVATION_VARIABLES["EG"].variables,
    "AE": ("AESEQ", "AETERM", "AESTDTC", "AEENDTC", "AETOXGR", "AESEV", "AESER", "AEREL", "AEDECOD", "AEPTCD", "AEOUT"),
    "DS": ("DSSEQ", "DSDECOD", "DSCAT", "DSSTDTC", "DSTERM"),
}
"""The variables each domain's mapping reads, besides USUBJID, the columns other formats' readers fill and (AE) the
seriousness flags of the mapping: only these of a dataset's variables are normalised (``Dataset.records``)."""


@dataclass(frozen=True)
class Listed:
    """A record that gave no event: where it is and why (one line of the rejects file)."""

    kind: Literal["rejected", "not_mapped"]
    file: str
    domain: str
    row: int
    variable: str
    reason: str
    subject_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class Mapped:
    """What one export gave: events (sorted, without revision), listed records and counted leftovers."""

    events: list[dict[str, Any]] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # event id -> content digest (import_ledger.digest_of)
    listed: list[Listed] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)


class _Skip(Exception):
    """Raised by a row's mapping: the row gives no event, for the stated variable and reason."""

    def __init__(self, variable: str, reason: str, kind: Literal["rejected", "not_mapped"] = "rejected") -> None:
        super().__init__(reason)
        self.variable, self.reason, self.kind = variable, reason, kind


def _text(row: Mapping[str, Cell], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _number(row: Mapping[str, Cell], name: str) -> float | None:
    value = row.get(name)
    if value is None or isinstance(value, float):
        return value
    try:
        return float(value)
    except ValueError:
        return None


def _seq(row: Mapping[str, Cell], domain: str) -> int:
    number = _number(row, f"{domain}SEQ")
    if number is None or not number.is_integer() or number < 1:
        raise _Skip(f"{domain}SEQ", f"{domain}SEQ missing or not a positive whole number: the record has no stable id")
    return int(number)


def _record(row: Mapping[str, Cell], domain: str) -> str:
    """The record's part of its event id: the EDC's stable record id when the reader gave one, else --SEQ."""
    record = row.get(RECORD_ID)
    return record if isinstance(record, str) else str(_seq(row, domain))


def _date(row: Mapping[str, Cell], variable: str) -> Any:
    text = _text(row, variable)
    if text is None:
        raise _Skip(variable, f"{variable} is empty: the event has no date")
    date = parse_sdtm_date(text)
    if date is None:
        raise _Skip(variable, f"{variable} {text!r} is not an ISO 8601 date (YYYY[-MM[-DD[Thh:mm[:ss]]]])")
    return date


class SdtmMapper:
    """Maps the datasets of one export of one study; ``subject_codes`` (USUBJID -> code) replaces the pattern;
    ``ledger``: the import ledger of the study, whose unchanged records need no check."""

    def __init__(
        self,
        study: RuleSet,
        rules: SdtmRules,
        subject_codes: Mapping[str, str] | None = None,
        ledger: ImportLedger | None = None,
    ) -> None:
        self.study, self.rules, self.table, self.ledger = study, rules, subject_codes, ledger
        self.study_id, self.tz = study.protocol.study_id, study.tz
        self.units = rules.units
        self.folded_units = {key.casefold(): value for key, value in rules.units.items()}
        self.reads = {domain: ("USUBJID", RECORD_ID, EDC_NOTE, *names) for domain, names in _READS.items()}
        self.reads["AE"] += tuple(rules.seriousness)
        vocabulary = study.criteria.vocabulary
        self.terms = {name.casefold(): name for name in vocabulary.names}
        self.terms.update({alias.casefold(): vocabulary.lookup(alias) or alias for alias in vocabulary.aliases})
        self.codes: dict[str, str] = {}
        self.owners: dict[str, str] = {}
        self.first_infusion: dict[str, datetime] = {}

    def map(self, datasets: list[Dataset]) -> Mapped:
        mapped = Mapped()
        by_domain = {domain: [d for d in datasets if d.domain == domain] for domain in DOMAINS}
        for dataset in datasets:
            if dataset.domain not in DOMAINS:
                mapped.ignored[f"domain {dataset.domain}"] += len(dataset.rows)
        for domain in ("EX", "DM", "LB", "VS", "EG", "AE", "DS"):  # EX first: it defines day 0
            for dataset in by_domain[domain]:
                rows = list(enumerate(dataset.records(self.reads[domain]), 1))
                if domain == "EX":
                    self._ex(dataset, rows, mapped)
                    continue
                build = getattr(self, f"_{domain.lower()}")
                for number, row in rows:
                    self._row(dataset, number, row, mapped, build)
        mapped.events.sort(key=lambda e: (e["occurred_at"], TYPE_ORDER[e["type"]], e["subject_id"], e["event_id"]))
        return mapped

    # -- plumbing ---------------------------------------------------------------------------------------------------

    def _subject(self, row: Mapping[str, Cell]) -> str:
        usubjid = _text(row, "USUBJID")
        if usubjid is None:
            raise _Skip("USUBJID", "USUBJID is empty")
        code = self.codes.get(usubjid)
        if code is not None:
            return code
        if self.table is not None:
            code = self.table.get(usubjid)
            if code is None:
                raise _Skip("USUBJID", "not in the subject table (--subjects); add its row")
        else:
            code = self.rules.subjects.code(usubjid)
            if code is None:
                raise _Skip(
                    "USUBJID",
                    f"does not match subjects.pattern {self.rules.subjects.pattern.pattern} "
                    "(rules/feeds/sdtm.yaml); map it with --subjects FILE",
                )
        owner = self.owners.setdefault(code, usubjid)
        if owner != usubjid:
            raise _Skip(
                "USUBJID", f"maps to {code}, the code of another USUBJID; use --subjects FILE to tell them apart"
            )
        problem = self.study.protocol.subject_code_problem(code)
        if problem is not None:
            raise _Skip("USUBJID", problem)
        self.codes[usubjid] = code
        return code

    def _row(
        self,
        dataset: Dataset,
        number: int,
        row: Mapping[str, Cell],
        mapped: Mapped,
        build: Callable[[Mapping[str, Cell], str], list[dict[str, Any]]],
    ) -> None:
        code: str | None = None
        try:
            code = self._subject(row)
            events = build(row, code)
        except _Skip as skip:
            mapped.listed.append(
                Listed(skip.kind, dataset.path.name, dataset.domain, number, skip.variable, skip.reason, code)
            )
            return
        if not events:
            mapped.ignored[f"{dataset.domain} records of no safety event"] += 1
        note = _text(row, EDC_NOTE)
        for event in events:
            if note:
                event["imputed"] = f"{event['imputed']}; {note}" if "imputed" in event else note
            self._accept(dataset, number, event, mapped)

    def _accept(self, dataset: Dataset, number: int, event: dict[str, Any], mapped: Mapped) -> None:
        """Keep the event if the contract's parser accepts it (or accepted it when the ledger's import emitted it),
        else list the row with the variable to fix."""
        event_id = event["event_id"]
        if event_id in mapped.digests:
            seq = f"{dataset.domain}SEQ"
            mapped.listed.append(
                Listed(
                    "rejected",
                    dataset.path.name,
                    dataset.domain,
                    number,
                    seq,
                    f"{seq} repeats the id {event['event_id']} of another record: one would "
                    "overwrite the other at every import; correct the export",
                    event["subject_id"],
                )
            )
            return
        text = canonical(event)
        digest = digest_of(text)
        if self.ledger is None or not self.ledger.holds(event_id, digest):
            parsed = parse_event(text, self.tz)
            if isinstance(parsed, Rejection):
                found = _FIELD.match(parsed.reason)
                variable = _VARIABLES[dataset.domain].get(found[1] if found else "", dataset.domain)
                mapped.listed.append(
                    Listed(
                        "rejected",
                        dataset.path.name,
                        dataset.domain,
                        number,
                        variable,
                        parsed.reason,
                        event["subject_id"],
                    )
                )
                return
        mapped.events.append(event)
        mapped.digests[event_id] = digest

    def _envelope(
        self, kind: str, event_id: str, code: str, occurred: datetime, notes: list[str | None], **fields: Any
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "event_id": event_id,
            "study_id": self.study_id,
            "subject_id": code,
            "occurred_at": iso(occurred),
            "source": "EDC",
        }
        for key, value in fields.items():
            if value is not None:
                event[key] = value
        said = "; ".join([note for note in notes if note])
        if said:
            event["imputed"] = said
        return event

    def _unit(self, reported: str | None) -> str | None:
        """The rules/units.yaml spelling of a reported unit (exact, then ignoring case), else the unit as reported."""
        if reported is None:
            return None
        unit = self.units.get(reported)
        return unit if unit is not None else self.folded_units.get(reported.casefold(), reported)

    # -- domains ----------------------------------------------------------------------------------------------------

    def _ex(self, dataset: Dataset, rows: list[tuple[int, dict[str, Cell]]], mapped: Mapped) -> None:
        """Infusions numbered per subject in EXSTDTC order; the first is day 0 of the subject."""
        dated: list[tuple[datetime, str, int, str, dict[str, Cell], str | None]] = []
        for number, row in rows:
            code = None
            try:
                code = self._subject(row)
                seq = _record(row, "EX")
                moment, note = start_of(_date(row, "EXSTDTC"), "EXSTDTC")
            except _Skip as skip:
                mapped.listed.append(
                    Listed("rejected", dataset.path.name, "EX", number, skip.variable, skip.reason, code)
                )
                continue
            dated.append((moment, seq, number, code, row, note))
        counts: Counter[str] = Counter()

        def order(item: tuple[datetime, str, int, str, dict[str, Cell], str | None]) -> tuple[str, datetime, int]:
            return item[3], item[0], int(item[1]) if item[1].isdigit() else item[2]  # --SEQ, else the row

        for moment, seq, number, code, row, note in sorted(dated, key=order):
            counts[code] += 1
            self.first_infusion.setdefault(code, moment)
            dose, unit = _number(row, "EXDOSE"), _text(row, "EXDOSU")
            factor = self.rules.dose_per_kg_units.get(unit or "")
            event = self._envelope(
                "infusion",
                f"{code}-EX-{seq}",
                code,
                moment,
                [note, _text(row, EDC_NOTE)],
                infusion_number=counts[code],
                dose_per_kg=dose * factor if dose and factor else None,
                lot=_text(row, "EXLOT"),
            )
            self._accept(dataset, number, event, mapped)

    def _dm(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        variable = next((v for v in ("RFICDTC", "RFSTDTC", "DMDTC") if _text(row, v)), None)
        if variable is not None:
            moment, note = start_of(_date(row, variable), variable)
        elif code in self.first_infusion:
            moment, note = self.first_infusion[code], "RFICDTC, RFSTDTC and DMDTC empty: the first infusion taken"
        else:
            raise _Skip("RFICDTC", "RFICDTC, RFSTDTC and DMDTC are empty and there is no EX record: no enrolment date")
        sex = _text(row, "SEX")
        age, age_unit = _number(row, "AGE"), _text(row, "AGEU")
        years = int(age) if age is not None and (age_unit is None or age_unit.upper() == "YEARS") else None
        return [
            self._envelope(
                "enrollment", f"{code}-DM", code, moment, [note], sex=sex if sex in ("F", "M") else None, age=years
            )
        ]

    def _observation(
        self, row: Mapping[str, Cell], code: str, domain: str, kind: str, tests: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        names = _OBSERVATION_VARIABLES[domain]
        seq = _record(row, domain)
        test_code = _text(row, names.testcd)
        if test_code is None:
            raise _Skip(names.testcd, f"{names.testcd} is empty")
        if (_text(row, names.stat) or "").upper() == "NOT DONE":
            raise _Skip(names.stat, "not done", "not_mapped")
        test = tests.get(test_code.upper())
        if test is None and kind == "ecg":
            raise _Skip(
                "EGTESTCD",
                f"{test_code} is not QTcF or QTcB, the contract's ECG tests (rules/feeds/sdtm.yaml ecg_tests)",
                "not_mapped",
            )
        notes: list[str | None] = []
        value: float | str | None = _number(row, names.stresn)
        unit = _text(row, names.stresu)
        low, high = _number(row, names.stnrlo), _number(row, names.stnrhi)
        if value is None:
            original = _text(row, names.orres)
            match = _COMPARED.fullmatch(original or "")
            if match is None:
                raise _Skip(
                    names.orres, f"no numeric result ({names.stresn} empty, {names.orres} {original!r})", "not_mapped"
                )
            value = original.replace(" ", "") if match[1] else float(match[2])  # type: ignore[union-attr]
            unit, low, high = _text(row, names.orresu), _number(row, names.ornrlo), _number(row, names.ornrhi)
            notes.append(f"value from {names.orres} ({names.stresn} empty)")
        moment, note = start_of(_date(row, names.dtc), names.dtc)
        fields: dict[str, Any] = {"test": test or test_code, "value": value, "unit": self._unit(unit)}
        if kind == "lab":
            fields.update(ref_low=low, ref_high=high, loinc=_text(row, "LBLOINC"))
        return [self._envelope(kind, f"{code}-{domain}-{seq}", code, moment, [note, *notes], **fields)]

    def _lb(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        return self._observation(row, code, "LB", "lab", self.rules.lab_tests)

    def _vs(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        return self._observation(row, code, "VS", "vital", self.rules.vital_tests)

    def _eg(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        return self._observation(row, code, "EG", "ecg", self.rules.ecg_tests)

    def _ae(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        seq = _record(row, "AE")
        term = _text(row, "AETERM")
        if term is None:
            raise _Skip("AETERM", "AETERM is empty")
        notes: list[str | None] = []
        moment, note = onset_of(_date(row, "AESTDTC"), "AESTDTC", self.first_infusion.get(code))
        notes.append(note)
        ended = None
        if _text(row, "AEENDTC"):
            end, end_note = end_of(_date(row, "AEENDTC"), "AEENDTC")
            ended = iso(end)
            notes.append(end_note)
        grade_number = _number(row, "AETOXGR")
        if grade_number is None and _text(row, "AETOXGR") is not None:
            raise _Skip("AETOXGR", f"AETOXGR {_text(row, 'AETOXGR')!r} is not a grade 1-5")
        if grade_number is not None:
            grade = int(grade_number)
        else:
            severity = (_text(row, "AESEV") or "").upper()
            if severity not in self.rules.severity_grades:
                raise _Skip(
                    "AETOXGR",
                    f"AETOXGR is empty and AESEV {severity or None!r} is not in severity_grades "
                    "(rules/feeds/sdtm.yaml)",
                )
            grade = self.rules.severity_grades[severity]
            notes.append(f"grade {grade} from AESEV {severity} (AETOXGR empty)")
        serious = [
            criterion for flag, criterion in self.rules.seriousness.items() if (_text(row, flag) or "").upper() == "Y"
        ]
        if not serious and (_text(row, "AESER") or "").upper() == "Y":
            serious = [self.rules.serious_without_criterion]
            notes.append(f"AESER Y without a seriousness flag: {self.rules.serious_without_criterion}")
        relation = _text(row, "AEREL")
        causality = self.rules.causality.get(relation.upper()) if relation else None
        if relation and causality is None:
            notes.append(f"AEREL {relation!r} not in the causality map: causality left unknown")
        decoded = _text(row, "AEDECOD")
        meddra = _text(row, "AEPTCD")
        return [
            self._envelope(
                "adverse_event",
                f"{code}-AE-{seq}",
                code,
                moment,
                notes,
                term=term,
                ctcae_term=self.terms.get(decoded.casefold()) if decoded else None,
                meddra_code=meddra if meddra and meddra.isdigit() else None,
                grade=grade,
                serious=serious,
                causality=causality,
                outcome=_text(row, "AEOUT"),
                ended_at=ended,
            )
        ]

    def _ds(self, row: Mapping[str, Cell], code: str) -> list[dict[str, Any]]:
        decoded = (_text(row, "DSDECOD") or "").upper()
        category = (_text(row, "DSCAT") or "DISPOSITION EVENT").upper()
        if decoded != "DEATH" and category != "DISPOSITION EVENT":
            return []
        seq = _record(row, "DS")
        moment, note = start_of(_date(row, "DSSTDTC"), "DSSTDTC")
        events = []
        if decoded == "DEATH":
            term = _text(row, "DSTERM")
            events.append(
                self._envelope(
                    "death",
                    f"{code}-DS-{seq}",
                    code,
                    moment,
                    [note],
                    cause=term if term and term.upper() != "DEATH" else None,
                )
            )
        if category == "DISPOSITION EVENT":
            reason = self.rules.disposition.get(decoded)
            if reason is None:
                raise _Skip("DSDECOD", f"{decoded!r} is not in disposition (rules/feeds/sdtm.yaml)", "not_mapped")
            events.append(self._envelope("end_of_study", f"{code}-DS-{seq}-EOS", code, moment, [note], reason=reason))
        return events
