"""The band interpreter: one value against one compiled term entry -> its grade and the basis that explains it.

Rules are data (rules/ctcae_v*.yaml, compiled at load by :mod:`safety.rules.ctcae`). A term's band sets are read
worst grade first: in each set that applies, the first band met wins, none met is grade 0; the term's grade is the
worst over its sets. Both sides of a comparison are rounded to 15 significant digits (3 x 40 = 120 exactly). A band
that needs a missing LLN/ULN is unknown: the grade is null only when that band could change the result, so
potassium 2.4 is grade 4 without a range while NEUT 1.9 without an LLN is not gradable.

Every text a basis quotes from the rules (band labels, the "not ..." of grade 0, the missing-limit sentence) is
compiled with the rules (:mod:`safety.rules.ctcae`); here only the values are put into words.
"""

from __future__ import annotations

from typing import NamedTuple

from safety.model.values import fmt, sig15
from safety.rules.ctcae import CBand, CSet, CTerm


class Inputs:
    """One value ready for a term, in the term's unit: the measure and its limits as reported (the row shows them),
    the same at 15 significant digits (the bands compare these), their text in ``unit`` and how the value was
    obtained. Made once per observation and read by each term of its test, so each number is formatted once."""

    __slots__ = ("value", "lln", "uln", "note", "unit", "value15", "lln15", "uln15", "shown", "text")

    def __init__(self, value: float, lln: float | None, uln: float | None, note: str, unit: str) -> None:
        self.value = value
        self.lln = lln
        self.uln = uln
        self.note = note  # conversions, corrections, comparator; "" when none
        self.unit = unit
        # float(fmt(v)) is sig15(v): one formatting gives both the text and the value compared
        value_text = fmt(value)
        self.value15 = float(value_text)
        shown = f"value {value_text} {unit}"
        self.lln15 = None
        if lln is not None:
            lln_text = fmt(lln)
            self.lln15 = float(lln_text)
            shown += f", LLN {lln_text} {unit}"
        self.uln15 = None
        if uln is not None:
            uln_text = fmt(uln)
            self.uln15 = float(uln_text)
            shown += f", ULN {uln_text} {unit}"
        self.shown = shown  # 'value 3 10^9/L, LLN 3.5 10^9/L, ULN 9.5 10^9/L'
        self.text = f"{shown}, {note}" if note else shown  # the basis in parentheses when no baseline is cited


class Base(NamedTuple):
    """A baseline as a criterion reads it (value and its own record's limits) and as the basis cites it; made when
    the subject's state changes (:mod:`safety.grading.baseline`), with what every grading of its test reads."""

    value: float
    lln: float | None
    uln: float | None
    cited: str  # ", baseline 3 10^9/L (<event id>, ULN 9.5, LLN 3.5)"
    value15: float  # the value at 15 significant digits, a threshold "x baseline" compares against
    above_uln: bool  # abnormal against its own record's range, which set conditions read
    below_lln: bool


class Outcome(NamedTuple):
    """Grade of one term: ``grade`` None means not gradable and ``basis`` says why."""

    grade: int | None
    band: CBand | None
    basis: str


def baseline(value: float, lln: float | None, uln: float | None, event_id: str, unit: str) -> Base:
    """A baseline cited in ``unit``: its value, the event it comes from and its record's limits."""
    cited = f", baseline {fmt(value)} {unit} ({event_id}"
    if uln is not None:
        cited += f", ULN {fmt(uln)}"
    if lln is not None:
        cited += f", LLN {fmt(lln)}"
    above = uln is not None and value > uln
    below = lln is not None and value < lln
    return Base(value, lln, uln, cited + ")", sig15(value), above, below)


def grade_term(term: CTerm, inputs: Inputs, base: Base | None = None) -> Outcome:
    """Grade one term: worst over its applicable sets; null when a missing limit could change the grade."""
    x = inputs.value15
    lo = hi = 0
    best: CBand | None = None
    unknown: CBand | None = None
    cites_base = False
    applied = 0  # the bits of the sets that applied, for the "not ..." of grade 0
    for bset in term.sets:
        if bset.plain:
            m = x
        elif not _applies(bset.applies, base):
            continue
        else:
            measured = x if bset.measure == "value" else _measure(bset.measure, x, base)
            if measured is None:
                continue
            m = measured
        applied |= bset.bit
        s_lo, s_hi, band, s_unknown = _walk(bset, m, inputs, base)
        if s_lo > lo or best is None and band is not None:
            lo, best = s_lo, band
            cites_base = bset.cites_baseline
        if s_hi > hi:
            hi = s_hi
        if unknown is None and s_unknown is not None and s_hi > s_lo:
            unknown = s_unknown
    if hi > lo:
        assert unknown is not None
        return Outcome(None, None, f"{unknown.missing} ({inputs.note})" if inputs.note else unknown.missing)
    if best is None or lo == 0:
        return Outcome(0, None, f"{term.normal[applied]} ({_inputs_text(inputs, base)})")
    return Outcome(lo, best, f"{best.label} ({_inputs_text(inputs, base if cites_base else None)})")


def _applies(applies: str, base: Base | None) -> bool:
    """Closed table of set conditions; 'abnormal' is the baseline against its own record's range."""
    if applies == "baseline_any":
        return base is not None
    if applies == "baseline_above_uln":
        return base is not None and base.above_uln
    if applies == "baseline_not_above_uln":
        return base is None or not base.above_uln
    if applies == "baseline_below_lln":
        return base is not None and base.below_lln
    return base is None or not base.below_lln  # baseline_not_below_lln


def _measure(measure: str, x: float, base: Base | None) -> float | None:
    """The increase over the baseline, or the percent decrease from it; None without a (positive) baseline."""
    if base is None:
        return None
    if measure == "increase_from_baseline":
        return sig15(x - base.value)
    if base.value <= 0:
        return None
    return sig15((base.value - x) / base.value * 100.0)  # pct_decrease_from_baseline


def _walk(bset: CSet, m: float, inputs: Inputs, base: Base | None) -> tuple[int, int, CBand | None, CBand | None]:
    """(lowest possible grade, highest possible grade, band met, first unknown band) of one set."""
    hi: int | None = None
    unknown: CBand | None = None
    for band in bset.bands:
        of = band.of
        if of == "abs":
            threshold = band.value
        else:
            if of == "uln":
                ref, ref15 = inputs.uln, inputs.uln15
            elif of == "lln":
                ref, ref15 = inputs.lln, inputs.lln15
            elif base is not None:
                ref, ref15 = base.value, base.value15
            else:
                ref = ref15 = None
            if ref is None or ref15 is None:
                if hi is None:
                    hi, unknown = band.grade, band
                continue
            threshold = _times(band.value, ref) if band.times else ref15
        if band.cmp(m, threshold):
            return band.grade, max(hi or 0, band.grade), band, unknown
    return 0, hi or 0, None, unknown


def _times(k: float, ref: float) -> float:
    """k x a limit at 15 significant digits (an integral product is exact already)."""
    p = k * ref
    return p if p.is_integer() and -1e15 < p < 1e15 else sig15(p)


def _inputs_text(inputs: Inputs, base: Base | None) -> str:
    """'value 3 10^9/L, LLN 3.5 10^9/L, ULN 9.5 10^9/L[, baseline ...][, note]' (the basis in parentheses)."""
    if base is None:
        return inputs.text
    return f"{inputs.shown}{base.cited}, {inputs.note}" if inputs.note else inputs.shown + base.cited
