"""The case behind every SAE document: one record per version, built from the alerts, the subject's events and
the study's document constants.

A case is one serious adverse event or death: its id is the first SAE or SUSAR alert raised for the triggering
event, so a re-run gives the same id. Version 1 is the initial report, from the first revision of the event that
was serious (a death always is); every later revision (a new outcome, causality, seriousness) is follow-up n =
version - 1 with the same case id, linked to the initial report by ``first_known``. The record holds every field
the SAE report, CIOMS I and E2B(R3) print, so the renderers only lay it out.

No identifier reaches a record: the subject is its pseudonymous code, the term is the coded CTCAE term
(safety/coding.py), the outcome is coded, and the free text an event carries (``term``, ``outcome``, a death's
``cause``, ``lot``) is never copied. What only a person can say (the verbatim term, the narrative, the treatment,
the action taken with the product, dechallenge and rechallenge) comes from a ``PiEntry`` the investigator writes
in the service for the report; without one the document says it is still to be written.

An entry written in the service is a note: attributable (``written_by``, ``written_at``, ``reason``) and new
information for the committee, so it is a follow-up version of its own, from its time on; the versions of a case
are its revisions and its notes in the order they became known (a revision before a note at the same instant).
An entry without ``written_at`` (a file of entries given to `safety documents`) belongs to the revisions from its
``revision`` on and makes no version. A follow-up after which the event is over (ended with a final outcome, or a
death) is the summary report (总结报告).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from safety.coding import UNCODED_TERM, ctcae_term, death_term, outcome
from safety.model.events import AdverseEvent, Death, Enrollment, Infusion
from safety.model.outputs import Alert
from safety.rules.ctcae import Criteria
from safety.rules.documents import Bilingual, DocumentConstants
from safety.rules.protocol import Protocol
from safety.vocab import AlertKind, Causality, Role, Seriousness

CASE_KINDS: Final = (AlertKind.SAE, AlertKind.SUSAR)
FINAL_OUTCOMES: Final = frozenset({"recovered", "recovered with sequelae", "fatal"})
# A MedDRA LLT/PT code (8 digits, all issued from 10000001 on); any other text in meddra_code, such as a record
# number sent there by mistake, is not copied.
MEDDRA_CODE: Final = re.compile(r"10\d{6}")

ActionTaken = Literal["withdrawn", "dose_reduced", "not_changed", "not_applicable", "unknown"]
"""Action taken with the investigational product (E2B(R3) G.k.8 values, CIOMS box 20's premise)."""
Challenge = Literal["yes", "no", "not_applicable", "unknown"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PiEntry(_Frozen):
    """What the investigator writes in the service for the reports of one event, from ``revision`` on.

    These are the only free-text fields of a document; they are written for the report by a person who knows
    that a committee and a regulator read it, not copied from a feed.
    """

    event_id: str
    revision: Annotated[int, Field(ge=1)] = 1
    note_id: str | None = None
    written_by: str | None = None  # the person, as signed in: stays in the service, never printed
    written_at: datetime | None = None
    reason: str | None = None
    verbatim_term: str | None = None
    narrative: str | None = None
    treatment: str | None = None
    concomitant: str | None = None
    action_taken: ActionTaken | None = None
    dechallenge: Challenge | None = None
    rechallenge: Challenge | None = None


class InfusionRecord(_Frozen):
    number: int
    at: datetime
    dose_per_kg: float | None


class CaseVersion(_Frozen):
    """One version of a case: every field the documents carry."""

    case_id: str
    version: int
    follow_up: int  # 0 for the initial report
    study_id: str
    constants: DocumentConstants
    subject_code: str
    sex: Literal["F", "M"] | None
    age: int | None
    event_id: str
    revision: int
    is_death: bool
    ctcae_term: str  # a CTCAE term of the study's version, or "uncoded term"
    ctcae_version: str
    meddra_code: str | None
    onset: datetime
    ended_at: datetime | None
    first_known: datetime  # the site's first knowledge: day 0 of every clock, the initial report's date
    report_date: datetime  # when the site learned what this version says (the revision's recorded_at)
    report_due_at: datetime | None
    study_day: int | None
    seriousness: tuple[Seriousness, ...]
    grade: int
    causality: Causality | None
    causality_wording: Bilingual | None
    related: bool | None
    expected: bool | None
    susar: bool
    outcome: str | None  # coded (safety/coding.py OUTCOMES) or None when not reported
    infusions: tuple[InfusionRecord, ...]
    reporter_role: Role
    alert_ids: tuple[str, ...]
    pi: PiEntry | None

    @property
    def initial(self) -> bool:
        return self.version == 1

    @property
    def summary(self) -> bool:
        """The summary report (总结报告): a follow-up after which the event is over."""
        return not self.initial and (self.is_death or (self.ended_at is not None and self.outcome in FINAL_OUTCOMES))

    @property
    def report_kind(self) -> str:
        """The report type in indexes and listings: initial, follow-up n or summary (follow-up n)."""
        if self.initial:
            return "initial"
        return f"summary (follow-up {self.follow_up})" if self.summary else f"follow-up {self.follow_up}"


class Case(_Frozen):
    case_id: str
    versions: tuple[CaseVersion, ...]


def _seriousness(event: AdverseEvent | Death) -> tuple[Seriousness, ...]:
    return ("death",) if isinstance(event, Death) else tuple(event.serious)


def _pi_entry(entries: Sequence[PiEntry], revision: int) -> PiEntry | None:
    """The latest entry written for this revision or an earlier one (a later entry supersedes)."""
    usable = [e for e in entries if e.revision <= revision]
    return max(usable, key=lambda e: e.revision) if usable else None


def _latest(events: Iterable[Any], kind: type[Any]) -> list[Any]:
    latest: dict[str, Any] = {}
    for event in events:
        if isinstance(event, kind):
            known = latest.get(event.event_id)
            if known is None or event.revision > known.revision:
                latest[event.event_id] = event
    return list(latest.values())


def build_cases(
    alerts: Sequence[Alert],
    events: Sequence[Any],
    *,
    constants: DocumentConstants,
    protocol: Protocol,
    criteria: Criteria,
    pi_entries: Sequence[PiEntry] = (),
) -> list[Case]:
    """Every case of the study's SAE and SUSAR alerts, in the order their first alert was raised.

    ``events`` holds every revision of every event (a follow-up needs each one, not only the latest);
    ``alerts`` may hold withdrawn alerts and their ALERT_WITHDRAWN records: a case stays (the correction that made
    an event non-serious is a follow-up the committee is owed), its last version showing what the event now says.
    """
    study = protocol.study_id
    case_alerts: dict[str, list[Alert]] = {}
    for alert in sorted(alerts, key=lambda a: (a.raised_at, CASE_KINDS.index(a.kind) if a.kind in CASE_KINDS else 9)):
        if alert.kind in CASE_KINDS and alert.study_id == study and alert.event_ids:
            case_alerts.setdefault(alert.event_ids[0], []).append(alert)
    revisions: dict[str, dict[int, AdverseEvent | Death]] = {}
    for event in events:
        if isinstance(event, (AdverseEvent, Death)) and event.event_id in case_alerts:
            revisions.setdefault(event.event_id, {}).setdefault(event.revision, event)
    entries: dict[str, list[PiEntry]] = {}
    for entry in pi_entries:
        entries.setdefault(entry.event_id, []).append(entry)
    cases = []
    for event_id, its_alerts in case_alerts.items():
        known = [revisions[event_id][r] for r in sorted(revisions.get(event_id, {}))]
        if not known:
            continue
        subject = its_alerts[0].subject_id
        subject_events = [e for e in events if e.subject_id == subject and e.study_id == study]
        cases.append(_case(its_alerts, known, subject_events, constants, protocol, criteria, entries.get(event_id, [])))
    return cases


def _case(
    alerts: Sequence[Alert],
    revisions: Sequence[AdverseEvent | Death],
    subject_events: Sequence[Any],
    constants: DocumentConstants,
    protocol: Protocol,
    criteria: Criteria,
    entries: Sequence[PiEntry],
) -> Case:
    serious = [r for r in revisions if _seriousness(r)]
    start = revisions.index(serious[0]) if serious else 0
    reported = revisions[start:]
    enrollment = max(_latest(subject_events, Enrollment), key=lambda e: e.occurred_at, default=None)
    infusions = sorted(_latest(subject_events, Infusion), key=lambda e: (e.occurred_at, e.infusion_number))
    case_id = alerts[0].alert_id
    first_known = reported[0].recorded_at or reported[0].occurred_at
    untimed = [e for e in entries if e.written_at is None]
    notes = sorted((e for e in entries if e.written_at is not None), key=lambda e: (e.written_at, e.note_id or ""))
    # (when it became known, 0 for a revision and 1 for a note, order): revisions keep their order whatever their
    # times say; a note goes after the revisions known when it was written
    updates: list[tuple[datetime, int, int, AdverseEvent | Death | PiEntry]] = []
    for r in reported:
        known_at = r.recorded_at or r.occurred_at
        updates.append((max(known_at, updates[-1][0]) if updates else known_at, 0, len(updates), r))
    updates += [(n.written_at, 1, i, n) for i, n in enumerate(notes) if n.written_at is not None]
    updates.sort(key=lambda u: u[:3])
    versions: list[CaseVersion] = []
    event: AdverseEvent | Death = reported[0]
    note: PiEntry | None = None
    for at, _, _, update in updates:
        if isinstance(update, PiEntry):
            note = update
            if at < first_known:
                continue  # written before the event was serious: the initial report carries it
        else:
            event = update
        number = len(versions) + 1
        given = [i for i in infusions if i.occurred_at <= event.occurred_at] or infusions
        is_death = isinstance(event, Death)
        coded_outcome: str | None
        if isinstance(event, Death):
            term, meddra, ended, coded_outcome = death_term(criteria), None, None, "fatal"
            expected: bool | None = event.expected
        else:
            term = ctcae_term(event.ctcae_term, criteria) or UNCODED_TERM
            meddra = event.meddra_code if event.meddra_code and MEDDRA_CODE.fullmatch(event.meddra_code) else None
            ended, coded_outcome, expected = event.ended_at, outcome(event.outcome), event.expected
        related = None if event.causality is None else protocol.is_related(event.causality)
        seriousness = _seriousness(event)
        first_alert = alerts[0]
        versions.append(
            CaseVersion(
                case_id=case_id,
                version=number,
                follow_up=number - 1,
                study_id=protocol.study_id,
                constants=constants,
                subject_code=event.subject_id,
                sex=enrollment.sex if enrollment else None,
                age=enrollment.age if enrollment else None,
                event_id=event.event_id,
                revision=event.revision,
                is_death=is_death,
                ctcae_term=term,
                ctcae_version=criteria.version,
                meddra_code=meddra,
                onset=event.occurred_at,
                ended_at=ended,
                first_known=first_known,
                report_date=max(at, first_known),
                report_due_at=first_alert.report_due_at,
                study_day=first_alert.study_day,
                seriousness=seriousness,
                grade=event.grade if isinstance(event, AdverseEvent) else 5,
                causality=event.causality,
                causality_wording=None if event.causality is None else constants.causality_wording.get(event.causality),
                related=related,
                expected=expected,
                susar=bool(seriousness) and related is True and expected is False,
                outcome=coded_outcome,
                infusions=tuple(
                    InfusionRecord(number=i.infusion_number, at=i.occurred_at, dose_per_kg=i.dose_per_kg) for i in given
                ),
                reporter_role=constants.reporter_role,
                alert_ids=tuple(a.alert_id for a in alerts),
                pi=note or _pi_entry(untimed, event.revision),
            )
        )
    return Case(case_id=case_id, versions=tuple(versions))


def pi_entries_from(raw: Iterable[Mapping[str, Any]]) -> list[PiEntry]:
    """The investigator's entries of a file or a table, validated (an entry with an unknown key is refused)."""
    return [PiEntry.model_validate(dict(item)) for item in raw]
