"""The versions of a case (safety/documents/case.py) and the cumulative line listing (safety/documents/listing.py):
revisions and the investigator's notes in the order they became known, the summary report once the event is over,
and the cases a period lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from safety.documents import Case, PiEntry, build_cases, line_listing
from safety.model.events import Event
from safety.model.outputs import Alert
from safety.replay import replay
from streams.rulefiles import document_constants, load_ruleset

RULES = load_ruleset()
EVENTS: TypeAdapter[Event] = TypeAdapter(Event)
BASE = {"study_id": "ChiCTR2600125907", "subject_id": "AA-901", "source": "EDC"}
AE = {
    **BASE,
    "type": "adverse_event",
    "event_id": "AE1",
    "occurred_at": "2026-07-03T08:00:00+08:00",
    "recorded_at": "2026-07-03T10:00:00+08:00",
    "term": "fever",
    "ctcae_term": "Fever",
    "grade": 3,
    "serious": ["hospitalization"],
    "outcome": "not recovered",
}
RECOVERED = {**AE, "revision": 2, "recorded_at": "2026-07-09T10:00:00+08:00", "outcome": "recovered"}
ENDED = {
    **RECOVERED,
    "revision": 3,
    "recorded_at": "2026-07-10T10:00:00+08:00",
    "ended_at": "2026-07-08T10:00:00+08:00",
}


def _cases(raw: list[dict[str, Any]], notes: Sequence[PiEntry] = ()) -> list[Case]:
    alerts = [a for kind, a in replay([json.dumps(e) for e in raw], RULES) if kind == "alert" and isinstance(a, Alert)]
    events = [EVENTS.validate_python(e, context={"tz": RULES.tz}) for e in raw]
    return build_cases(
        alerts,
        events,
        constants=document_constants(RULES),
        protocol=RULES.protocol,
        criteria=RULES.criteria,
        pi_entries=notes,
    )


def _note(at: str, note_id: str, narrative: str, revision: int = 1) -> PiEntry:
    return PiEntry(
        event_id="AE1",
        revision=revision,
        note_id=note_id,
        written_by="Dr Wang",
        written_at=datetime.fromisoformat(at),
        reason="narrative",
        narrative=narrative,
    )


def test_a_follow_up_after_which_the_event_is_over_is_the_summary_report() -> None:
    (case,) = _cases([AE, RECOVERED, ENDED])
    assert [v.report_kind for v in case.versions] == ["initial", "follow-up 1", "summary (follow-up 2)"]
    assert [v.summary for v in case.versions] == [False, False, True]  # recovered, but not ended yet: follow-up


def test_a_note_is_a_version_of_its_own_between_the_revisions_known_before_and_after_it() -> None:
    notes = [_note("2026-07-05T09:00:00+08:00", "n1", "first words"), _note("2026-07-09T12:00:00+08:00", "n2", "more")]
    (case,) = _cases([AE, RECOVERED], notes)
    seen = [(v.version, v.revision, v.pi.note_id if v.pi else None, v.report_date.isoformat()) for v in case.versions]
    assert seen == [
        (1, 1, None, "2026-07-03T10:00:00+08:00"),
        (2, 1, "n1", "2026-07-05T09:00:00+08:00"),
        (3, 2, "n1", "2026-07-09T10:00:00+08:00"),  # the revision keeps the note written before it
        (4, 2, "n2", "2026-07-09T12:00:00+08:00"),
    ]
    assert len({v.case_id for v in case.versions}) == 1


def test_a_note_written_before_the_event_was_known_is_carried_by_the_initial_report() -> None:
    (case,) = _cases([AE], [_note("2026-07-03T09:00:00+08:00", "n0", "early")])
    assert [(v.version, v.pi.narrative if v.pi else None) for v in case.versions] == [(1, "early")]


def test_entries_without_a_time_belong_to_revisions_and_make_no_version() -> None:
    entry = PiEntry(event_id="AE1", revision=2, narrative="from revision 2 on")
    (case,) = _cases([AE, RECOVERED], [entry])
    assert [(v.version, v.pi.narrative if v.pi else None) for v in case.versions] == [
        (1, None),
        (2, "from revision 2 on"),
    ]


def test_the_line_listing_has_the_cases_reported_in_the_period_as_they_stood_at_its_end() -> None:
    other = {
        **AE,
        "subject_id": "AA-902",
        "event_id": "AE2",
        "occurred_at": "2026-08-01T08:00:00+08:00",
        "recorded_at": "2026-08-01T09:00:00+08:00",
        "causality": "possible",
        "expected": False,
    }
    cases = _cases([AE, RECOVERED, ENDED, other])
    july = line_listing(cases, date(2026, 7, 1), date(2026, 7, 9), RULES.tz)
    assert [(r.values["subject_id"], r.values["versions"], r.values["outcome"]) for r in july] == [
        ("AA-901", "2", "Recovered / resolved")  # revision 3 (10 July) is after the period
    ]
    row = july[0].values
    assert (row["onset"], row["first_reported"], row["last_reported"]) == ("2026-07-03", "2026-07-03", "2026-07-09")
    assert row["seriousness"] == "Requires or prolongs hospitalization" and row["report_type"] == "follow-up 1"
    august = line_listing(cases, date(2026, 8, 1), date(2026, 8, 31), RULES.tz)
    assert [(r.values["subject_id"], r.values["susar"], r.values["expectedness"]) for r in august] == [
        ("AA-902", "yes", "unexpected")
    ]
    assert line_listing(cases, date(2026, 9, 1), date(2026, 9, 30), RULES.tz) == []
    with pytest.raises(ValueError):
        line_listing(cases, date(2026, 9, 30), date(2026, 9, 1), RULES.tz)
