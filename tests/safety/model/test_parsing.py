"""Parsing never raises: every bad line becomes a Rejection whose reason names field, value and expectation."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from safety.model.events import AdverseEvent, Lab
from safety.model.outputs import Rejection
from safety.model.parse import parse_event

BASE = {"event_id": "L-1", "study_id": "ChiCTR2600125907", "subject_id": "AA-001", "occurred_at": "2026-07-01T08:00:00"}


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


@pytest.mark.parametrize(
    ("raw", "number", "comparator"),
    [
        ("<0.1", 0.1, "<"),
        ("<= 2.5", 2.5, "<="),
        (">100", 100.0, ">"),
        ("3.5", 3.5, None),
        (7, 7.0, None),
    ],
)
def test_value_with_comparator_is_kept_with_its_bound(raw: object, number: float, comparator: str | None) -> None:
    event = parse_event(lab(value=raw))
    assert isinstance(event, Lab)
    assert (event.value.number, event.value.comparator) == (number, comparator)


def test_revision_defaults_to_one_and_extra_fields_are_ignored() -> None:
    event = parse_event(lab(producer_note="x"))
    assert isinstance(event, Lab) and event.revision == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"type": "lab", "event_id": "L-1"', "not valid JSON"),
        (json.dumps({**BASE, "type": "vaccination"}), "type: expected one of enrollment, infusion, lab"),
        (
            json.dumps(
                {
                    "type": "lab",
                    "event_id": "L-1",
                    "study_id": "S",
                    "occurred_at": "2026-07-01T08:00:00",
                    "test": "NEUT",
                    "value": 1,
                }
            ),
            "lab.subject_id: required field is missing",
        ),
        (lab(value="n/a"), "lab.value: expected a number or a comparator and number such as '<0.1', got 'n/a'"),
        (lab(occurred_at="2026-13-45"), "lab.occurred_at: Input should be a valid datetime"),
        (lab(revision=0), "lab.revision: Input should be greater than or equal to 1"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
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
    good = parse_event(
        json.dumps(
            {
                **BASE,
                "type": "adverse_event",
                "term": "fever",
                "grade": 3,
                "serious": ["hospitalization"],
                "causality": "possible",
                "expected": False,
            }
        )
    )
    assert isinstance(good, AdverseEvent) and good.serious == ["hospitalization"]
    bad = parse_event(json.dumps({**BASE, "type": "adverse_event", "term": "fever", "grade": 6}))
    assert isinstance(bad, Rejection) and "adverse_event.grade" in bad.reason


# Bounds (safety/model/bounds.py): an absurd value is rejected with the field and what is allowed, never graded.

HUGE = "1" + "0" * 400  # a JSON integer above 1.8e308: float() of it overflows


def lab_with_raw(**raw_fields: str) -> str:
    """A lab line with fields spliced in as raw JSON text (json.dumps cannot write a 400-digit integer)."""
    line = lab()
    for name, text in raw_fields.items():
        line = line[:-1] + f', "{name}": {text}}}'
    return line


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (lab_with_raw(value=HUGE), "lab.value: expected a finite number from 0 to 1e+15, got 1000"),
        (lab_with_raw(ref_low=HUGE), "lab.ref_low: expected a finite number from 0 to 1e+15"),
        (lab_with_raw(ref_high=HUGE), "lab.ref_high: expected a finite number from 0 to 1e+15"),
        (lab_with_raw(ref_high="-" + HUGE), "lab.ref_high: expected a finite number from 0 to 1e+15"),
        (lab(value="1e999"), "lab.value: expected a finite number, got '1e999'"),
        (lab(value="<1e999"), "lab.value: expected a finite number, got '<1e999'"),
        (lab(value=1e300), "lab.value: expected a finite number from 0 to 1e+15, got 1e+300"),
        (lab(value=-0.4), "lab.value: expected a finite number from 0 to 1e+15, got -0.4"),
        (lab_with_raw(value="NaN"), "lab.value: expected a finite number from 0 to 1e+15, got nan"),
        (lab_with_raw(value="Infinity"), "lab.value: expected a finite number from 0 to 1e+15, got inf"),
        (lab(ref_high="1e999"), "lab.ref_high: expected a finite number, got '1e999'"),
        (lab(ref_high=-1), "lab.ref_high: expected a finite number from 0 to 1e+15, got -1"),
        (lab(ref_low=2.0, ref_high=1.8), "lab.ref_high: expected a limit >= ref_low 2, got 1.8"),
        (lab(value=["1e999", "<"]), "lab.value: expected a finite number, got '1e999'"),
        (lab(value=[1, "~"]), "lab.value: expected a number or a comparator and number such as '<0.1'"),
        (lab(value=[1, []]), "lab.value: expected a number or a comparator and number such as '<0.1'"),
        (lab(value=[{}, {}]), "lab.value: expected a number or a comparator and number such as '<0.1'"),
        (
            json.dumps({**BASE, "type": "infusion", "dose_per_kg": "inf"}),
            "infusion.dose_per_kg: Input should be a finite number",
        ),
        (
            json.dumps({**BASE, "type": "transfusion", "product": "RBC", "units": 1e300}),
            "transfusion.units: Input should be less than or equal",
        ),
    ],
)
def test_a_number_outside_the_bounds_is_rejected_naming_field_and_range(raw: str, reason: str) -> None:
    result = parse_event(raw)
    assert isinstance(result, Rejection), result
    assert reason in result.reason


def test_a_value_text_longer_than_the_bound_is_rejected_at_once() -> None:
    # "1111...x" used to reach the regular expression, whose two digit runs backtrack over a long text
    result = parse_event(lab(value="1" * 60_000 + "x"))  # within the line bound
    assert isinstance(result, Rejection)
    assert "lab.value: expected a number or a comparator and number such as '<0.1'" in result.reason
    assert "text of at most 40 characters" in result.reason


@pytest.mark.parametrize("field", ["occurred_at", "recorded_at"])
@pytest.mark.parametrize("raw", [0, 1782000000, 1.782e12, "1782000000"])
def test_an_epoch_number_is_not_a_timestamp(field: str, raw: object) -> None:
    result = parse_event(lab(**{field: raw}))
    assert isinstance(result, Rejection), result
    assert f"lab.{field}: expected an ISO 8601 date-time string" in result.reason
    assert "not an epoch number" in result.reason


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-12:00",
        "1999-12-31T23:59:59",
        "2101-01-01T00:00:00",
        "1970-01-01T00:00:00Z",
    ],
)
def test_a_timestamp_outside_the_years_2000_to_2100_is_rejected(stamp: str) -> None:
    for event in (
        lab(occurred_at=stamp),
        lab(recorded_at=stamp),
        json.dumps({**BASE, "type": "adverse_event", "term": "fever", "grade": 2, "ended_at": stamp}),
    ):
        result = parse_event(event)
        assert isinstance(result, Rejection), result
        assert (
            "expected an ISO 8601 date-time string such as '2026-07-01T08:00:00+08:00' in the years 2000 to "
            f"2100 (not an epoch number), got '{stamp}'" in result.reason
        )


def test_the_first_and_last_moments_of_the_range_are_accepted() -> None:
    assert isinstance(parse_event(lab(occurred_at="2000-01-01T00:00:00Z")), Lab)
    assert isinstance(parse_event(lab(occurred_at="2100-12-31T23:59:59Z")), Lab)
    assert isinstance(parse_event(lab(occurred_at="2026-07-01")), Lab)  # a date alone is still midnight


@pytest.mark.parametrize(
    ("subject", "shown"),
    [
        ("AA-\ufeff029", "U+FEFF at position 3 is a format character"),
        ("AA-\u202e920", "U+202E at position 3 is a format character"),
        ("AA-029\x7f", "U+007F at position 6 is a control character"),
        ("AA-029\n", "U+000A at position 6 is a control character"),
        ("AA-\u200b029", "U+200B at position 3 is a format character"),
        (" AA-029", "U+0020 at position 0 is a space"),
        ("AA-029\u00a0", "U+00A0 at position 6 is a space"),
        ("AA-\ue000", "U+E000 at position 3 is a private-use character"),
    ],
)
def test_an_identifier_with_an_invisible_or_control_character_is_rejected(subject: str, shown: str) -> None:
    for field in ("subject_id", "event_id", "study_id"):
        result = parse_event(lab(**{field: subject}))
        assert isinstance(result, Rejection), result
        assert f"lab.{field}: expected printable characters only" in result.reason
        assert shown in result.reason


def test_identifiers_with_inner_spaces_and_non_ascii_letters_are_accepted() -> None:
    event = parse_event(lab(subject_id="AA 029", event_id="检验-1"))
    assert isinstance(event, Lab) and (event.subject_id, event.event_id) == ("AA 029", "检验-1")


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("event_id", 200),
        ("subject_id", 100),
        ("study_id", 100),
        ("test", 40),
        ("unit", 40),
        ("source", 40),
        ("loinc", 40),
    ],
)
def test_every_string_field_of_a_lab_is_bounded(field: str, limit: int) -> None:
    assert isinstance(parse_event(lab(**{field: "X" * limit})), Lab)
    result = parse_event(lab(**{field: "X" * (limit + 1)}))
    assert isinstance(result, Rejection)
    assert f"lab.{field}: String should have at most {limit} characters" in result.reason


@pytest.mark.parametrize("field", ["term", "ctcae_term", "meddra_code", "outcome"])
def test_adverse_event_text_is_bounded(field: str) -> None:
    result = parse_event(json.dumps({**BASE, "type": "adverse_event", "term": "fever", "grade": 2, field: "x" * 1_000}))
    assert isinstance(result, Rejection) and f"adverse_event.{field}: String should have at most" in result.reason


def test_a_line_longer_than_the_bound_is_rejected_whole() -> None:
    line = lab(note="x" * 1_048_576)  # a 1 MB extra field: extra fields are ignored, the line is not
    result = parse_event(line.encode(), line=3)
    assert isinstance(result, Rejection)
    assert result.reason == f"(line): {len(line)} bytes, more than the 65536 allowed for one event"
    assert result.raw == line and result.line == 3


def test_json_nested_beyond_the_parser_limit_is_rejected_not_raised() -> None:
    result = parse_event('{"type": "lab", "note": ' + "[" * 30_000 + "]" * 30_000 + "}")  # within the line bound
    assert isinstance(result, Rejection) and "not valid JSON" in result.reason


def test_a_rejection_does_not_carry_an_identifier_longer_than_one() -> None:
    result = parse_event(lab(event_id="E" * 10_000))
    assert isinstance(result, Rejection) and result.event_id is None and result.subject_id == "AA-001"
