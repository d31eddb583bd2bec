"""`safety replay` on the demo trial mixed with 12,000 hostile lines: nothing crashes, nothing is lost, nothing bad
is graded (the bounds are safety/model/bounds.py).

The corpus is generated here, deterministically: each hostile line is a demo line with one field broken in a way
the contract rejects (out-of-range numbers, epoch or out-of-range timestamps, invisible characters in identifiers,
oversized fields, wrong types) or plain garbage (truncated, binary, deeply nested, huge). Every hostile line must
land in rejected.jsonl with its own line number, and the graded rows, alerts and accepted events must be byte for
byte those of the demo alone.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.cli import main

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo_events.jsonl"
HOSTILE_LINES = 12_000
SEED = 20261207
HUGE_INT = "1" + "0" * 400
OBSERVATIONS = ("lab", "vital", "ecg")
Mutation = Callable[[dict[str, Any], random.Random], bytes]


def _dump(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def _set(field: str, *values: object) -> Mutation:
    def mutate(event: dict[str, Any], rng: random.Random) -> bytes:
        return _dump({**event, field: rng.choice(values)})

    return mutate


def _raw(field: str, text: str) -> Mutation:
    """A field written as raw JSON text (a 400-digit integer, NaN), which json.dumps cannot produce."""

    def mutate(event: dict[str, Any], rng: random.Random) -> bytes:
        rest = {k: v for k, v in event.items() if k != field}
        return _dump(rest)[:-1] + f', "{field}": {text}}}'.encode()

    return mutate


def _invisible(field: str) -> Mutation:
    def mutate(event: dict[str, Any], rng: random.Random) -> bytes:
        text = str(event[field])
        at = rng.randrange(len(text) + 1)
        char = rng.choice(["\ufeff", "\u202e", "\u200b", "\x7f", "\x00", "\n", "\u2028", "\ue000", "\u00a0"])
        if char == "\u00a0" and 0 < at < len(text):
            at = 0  # an inner no-break space is still not printable, but keep the case plain
        return _dump({**event, field: text[:at] + char + text[at:]})

    return mutate


def _oversized(field: str, length: int) -> Mutation:
    return _set(field, "X" * length)


def _without(field: str) -> Mutation:
    def mutate(event: dict[str, Any], rng: random.Random) -> bytes:
        return _dump({k: v for k, v in event.items() if k != field})

    return mutate


def _limits_inverted(event: dict[str, Any], rng: random.Random) -> bytes:
    return _dump({**event, "ref_low": 50, "ref_high": 5})


TIMESTAMPS = (
    0,
    1,
    1782000000,
    1.782e12,
    "1782000000",
    "0001-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-12:00",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59",
    "2101-01-01T00:00:00",
    "2026-13-45T08:00:00",
    "yesterday",
    "",
    None,
    [],
    {},
)
ANY_EVENT: list[Mutation] = [
    _set("occurred_at", *TIMESTAMPS),
    _set("recorded_at", *(t for t in TIMESTAMPS if t is not None)),
    _invisible("subject_id"),
    _invisible("event_id"),
    _invisible("study_id"),
    _oversized("subject_id", 101),
    _oversized("event_id", 201),
    _oversized("subject_id", 70_000),
    _oversized("source", 41),
    _oversized("source", 70_000),
    _set("subject_id", "", 29, None, ["AA-001"], {"id": 1}),
    _set("event_id", "", 7, None, True),
    _set("revision", 0, -1, 10**7, "two", 1.5),
    _set("type", "vaccination", "", None, 3, "LAB"),
    _without("subject_id"),
    _without("occurred_at"),
    _without("type"),
    _raw("revision", HUGE_INT),
]
OBSERVATION: list[Mutation] = [
    _raw("value", HUGE_INT),
    _raw("value", "-" + HUGE_INT),
    _raw("value", "NaN"),
    _raw("value", "Infinity"),
    _set(
        "value",
        "1e999",
        "-1e999",
        "<1e999",
        1e300,
        -0.5,
        -1e300,
        "n/a",
        "",
        None,
        True,
        [1, 2, 3],
        {},
        ["1e999", "<"],
        [1, "~"],
        [1, []],
        [{}, {}],
        [[], 1],
        "1" * 60 + "x",
        "9" * 5000,
    ),
    _oversized("test", 41),
    _oversized("unit", 41),
    _set("test", "", None, 5),
]
LAB: list[Mutation] = [
    _raw("ref_low", HUGE_INT),
    _raw("ref_high", HUGE_INT),
    _raw("ref_high", "NaN"),
    _set("ref_high", "1e999", -1, -1e300, 1e300, "n/a", True),
    _set("ref_low", "1e999", -0.1, [], "x"),
    _limits_inverted,
    _set("status", "final!", 1),
    _oversized("loinc", 41),
]
AE: list[Mutation] = [
    _set("grade", 0, 6, "3", None, 2.5),
    _set("serious", ["hospitalisation"], "death", [None]),
    _set("causality", "maybe"),
    _oversized("term", 501),
    _oversized("ctcae_term", 501),
    _oversized("meddra_code", 41),
    _set("ended_at", 0, "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"),
]
INFUSION: list[Mutation] = [
    _set("dose_per_kg", "inf", 0, -5, 1e300),
    _raw("dose_per_kg", HUGE_INT),
    _raw("dose_per_kg", "Infinity"),
    _set("infusion_number", 0, 1000),
    _oversized("lot", 41),
]
GARBAGE: list[Callable[[bytes, random.Random], bytes]] = [
    lambda line, rng: line[: rng.randrange(1, len(line) - 1)],  # truncated
    lambda line, rng: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b" "),
    lambda line, rng: b"\xef\xbb\xbf" + line,  # a byte order mark before the object
    lambda line, rng: line.replace(b'"', b"'"),
    lambda line, rng: b'{"type": "lab", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    lambda line, rng: b"[" * 40_000 + b"]" * 40_000,  # deeper than any JSON parser's limit, beyond the line bound
    lambda line, rng: b"[1, 2]",
    lambda line, rng: b"null",
    lambda line, rng: b'"AA-001"',
    lambda line, rng: b"42",
    lambda line, rng: line + b" " + line,  # two objects on one line
    lambda line, rng: line[:-1] + b', "note": "' + b"x" * 70_000 + b'"}',  # a line over the bound, valid inside
]


def _hostile(line: bytes, rng: random.Random) -> bytes:
    """One line the contract must reject, derived from a demo line."""
    if rng.random() < 0.15:
        return rng.choice(GARBAGE)(line, rng)
    event = json.loads(line)
    kind = event["type"]
    pool = (
        ANY_EVENT
        + (OBSERVATION if kind in OBSERVATIONS else [])
        + (LAB if kind == "lab" else [])
        + (AE if kind == "adverse_event" else [])
        + (INFUSION if kind == "infusion" else [])
    )
    return rng.choice(pool)(event, rng)


def corpus() -> tuple[list[bytes], list[int]]:
    """The demo lines with the hostile ones spread among them, and the 1-based line numbers of the hostile ones."""
    demo = [line for line in DEMO.read_bytes().splitlines() if line.strip()]
    rng = random.Random(SEED)
    hostile = [_hostile(rng.choice(demo), rng) for _ in range(HOSTILE_LINES)]
    slots = sorted(rng.sample(range(len(demo) + len(hostile)), len(hostile)))
    lines: list[bytes] = []
    numbers: list[int] = []
    demo_iter, hostile_iter = iter(demo), iter(hostile)
    for number in range(1, len(demo) + len(hostile) + 1):
        if numbers.__len__() < len(slots) and slots[len(numbers)] == number - 1:
            lines.append(next(hostile_iter))
            numbers.append(number)
        else:
            lines.append(next(demo_iter))
    return lines, numbers


def test_hostile_lines_are_all_rejected_and_the_trial_is_graded_as_without_them(tmp_path: Path) -> None:
    lines, hostile_numbers = corpus()
    assert len(hostile_numbers) == HOSTILE_LINES
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join(lines) + b"\n")

    assert main(["replay", str(DEMO), "--out", str(tmp_path / "clean"), "--quiet"]) == 0
    assert main(["replay", str(mixed), "--out", str(tmp_path / "mixed"), "--quiet"]) == 0

    for name in ("graded.jsonl", "alerts.jsonl", "events.jsonl"):
        assert (tmp_path / "mixed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    assert (tmp_path / "clean" / "rejected.jsonl").read_bytes() == b""
    rejected = [json.loads(row) for row in (tmp_path / "mixed" / "rejected.jsonl").read_bytes().splitlines()]
    assert [row["line"] for row in rejected] == hostile_numbers  # each hostile line once, none of the demo's
    by_line = {row["line"]: row for row in rejected}
    for number in hostile_numbers:
        row = by_line[number]
        assert row["kind"] == "invalid" and row["reason"]
        assert row["raw"] == lines[number - 1].decode("utf-8", errors="replace").rstrip("\r\n")
