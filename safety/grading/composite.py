"""Criteria that join observations over time (shared/spec/ctcae.md): febrile neutropenia and fever grade 4.

``CompositeMemory`` lives in ``SubjectState`` (a faust table value), so it is small, bounded and JSON-safe:
the few recent NEUT, TEMP, ALB and calcium readings (SI values) the joins need, keyed by ``event_id`` so a
correction replaces its earlier revision. An albumin of the same draw as a calcium baseline candidate is kept
beyond the bound for as long as that candidate (``remember``'s ``keep``): the baseline calcium's grade needs it
whenever a later calcium is graded, however many albumins came in between. Grading
(:func:`safety.grading.grade.grade_observation`) records readings here and asks the functions below whether the new
reading completes a composite criterion.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, Field, field_validator

from safety.model.values import fmt
from safety.rules.ctcae import FebrileNeutropenia, SustainedFever

Point = tuple[str, datetime, float]  # (event_id, occurred_at, SI value)
# A calcium as graded, to grade it again when the albumin of its draw arrives after it:
# (event_id, occurred_at, value, LLN, ULN, note on the value, revision, test, unit): value and limits are in
# ``unit``, the reported unit whose bands CTCAE prints (rules bands_by_unit), or SI when ``unit`` is None.
CalciumPoint = tuple[str, datetime, float, float | None, float | None, str, int, str, str | None]
P = TypeVar("P", bound=tuple[Any, ...])

MAX_NEUT = 8
MAX_TEMP = 32  # > 24 h of 1-hourly readings: enough for the 24 h sustained-fever run
MAX_ALB = 8
MAX_CA = 8


class CompositeMemory(BaseModel):
    """Recent readings the composite criteria need, oldest first, bounded per test."""

    neut: list[Point] = Field(default_factory=list)
    temp: list[Point] = Field(default_factory=list)
    alb: list[Point] = Field(default_factory=list)
    ca: list[CalciumPoint] = Field(default_factory=list)

    @field_validator("ca", mode="before")
    @classmethod
    def _si_when_no_unit(cls, points: Any) -> Any:
        """States written before calcium kept its unit hold 8-item points, all in SI: read them as such."""
        if isinstance(points, list):
            return [[*p, None] if isinstance(p, (list, tuple)) and len(p) == 8 else p for p in points]
        return points


class Match(NamedTuple):
    """A composite criterion met: the later observation carries the row; ``basis`` names both inputs."""

    event_id: str
    occurred_at: datetime
    grade: int
    basis: str


def remember(points: list[P], point: P, limit: int, keep: frozenset[datetime] = frozenset()) -> None:
    """Insert ``point`` in time order (replacing an earlier revision of the same event); keep the newest
    ``limit``, and beyond them the points taken at a time in ``keep`` (what a baseline still needs)."""
    event_id = point[0]
    for i, old in enumerate(points):
        if old[0] == event_id:
            del points[i]
            break
    if points and points[-1][1] > point[1]:
        points.append(point)
        points.sort(key=lambda p: p[1])
    else:
        points.append(point)
    excess = len(points) - limit
    if excess <= 0:
        return
    if not keep:
        del points[:excess]
        return
    points[:excess] = [p for p in points[:excess] if p[1] in keep]


def albumin_at(memory: CompositeMemory, at: datetime) -> Point | None:
    """The albumin of the same draw: an ALB reading with exactly the same ``occurred_at`` (spec: same
    draw)."""
    for point in reversed(memory.alb):
        if point[1] == at:
            return point
    return None


def _hours(a: datetime, b: datetime) -> float:
    return abs((a - b).total_seconds()) / 3600.0


def _sustained_pair(temps: list[Point], end: Point, rule: FebrileNeutropenia) -> Point | None:
    """An earlier reading >= 38.0 at least ``sustained_hours`` before ``end`` with no lower reading
    between."""
    if end[2] < rule.sustained_at_least:
        return None
    idx = next((i for i, p in enumerate(temps) if p[0] == end[0]), None)
    if idx is None:
        return None
    for p in reversed(temps[:idx]):
        if p[2] < rule.sustained_at_least:
            return None
        if (end[1] - p[1]) >= timedelta(hours=rule.sustained_hours):
            return p
    return None


def _fever_at(temps: list[Point], p: Point, rule: FebrileNeutropenia) -> str | None:
    """Describe the fever ``p`` completes: a single reading > 38.3 C, or >= 38.0 C sustained >= 1 h; else
    None."""
    if p[2] > rule.temp_above:
        return f"TEMP {fmt(p[2])} C >{rule.temp_above} ({p[0]})"
    first = _sustained_pair(temps, p, rule)
    if first is None:
        return None
    return (
        f"TEMP {fmt(first[2])} C ({first[0]}) and {fmt(p[2])} C ({p[0]}) >={rule.sustained_at_least} C "
        f"for >={fmt(rule.sustained_hours)} h"
    )


def febrile_neutropenia(memory: CompositeMemory, rule: FebrileNeutropenia, new: Point, test: str) -> Match | None:
    """The new NEUT or TEMP reading completes ANC < 1.0 with fever within ``within_hours`` (closest partner).

    Grade 3 on the later reading (spec/ctcae.md Hematology): the row carries that reading's event id and time.
    """
    window = rule.within_hours
    best: tuple[float, Point, Point, str] | None = None
    if test == rule.neut_test:
        if new[2] >= rule.neut_below:
            return None
        for p in memory.temp:
            if p[2] < rule.sustained_at_least:  # most readings are no fever: no gap to measure
                continue
            gap = _hours(p[1], new[1])
            if gap > window or (best is not None and gap >= best[0]):
                continue
            text = _fever_at(memory.temp, p, rule)
            if text is not None:
                best = (gap, new, p, text)
    else:
        if new[2] < rule.sustained_at_least:
            return None
        neuts = [n for n in memory.neut if n[2] < rule.neut_below and _hours(n[1], new[1]) <= window]
        if not neuts:
            return None
        text = _fever_at(memory.temp, new, rule)
        if text is None:
            return None
        neut = min(neuts, key=lambda n: _hours(n[1], new[1]))
        best = (_hours(neut[1], new[1]), neut, new, text)
    if best is None:
        return None
    gap, neut, fever, text = best
    later = neut if neut[1] >= fever[1] else fever
    basis = (
        f"ANC <{rule.neut_below}: NEUT {fmt(neut[2])} x10^9/L ({neut[0]}) with {text}, "
        f"{gap:.1f} h apart (<= {fmt(window)} h)"
    )
    return Match(later[0], later[1], rule.grade, basis)


def sustained_fever(memory: CompositeMemory, rule: SustainedFever, new: Point) -> Match | None:
    """Two readings > 40.0 C at least 24 h apart with none <= 40.0 between: grade 4 on the later one."""
    if new[2] <= rule.above:
        return None
    idx = next((i for i, p in enumerate(memory.temp) if p[0] == new[0]), None)
    if idx is None:
        return None
    earliest: Point | None = None
    for p in reversed(memory.temp[:idx]):
        if p[2] <= rule.above:
            break
        earliest = p
    if earliest is None or (new[1] - earliest[1]) < timedelta(hours=rule.hours):
        return None
    basis = (
        f">{rule.above} C for >{fmt(rule.hours)} h: TEMP {fmt(earliest[2])} C ({earliest[0]}) and "
        f"{fmt(new[2])} C ({new[0]}) {_hours(new[1], earliest[1]):.1f} h apart, "
        f"none <={rule.above} between"
    )
    return Match(new[0], new[1], rule.grade, basis)
