"""Schema of a study's protocol rules (rules/studies/<study_id>.yaml), validated strictly at load.

A second study is a new YAML file, not new code. Every parameter the detectors, clocks and delivery use lives
here; the defaults of the first study are in protocol.md ("Alert kinds and the default rules of this study").
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from safety.errors import RuleFileError
from safety.rules.documents import DocumentConstants
from safety.rules.schedule import DEFAULT_SCHEDULE, Schedule
from safety.rules.sources import Document, parse_yaml
from safety.rules.strict import Strict
from safety.vocab import CLINICAL_KINDS, RELATED_CAUSALITY, AlertKindName, Causality, ObservationType, Role

if TYPE_CHECKING:
    from safety.rules.ctcae import Criteria


DLT_RULES = ("DLT-1", "DLT-2", "DLT-3", "DLT-4", "DLT-5")
REQUIRED_CLOCKS = ("SAE", "SUSAR", "SUSAR_FATAL")
HEARTBEAT_RECIPIENTS: dict[str, tuple[Role, ...]] = {
    "DATA_OVERDUE": ("safety_officer", "pi"),
    "FEED_SILENT": ("safety_officer",),
}


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean 'X'?)' with the closest choice (difflib), or '' when none is close."""
    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_time_zone(value: str) -> str:
    """``value`` when it names an IANA time zone, else a ValueError naming the closest one."""
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        hint = did_you_mean(value, available_timezones()) or " (e.g. 'Asia/Shanghai', 'UTC')"
        raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
    return value


class Window(Strict):
    first_day: int = 0
    last_day: int = 365


class Dlt1(Strict):
    """Infusion reaction: an AE of these terms, grade >= min_grade, onset within `within_hours` of any infusion."""

    enabled: bool = True
    terms: list[str]
    min_grade: Annotated[int, Field(ge=1, le=5)] = 3
    within_hours: Annotated[float, Field(gt=0)] = 24


class Dlt2(Strict):
    """Non-hematologic toxicity: AE grade >= min_grade, term not hematologic, causality in the related set."""

    enabled: bool = True
    min_grade: Annotated[int, Field(ge=1, le=5)] = 3
    hematologic_terms: list[str]


class Dlt3(Strict):
    """Thromboembolism: AE of these terms, grade >= min_grade, causality not in `excluded_causality`."""

    enabled: bool = True
    terms: list[str]
    min_grade: Annotated[int, Field(ge=1, le=5)] = 2
    excluded_causality: list[Causality] = ["unrelated"]


class Dlt4(Strict):
    """Marrow suppression beyond the disease: below `fraction_of_baseline` x baseline and grade >= min_grade,
    confirmed by a later value of the same test at least `confirm_after_days` study days later."""

    enabled: bool = True
    tests: list[str]
    fraction_of_baseline: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_grade: Annotated[int, Field(ge=1, le=5)] = 4
    confirm_after_days: Annotated[int, Field(ge=1)] = 7


class Dlt5(Strict):
    """Treatment-related death: a death event, or an AE of grade 5, causality in the related set."""

    enabled: bool = True


class DltRules(Strict):
    priority: list[str] = ["DLT-5", "DLT-1", "DLT-3", "DLT-4", "DLT-2"]
    dlt1: Dlt1
    dlt2: Dlt2
    dlt3: Dlt3
    dlt4: Dlt4
    dlt5: Dlt5 = Dlt5()


class SuspectedDlt(Strict):
    enabled: bool = True
    min_grade: Annotated[int, Field(ge=1, le=5)] = 3
    event_types: list[ObservationType] = ["lab", "vital", "ecg"]


class PotentialSae(Strict):
    enabled: bool = True
    min_grade: Annotated[int, Field(ge=1, le=5)] = 4
    event_types: list[ObservationType] = ["lab", "vital", "ecg"]


class HysLaw(Strict):
    enabled: bool = True
    transaminase_tests: list[str] = ["ALT", "AST"]
    transaminase_x_uln: float = 3.0
    bilirubin_test: str = "BILI"
    bilirubin_x_uln: float = 2.0
    alp_test: str = "ALP"
    alp_x_uln_below: float = 2.0
    max_days_after: Annotated[int, Field(ge=0)] = 14


class StoppingRule(Strict):
    """Beta(prior_a, prior_b) prior on the DLT rate; raise when P(rate > threshold | x, n) > probability."""

    enabled: bool = True
    prior_a: Annotated[float, Field(gt=0)] = 1.0
    prior_b: Annotated[float, Field(gt=0)] = 1.0
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.30
    probability: Annotated[float, Field(gt=0, lt=1)] = 0.90
    min_n: Annotated[int, Field(ge=1)] = 3


class Clock(Strict):
    """A report or review deadline counted from the triggering event's `recorded_at`."""

    hours: Annotated[float, Field(ge=0)]
    what: str


class Escalation(Strict):
    """protocol.md, Reporting and escalation."""

    unacknowledged_kinds: list[AlertKindName] = ["SAE", "SUSAR", "DLT"]
    ack_within_hours: Annotated[float, Field(gt=0)] = 2
    ethics_report_kinds: list[AlertKindName] = ["SAE", "SUSAR"]
    ethics_margin_hours: Annotated[float, Field(ge=0)] = 4
    resend_to: list[Role] = ["pi", "safety_officer"]


class Protocol(Strict):
    study_id: str
    title: str = ""
    # The shape of this study's pseudonymous subject codes, matched against the whole subject_id (re.fullmatch):
    # an event whose subject_id does not match is rejected, so a name or a phone number sent as a subject id never
    # reaches a graded row, an alert or a message (protocol.md, "no identifier anywhere"). None: not checked.
    subject_code_pattern: re.Pattern[str] | None = None
    time_zone: str = "Asia/Shanghai"
    ctcae_version: Literal["5.0", "6.0"] = "5.0"
    assume_worst_clinical: bool = False
    planned_subjects: Annotated[int, Field(ge=1)] | None = None
    window: Window = Window()
    related_causality: list[Causality] = list(RELATED_CAUSALITY)
    dlt: DltRules
    suspected_dlt: SuspectedDlt = SuspectedDlt()
    potential_sae: PotentialSae = PotentialSae()
    hys_law: HysLaw = HysLaw()
    stopping: StoppingRule = StoppingRule()
    clocks: dict[str, Clock]
    recipients: dict[AlertKindName, list[Role]]
    escalation: Escalation = Escalation()
    # What the SAE report, CIOMS I and E2B(R3) documents print that no event carries (safety/rules/documents.py);
    # None: read from rules/documents/<study_id>.yaml instead.
    documents: DocumentConstants | None = None
    schedule: Schedule = DEFAULT_SCHEDULE

    @field_validator("time_zone")
    @classmethod
    def _time_zone_exists(cls, value: str) -> str:
        return check_time_zone(value)

    @model_validator(mode="after")
    def _every_kind_has_recipients(self) -> Protocol:
        missing = sorted(set(CLINICAL_KINDS) - set(self.recipients))
        if missing:
            raise ValueError(f"recipients: no recipients for alert kind(s) {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _dlt_priority_names_each_rule_once(self) -> Protocol:
        if sorted(self.dlt.priority) != sorted(DLT_RULES):
            raise ValueError(
                f"dlt.priority: expected each of {', '.join(DLT_RULES)} exactly once, "
                f"got {', '.join(self.dlt.priority) or 'nothing'}"
            )
        return self

    @model_validator(mode="after")
    def _regulatory_clocks_exist(self) -> Protocol:
        missing = [name for name in REQUIRED_CLOCKS if name not in self.clocks]
        if missing:
            raise ValueError(
                f"clocks: no clock for {', '.join(missing)}; the regulatory reports need them "
                "(e.g. SAE: {hours: 24, what: report to the ethics committee})"
            )
        return self

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Protocol:
        if self.window.first_day > self.window.last_day:
            raise ValueError(f"window: first_day {self.window.first_day} is after last_day {self.window.last_day}")
        return self

    def subject_code_problem(self, subject_id: str) -> str | None:
        """Why ``subject_id`` is not a subject code of this study (None when it is, or nothing is checked).

        The reason names the field and the pattern, never the value: a mismatch is most often an identifier.
        """
        pattern = self.subject_code_pattern
        if pattern is None or pattern.fullmatch(subject_id):
            return None
        return (
            f"subject_id: does not match subject_code_pattern {pattern.pattern} of study {self.study_id} "
            "(the value is withheld: it may be an identifier); send the pseudonymous subject code, never a name "
            "or a phone number"
        )

    def recipients_of(self, kind: str) -> list[Role]:
        """The roles an alert of ``kind`` goes to: the study file's ``recipients``, else the heartbeat's defaults
        (DATA_OVERDUE to the safety officer and the PI, FEED_SILENT to the safety officer)."""
        named = self.recipients.get(kind)  # type: ignore[call-overload]
        if named is not None:
            return list(named)
        return list(HEARTBEAT_RECIPIENTS.get(kind, ()))

    def is_related(self, causality: str | None) -> bool:
        return causality is not None and causality in self.related_causality


def _model_at(loc: Iterable[int | str]) -> type[BaseModel] | None:
    """The model whose fields a location's last part is a key of (for 'did you mean' on an unknown key)."""
    annotation: Any = Protocol
    for part in loc:
        model = _as_model(annotation)
        if model is not None and isinstance(part, str) and part in model.model_fields:
            annotation = model.model_fields[part].annotation
        else:  # an entry of a list or a dict: its value type
            args = get_args(annotation)
            annotation = args[-1] if args else None
    return _as_model(annotation)


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _problem(err: ErrorDetails) -> str:
    """One pydantic error as 'key: bad value; did you mean ...' (architecture.md, convention 5)."""
    loc = [part for part in err["loc"] if part != "[key]"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    value = err.get("input")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        msg = f"{value!r} is not one of {', '.join(allowed)}{did_you_mean(str(value), allowed)}"
    elif err["type"] == "extra_forbidden":
        model = _model_at(loc[:-1])
        msg += did_you_mean(str(loc[-1]), model.model_fields if model else ())
    elif err["type"] != "value_error" and not isinstance(value, (dict, list)):
        msg += f" (got {value!r})"
    return f"{key}: {msg}" if key else msg


def build_protocol(document: Document) -> Protocol:
    """Validate a study file; errors name the file and the field (architecture convention 5)."""
    data = parse_yaml(document)
    if not isinstance(data, dict):
        raise RuleFileError(f"{document.name}: expected a mapping of protocol settings at the top level")
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(f"{document.name}: {'; '.join(_problem(err) for err in exc.errors())}") from None


def check_against_criteria(protocol: Protocol, criteria: Criteria, where: str) -> None:
    """Refuse rules that name a CTCAE term or a test the loaded criteria do not know (one located message).

    Matching is exact at run time, so a misspelt term fails silently: "Anaphylaxsis" in DLT-1 never fires, a
    misspelt hematologic term in DLT-2 turns that AE into a DLT. A term must be one of the selected CTCAE
    version, or another version's name of one of them (``Criteria.vocabulary``, rules/ctcae_terms.yaml); a DLT-4
    test must be graded by that version; a Hy's law test must be in rules/units.yaml.
    """
    vocabulary = criteria.vocabulary
    problems: list[str] = []
    dlt = protocol.dlt
    for key, terms in (
        ("dlt.dlt1.terms", dlt.dlt1.terms),
        ("dlt.dlt2.hematologic_terms", dlt.dlt2.hematologic_terms),
        ("dlt.dlt3.terms", dlt.dlt3.terms),
    ):
        for i, term in enumerate(terms):
            if vocabulary.lookup(term) is None:
                choices = vocabulary.names | vocabulary.aliases.keys()
                problems.append(
                    f"{key}[{i}]: {term!r} is not a CTCAE v{criteria.version} term of "
                    f"rules/ctcae_terms.yaml{did_you_mean(term, choices)}"
                )
    graded = criteria.by_test.keys()
    for i, test in enumerate(dlt.dlt4.tests):
        if test not in graded:
            problems.append(
                f"dlt.dlt4.tests[{i}]: {test!r} is not a test CTCAE v{criteria.version} grades"
                f"{did_you_mean(test, graded)}"
            )
    hys = protocol.hys_law
    known = criteria.units.si.keys()
    tests = [(f"hys_law.transaminase_tests[{i}]", t) for i, t in enumerate(hys.transaminase_tests)]
    for key, test in [*tests, ("hys_law.bilirubin_test", hys.bilirubin_test), ("hys_law.alp_test", hys.alp_test)]:
        if test not in known:
            problems.append(f"{key}: {test!r} is not a test code of rules/units.yaml{did_you_mean(test, known)}")
    problems += protocol.schedule.problems({*graded, *known})
    if problems:
        raise RuleFileError(f"{where}: {'; '.join(problems)}")
