"""The rule data one run grades and evaluates with: CTCAE criteria, units and the study protocols.

A ``RuleSet`` is one study: its protocol file, the CTCAE version it selects and the units; ``version`` is a hash of
those files' bytes, written on each alert of that study as ``rules_version``. A ``RuleBook`` is every study of a
deployment, one ``RuleSet`` per ``rules/studies/<study_id>.yaml``: each event is graded and evaluated only under its
own study's rule set (protocol.md, "Several studies, one deployment"; routing in safety/routing.py). Built once at
start (stream worker or replay) from the documents the shell read (streams/rulefiles.py) and passed to the core.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from safety.errors import RuleFileError
from safety.rules.ctcae import Criteria, build_criteria
from safety.rules.protocol import Protocol, build_protocol, check_against_criteria
from safety.rules.schedule import ScheduleIndex
from safety.rules.sources import Document

DEFAULT_STUDY = "ChiCTR2600125907"


@dataclass(frozen=True, slots=True)
class AlertGate:
    """What the detectors' pre-check of an observation reads from the protocol, gathered at load: the tests the
    lab rules always look at (DLT-4, Hy's law) and the lowest grade an episode rule alerts at. An observation of
    another test, graded below ``min_grade``, with no open episode, cannot alert."""

    watched: frozenset[str]
    min_grade: int

    @classmethod
    def of(cls, protocol: Protocol) -> AlertGate:
        hys = protocol.hys_law
        return cls(
            frozenset((*protocol.dlt.dlt4.tests, *hys.transaminase_tests, hys.bilirubin_test, hys.alp_test)),
            min(protocol.suspected_dlt.min_grade, protocol.potential_sae.min_grade),
        )


@dataclass(frozen=True)
class RuleSet:
    protocol: Protocol
    criteria: Criteria
    tz: ZoneInfo
    version: str
    gate: AlertGate = field(init=False)  # compiled from ``protocol``
    expected: ScheduleIndex = field(init=False)  # compiled from ``protocol.schedule``

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate", AlertGate.of(self.protocol))
        object.__setattr__(self, "expected", ScheduleIndex.of(self.protocol.schedule))


def build_ruleset(study: Document, rules: Mapping[str, Document]) -> RuleSet:
    """One study's rule set: its protocol file and the CTCAE version it selects, from ``rules``, the rules
    directory's documents by file name (safety/rules/ctcae.py, ``build_criteria``).

    ``version`` hashes the study file's bytes, then the CTCAE files (base first), units and term names: the rules
    an alert was raised under, as read.
    """
    protocol = build_protocol(study)
    criteria = build_criteria(protocol.ctcae_version, rules, assume_worst_clinical=protocol.assume_worst_clinical)
    check_against_criteria(protocol, criteria, study.name)
    digest = hashlib.sha256()
    for document in (study, *criteria.sources):
        digest.update(document.data)
    return RuleSet(
        protocol=protocol, criteria=criteria, tz=ZoneInfo(protocol.time_zone), version=digest.hexdigest()[:12]
    )


@dataclass(frozen=True)
class RuleBook:
    """The studies of one deployment by ``study_id``, each with its own rule set.

    ``primary`` is the study the single-study views use (the dashboard pages): the first study when its file is
    present, else the first study id in order. ``parse_tz`` is the time zone events are parsed with before their
    study is known: the primary study's; an event of a study in another zone is re-localised after routing
    (safety/routing.py), so a time without offset is always read in its own study's zone.
    """

    studies: Mapping[str, RuleSet]
    parse_tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parse_tz", self.primary.tz)

    @classmethod
    def of(cls, *rule_sets: RuleSet) -> RuleBook:
        """A book of the given rule sets (one study per rule set; tests and a single ``--rules FILE``)."""
        book: dict[str, RuleSet] = {}
        for rules in rule_sets:
            study_id = rules.protocol.study_id
            if study_id in book:
                raise RuleFileError(f"study {study_id} has two rules files; keep one rules/studies/{study_id}.yaml")
            clash = next((known for known in book if known.casefold() == study_id.casefold()), None)
            if clash is not None:  # apprise lower-cases recipient tags (<study_id>:pi): ids must differ in case
                raise RuleFileError(
                    f"studies {clash} and {study_id} differ only in letter case; recipient tags "
                    "could not tell them apart, rename one"
                )
            book[study_id] = rules
        if not book:
            raise RuleFileError("no study rules: add rules/studies/<study_id>.yaml")
        return cls(studies=dict(sorted(book.items())))

    def get(self, study_id: str) -> RuleSet | None:
        return self.studies.get(study_id)

    @property
    def primary(self) -> RuleSet:
        return self.studies.get(DEFAULT_STUDY) or next(iter(self.studies.values()))

    def unknown_study(self, study_id: str) -> str:
        """The rejection reason for an event of a study this deployment has no rules for."""
        known = ", ".join(self.studies)
        return (
            f"study_id: unknown study {study_id!r}; this deployment knows {known} (rules/studies/<study_id>.yaml);"
            " an event is graded only under its own study's rules, add that study's rules file or fix study_id"
        )


def build_rulebook(studies: Iterable[Document], rules: Mapping[str, Document]) -> RuleBook:
    """A deployment's studies, one rule set per study file (each built as :func:`build_ruleset` builds it alone,
    so a file that is invalid alone is invalid here), routed to by the ``study_id`` each declares; two files of
    one study are refused."""
    return RuleBook.of(*(build_ruleset(study, rules) for study in studies))
