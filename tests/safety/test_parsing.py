"""Parsing never raises: every bad line becomes a Rejection whose reason names field, value and expectation."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from safety.alerts import Rejection
from safety.events import AdverseEvent, Lab
from safety.parsing import parse_event

BASE = {"event_id": "L-1", "study_id": "ChiCTR2600125907", "subject_id": "AA-001",
        "occurred_at": "2026-07-01T08:00:00"}


def lab(**fields: object) -> str:
    return json.dumps({**BASE, "type": "lab", "test": "NEUT", "value": 0.4, "unit": "10^9/L", **fields})


def test_timestamp_without_offset_is_read_in_the_study_time_zone() -> None:
    event = parse_event(lab())
    assert isinstance(event, Lab)
    assert event.occurred_at.utcoffset() == timedelta(hours=8)


def test_timestamp_with_offset_keeps_its_instant() -> None:
    event = parse_event(lab(occurred_at="2026-07-01T00:00:00Z"))
    assert isinstance(event, Lab)
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.occurred_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 8


def test_study_time_zone_comes_from_the_caller() -> None:
    event = parse_event(lab(), tz=timezone(timedelta(hours=-5)))
    assert isinstance(event, Lab)
    assert event.occurred_at.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(("raw", "number", "comparator"), [
    ("<0.1", 0.1, "<"), ("<= 2.5", 2.5, "<="), (">100", 100.0, ">"), ("3.5", 3.5, None), (7, 7.0, None),
])
def test_value_with_comparator_is_kept_with_its_bound(raw: object, number: float, comparator: str | None) -> None:
    event = parse_event(lab(value=raw))
    assert isinstance(event, Lab)
    assert (event.value.number, event.value.comparator) == (number, comparator)


def test_revision_defaults_to_one_and_extra_fields_are_ignored() -> None:
    event = parse_event(lab(producer_note="x"))
    assert isinstance(event, Lab) and event.revision == 1


@pytest.mark.parametrize(("raw", "reason"), [
    ('{"type": "lab", "event_id": "L-1"', "not valid JSON"),
    (json.dumps({**BASE, "type": "vaccination"}), "type: expected one of enrollment, infusion, lab"),
    (json.dumps({"type": "lab", "event_id": "L-1", "study_id": "S", "occurred_at": "2026-07-01T08:00:00",
                 "test": "NEUT", "value": 1}), "lab.subject_id: required field is missing"),
    (lab(value="n/a"), "lab.value: expected a number or a comparator and number such as '<0.1', got 'n/a'"),
    (lab(occurred_at="2026-13-45"), "lab.occurred_at: Input should be a valid datetime"),
    (lab(revision=0), "lab.revision: Input should be greater than or equal to 1"),
    ("[1, 2]", "expected a JSON object"),
])
def test_bad_line_gives_a_rejection_naming_field_and_value(raw: str, reason: str) -> None:
    result = parse_event(raw, line=7)
    assert isinstance(result, Rejection)
    assert reason in result.reason
    assert result.line == 7 and result.raw == raw


def test_rejection_keeps_identifiers_it_could_read() -> None:
    result = parse_event(lab(value="n/a"))
    assert isinstance(result, Rejection)
    assert (result.event_id, result.subject_id) == ("L-1", "AA-001")


def test_non_utf8_bytes_are_rejected_not_raised() -> None:
    result = parse_event(b"not json \xff\xfe")
    assert isinstance(result, Rejection) and "not valid JSON" in result.reason


def test_adverse_event_seriousness_and_causality_are_validated() -> None:
    good = parse_event(json.dumps({**BASE, "type": "adverse_event", "term": "fever", "grade": 3,
                                   "serious": ["hospitalization"], "causality": "possible", "expected": False}))
    assert isinstance(good, AdverseEvent) and good.serious == ["hospitalization"]
    bad = parse_event(json.dumps({**BASE, "type": "adverse_event", "term": "fever", "grade": 6}))
    assert isinstance(bad, Rejection) and "adverse_event.grade" in bad.reason
