"""A subject's baseline of one test, worked out once when it changes, for every later observation to read.

The baseline is the last value of the test before the first infusion (``SubjectState.baseline``). Every grading of
the test reads it twice: x-baseline criteria compare against its value in SI, and each row carries the baseline's
own grade (treatment-emergent means worse than it). Both depend only on the subject's state, so
:class:`safety.model.state.SubjectState` derives a :class:`SubjectBaseline` when its candidates, its first infusion
or (for albumin-corrected calcium) the albumin of the baseline's draw change, and grading reads it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from safety.grading.bands import Base, Inputs, baseline, grade_term
from safety.grading.calcium import corrected
from safety.grading.composite import CompositeMemory
from safety.rules.ctcae import CTerm, GradingTable
from safety.rules.units import Ungradable, convert, unit_of

if TYPE_CHECKING:
    from safety.model.state import Reading


@dataclass(frozen=True, slots=True)
class SubjectBaseline:
    """The baseline reading of one test: in SI (``si``) and as reported (``printed``, in ``unit``), and its grade
    per term entry id (graded without a baseline, in its reported unit when CTCAE prints the term's bands in it)."""

    event_id: str
    occurred_at: datetime
    unit: str
    si: Base
    printed: Base
    grades: Mapping[str, int]

    def cited_for(self, term: CTerm) -> Base:
        """The baseline a row graded in ``term.unit`` cites: as reported when in that unit, else in SI."""
        return self.printed if self.unit == term.unit else self.si


def derive(reading: Reading, table: GradingTable, memory: CompositeMemory) -> SubjectBaseline | None:
    """The baseline ``reading`` gives for its test; None when its unit is unknown (it cannot anchor criteria)."""
    conv = unit_of(table, reading.unit)
    if isinstance(conv, Ungradable):
        return None
    low, high = reading.ref_low, reading.ref_high
    si = baseline(
        convert(reading.value, conv),
        None if low is None else convert(low, conv),
        None if high is None else convert(high, conv),
        reading.event_id,
        table.si,
    )
    in_si = conv.identity and conv.name == table.si  # reported in the SI unit: as reported is the SI baseline
    printed = si if in_si else baseline(reading.value, low, high, reading.event_id, conv.name)
    si_inputs = Inputs(si.value, si.lln, si.uln, "", table.si)
    # as reported, for the terms whose bands CTCAE prints in the reported unit (the only readers of it)
    printed_inputs = (
        Inputs(printed.value, printed.lln, printed.uln, "", conv.name) if conv.name in table.printed_in else si_inputs
    )
    grades: dict[str, int] = {}
    for term in table.terms:
        own = term.by_unit.get(conv.name)
        graded, inputs = (own, printed_inputs) if own is not None else (term, si_inputs)
        inputs = corrected(graded, inputs, reading.occurred_at, memory, conv if own is not None else None)
        grades[term.id] = grade_term(graded, inputs).grade or 0
    return SubjectBaseline(reading.event_id, reading.occurred_at, conv.name, si, printed, grades)
