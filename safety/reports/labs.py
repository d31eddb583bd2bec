"""Observations as the charts draw them: final and corrected lab results, vital signs and ECG intervals, in the
test's SI unit with their ULN.

Shared by the subject timeline and the eDISH plot, so both show the same value for the same record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safety.model.events import Ecg, Lab, Vital
from safety.model.outputs import GradedObservation
from safety.rules.ctcae import UnitTable
from safety.rules.units import Ungradable, to_si

Observation = Lab | Vital | Ecg


def plotted(e: Any, test: str) -> bool:
    """Vital signs and ECGs, and final and corrected lab results (preliminary ones are replaced by them)."""
    if isinstance(e, Lab):
        return e.test == test and e.status in ("final", "corrected")
    return isinstance(e, Vital | Ecg) and e.test == test


def graded_by_event(graded: Sequence[GradedObservation], test: str) -> dict[str, list[GradedObservation]]:
    rows: dict[str, list[GradedObservation]] = {}
    for g in graded:
        if g.test == test:
            rows.setdefault(g.event_id, []).append(g)
    return rows


def si_reading(
    lab: Observation, rows: Sequence[GradedObservation], units: UnitTable
) -> tuple[float, float | None] | None:
    """(value, ULN) of ``lab`` in the test's SI unit, or None when its unit is unknown (never guessed).

    The graded row of this revision is preferred (its ``value``, ``uln`` are what grading compared); without
    one the lab is converted by rules/units.yaml (safety.rules.units.to_si), its range by the same conversion.
    Vital signs and ECGs carry no range: their ULN is None.
    """
    si_unit = units.si.get(lab.test)
    for row in rows:
        if row.revision == lab.revision and row.value is not None and row.unit == si_unit:
            return row.value, row.uln
    value = to_si(lab.test, lab.value.number, lab.unit, units)
    if isinstance(value, Ungradable):
        return None
    ref_high = lab.ref_high if isinstance(lab, Lab) else None
    uln = None if ref_high is None else to_si(lab.test, ref_high, lab.unit, units)
    return value, (None if isinstance(uln, Ungradable) else uln)


__all__ = [
    "Observation",
    "graded_by_event",
    "plotted",
    "si_reading",
]
