"""Albumin-corrected calcium: Ca + 0.02 x (40 - albumin g/L), with the albumin of the same draw.

The correction is defined in mmol/L; a calcium graded in its reported unit (mg/dL against the bands CTCAE prints
in mg/dL) gets the same correction converted to that unit by rules/units.yaml, so both units grade the same
corrected calcium. Without an albumin of the same draw the measured value is graded and the basis says so.
"""

from __future__ import annotations

from datetime import datetime

from safety.grading.bands import Inputs
from safety.grading.composite import CompositeMemory, albumin_at
from safety.model.values import fmt, sig15
from safety.rules.ctcae import CTerm, CUnit

ALBUMIN_TEST = "ALB"
ALBUMIN_CORRECTION = "albumin_corrected_calcium"
ALBUMIN_REFERENCE = 40.0  # g/L
ALBUMIN_SLOPE = 0.02


def shift_in(conv: CUnit | None, albumin: float) -> float:
    """The correction for an albumin in g/L, in mmol/L, or in ``conv``'s unit when one is given."""
    shift = ALBUMIN_SLOPE * (ALBUMIN_REFERENCE - albumin)
    return shift if conv is None else shift * conv.divisor / conv.factor


def corrected(term: CTerm, inputs: Inputs, at: datetime, memory: CompositeMemory, conv: CUnit | None) -> Inputs:
    """``inputs`` with the term's correction applied (the albumin of the draw at ``at``); as given without one.

    ``conv``: the reported unit the term's bands are printed in, None when graded in SI.
    """
    if term.correction != ALBUMIN_CORRECTION:
        return inputs
    x, note = inputs.value, inputs.note
    alb = albumin_at(memory, at)
    if alb is None:
        extra = "measured calcium, not albumin-corrected: no albumin of the same draw"
        return Inputs(inputs.value, inputs.lln, inputs.uln, f"{note}; {extra}" if note else extra, inputs.unit)
    shift = ALBUMIN_SLOPE * (ALBUMIN_REFERENCE - alb[2])
    formula = f"{ALBUMIN_SLOPE} x ({fmt(ALBUMIN_REFERENCE)} - albumin {fmt(alb[2])} g/L, {alb[0]})"
    if conv is None or conv.identity:
        value = sig15(x + shift)
        extra = f"corrected Ca {fmt(value)} = {fmt(x)} + {formula}"
    else:
        in_unit = sig15(shift_in(conv, alb[2]))
        value = sig15(x + in_unit)
        sign = "-" if in_unit < 0 else "+"
        extra = (
            f"corrected Ca {fmt(value)} {term.unit} = {fmt(x)} {sign} {fmt(abs(in_unit))} {term.unit} "
            f"({formula} = {fmt(sig15(shift))} mmol/L)"
        )
    return Inputs(value, inputs.lln, inputs.uln, f"{note}; {extra}" if note else extra, inputs.unit)
