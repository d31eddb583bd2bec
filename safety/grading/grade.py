"""The CTCAE interpreter: one lab/vital/ECG observation -> one GradedObservation per term its test maps to.

Rules are data (rules/ctcae_v*.yaml, compiled by :mod:`safety.rules.ctcae`); this module walks the compiled bands
worst grade first (spec/ctcae.md, "Reading the criteria"): the first band met wins, none met is grade 0.
Values are graded in SI, except in a unit whose bands CTCAE prints for the term (``bands_by_unit``: HGB 6.2
mmol/L is read against "<LLN - 6.2 mmol/L", not converted): the row's value, limits, unit and basis are then
those of that unit. Both sides are rounded to 15 significant digits before comparing (3 x 40 = 120 exactly).
A band that needs a missing LLN/ULN is "unknown": the grade is null only when that unknown band could change the
result, so potassium 2.4 is grade 4 without a range while NEUT 1.9 without LLN is not gradable.

Runs on every event of the replay (budget ~20 us/event): no pydantic validation here, rows are built with
``model_construct`` from already-typed values.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import NamedTuple

from safety.grading.composite import (
    MAX_ALB,
    MAX_CA,
    MAX_NEUT,
    MAX_TEMP,
    CompositeMemory,
    Match,
    albumin_at,
    febrile_neutropenia,
    remember,
    sustained_fever,
)
from safety.model.events import Ecg, Lab, Vital
from safety.model.outputs import GradedObservation
from safety.model.state import Reading, SubjectState
from safety.model.studyday import study_day
from safety.model.values import fmt, parse_measured, sig15
from safety.rules.ctcae import CBand, Criteria, CSet, CTerm, CUnit, Example
from safety.rules.ruleset import RuleSet
from safety.rules.units import Ungradable, convert, lookup_unit

_CACHE_MAX = 1 << 15
_SIG: dict[float, float] = {}
_TXT: dict[float, str] = {}
_HEADS: dict[tuple[str, float, float | None, float | None], str] = {}
_BASE_TEXTS: dict[tuple[str, object], str] = {}
_FIELDS = frozenset(GradedObservation.model_fields)
_BASE_GRADES: dict[tuple[object, ...], int] = {}


def s15(x: float) -> float:
    """sig15 with a bounded memo: thresholds and values repeat across events (hot path, ~20 us/event
    budget)."""
    r = _SIG.get(x)
    if r is None:
        if len(_SIG) > _CACHE_MAX:
            _SIG.clear()
        r = _SIG[x] = sig15(x)
    return r


def txt(x: float) -> str:
    """fmt with a bounded memo, for basis texts."""
    r = _TXT.get(x)
    if r is None:
        if len(_TXT) > _CACHE_MAX:
            _TXT.clear()
        r = _TXT[x] = fmt(x)
    return r


_new = object.__new__
_set = object.__setattr__


def _construct(values: dict[str, object]) -> GradedObservation:
    """A GradedObservation from already-typed values, without validation (what model_construct does,
    faster)."""
    row = _new(GradedObservation)
    _set(row, "__dict__", values)
    _set(row, "__pydantic_fields_set__", set(_FIELDS))
    _set(row, "__pydantic_extra__", None)
    _set(row, "__pydantic_private__", None)
    return row


ALBUMIN_TEST = "ALB"
ALBUMIN_CORRECTION = "albumin_corrected_calcium"
ALBUMIN_REFERENCE = 40.0  # g/L; corrected Ca = Ca + 0.02 x (40 - albumin g/L) (spec/ctcae.md)
ALBUMIN_SLOPE = 0.02
_REF_NAME = {"lln": "LLN", "uln": "ULN", "baseline": "baseline"}


class Inputs(NamedTuple):
    """One value ready for grading, all in SI: the measure, its limits and the text of how it was obtained."""

    value: float
    lln: float | None
    uln: float | None
    note: str  # conversions, corrections, comparator; "" when none


class Base(NamedTuple):
    """The subject's baseline of the same test, in SI (or as reported, to cite it), with its own record's
    limits."""

    value: float
    lln: float | None
    uln: float | None
    event_id: str


class Outcome(NamedTuple):
    """Grade of one term: ``grade`` None means not gradable and ``basis`` says why."""

    grade: int | None
    band: CBand | None
    basis: str


class Decision(NamedTuple):
    """What the bands decided for one term, before the basis names the inputs.

    ``label`` is the band met, the "not ..." of grade 0, or the whole missing-range sentence of a null grade;
    ``names_base``: the basis cites the baseline (when one was given).
    """

    grade: int | None
    band: CBand | None
    label: str
    names_base: bool


# --------------------------------------------------------------------------------------------- entry point


def grade_observation(obs: Lab | Vital | Ecg, state: SubjectState, rules: RuleSet) -> list[GradedObservation]:
    """Grade ``obs`` for every CTCAE term of its test (plus composite terms it completes); [] if none apply.

    Records NEUT/TEMP/ALB readings in ``state.composite`` (in place: the memory belongs to grading).
    """
    crit = rules.criteria
    terms = crit.by_test.get(obs.test)
    composite_test = obs.test in crit.composite_tests
    if not terms and not composite_test:
        return []
    conv = lookup_unit(obs.test, obs.unit, crit.units)
    day = study_day(obs.occurred_at, state.day0, rules.tz)
    ctx = _Row(obs, state, crit, day, rules.tz)
    if isinstance(conv, Ungradable):
        return [ctx.row(t, Outcome(None, None, conv.basis), None, None, None, 0) for t in terms or ()]
    x = convert(obs.value.number, conv)
    if obs.type == "lab":  # vitals and ECGs have no range (getattr on a pydantic model is slow when absent)
        lln, uln = _limit(obs.ref_low, conv), _limit(obs.ref_high, conv)
    else:
        lln = uln = None
    note = "" if conv.identity and not obs.value.comparator else _value_note(obs, x, crit)
    rows: list[GradedObservation] = []
    if terms:
        known = _baseline_of(state, obs.test, crit)
        use_base = _usable_baseline(known, ctx, obs.event_id)
        plain = Inputs(x, lln, uln, note)
        printed: Inputs | None = None  # the value as reported, for a term whose bands CTCAE prints in its unit
        corrected: Inputs | None = None
        for term in terms:
            base_grade = _baseline_grade(term, known, state, crit)
            own = term.by_unit.get(conv.name) if term.by_unit else None
            if own is None:
                inputs = (plain if term.correction is None
                          else _inputs_for(term, x, lln, uln, note, obs.occurred_at, state.composite, None))
                outcome = grade_term(term, inputs, use_base, crit)
                limits = (lln, uln)
            else:
                if printed is None:
                    low, high = (obs.ref_low, obs.ref_high) if obs.type == "lab" else (None, None)
                    printed = Inputs(obs.value.number, low, high, _comparator_note(obs))
                inputs = (printed if term.correction is None
                          else _inputs_for(own, printed.value, printed.lln, printed.uln, printed.note,
                                           obs.occurred_at, state.composite, conv))
                shown = _shown_baseline(known, own) if use_base is not None else None
                outcome = grade_term(own, inputs, shown[0] if shown else None, crit, shown[1] if shown else None)
                limits = (printed.lln, printed.uln)
                term = own
            if term.correction == ALBUMIN_CORRECTION and corrected is None:
                corrected = printed if own is not None else plain
            rows.append(ctx.row(term, outcome, inputs.value, limits[0], limits[1], base_grade))
        if corrected is not None:  # kept to be graded again if the albumin of its draw arrives after it
            unit = None if corrected is plain else conv.name
            remember(state.composite.ca, (obs.event_id, obs.occurred_at, corrected.value, corrected.lln,
                                          corrected.uln, corrected.note, obs.revision, obs.test, unit), MAX_CA)
    if composite_test:
        rows = _composites(obs, x, rows, ctx, crit, state.composite)
    return rows


# ------------------------------------------------------------------------------------------------ inputs


def _limit(raw: float | None, conv: object) -> float | None:
    if raw is None:
        return None
    return convert(raw, conv)  # type: ignore[arg-type]


def _comparator_note(obs: Lab | Vital | Ecg) -> str:
    """The note of a value graded in its reported unit: only a comparator needs saying."""
    return f"reported {obs.value.text()}, graded at its bound" if obs.value.comparator else ""


def _value_note(obs: Lab | Vital | Ecg, x: float, crit: Criteria) -> str:
    parts = []
    if obs.value.comparator:
        parts.append(f"reported {obs.value.text()}, graded at its bound")
    si = crit.units.si[obs.test]
    if obs.unit is not None and obs.unit.strip() != si and x != obs.value.number:
        parts.append(f"{txt(obs.value.number)} {obs.unit} = {txt(x)} {si}")
    return "; ".join(parts)


def _inputs_for(term: CTerm, x: float, lln: float | None, uln: float | None, note: str, at: datetime,
                memory: CompositeMemory, conv: CUnit | None) -> Inputs:
    """Apply the term's correction (albumin-corrected calcium, with the ALB of the same draw).

    The correction is defined in mmol/L (spec/ctcae.md: Ca + 0.02 x (40 - albumin g/L)); a calcium graded in
    its reported unit (``conv``, e.g. mg/dL against CTCAE's mg/dL bands) gets the same correction converted to
    that unit by rules/units.yaml, so both units grade the same corrected calcium.
    """
    if term.correction != ALBUMIN_CORRECTION:
        return Inputs(x, lln, uln, note)
    alb = albumin_at(memory, at)
    if alb is None:
        extra = "measured calcium, not albumin-corrected: no albumin of the same draw"
        return Inputs(x, lln, uln, f"{note}; {extra}" if note else extra)
    shift = ALBUMIN_SLOPE * (ALBUMIN_REFERENCE - alb[2])
    formula = f"{ALBUMIN_SLOPE} x ({txt(ALBUMIN_REFERENCE)} - albumin {txt(alb[2])} g/L, {alb[0]})"
    if conv is None or conv.identity:
        corrected = s15(x + shift)
        extra = f"corrected Ca {txt(corrected)} = {txt(x)} + {formula}"
    else:
        in_unit = s15(shift * conv.divisor / conv.factor)
        corrected = s15(x + in_unit)
        sign = "-" if in_unit < 0 else "+"
        extra = (f"corrected Ca {txt(corrected)} {term.unit} = {txt(x)} {sign} {txt(abs(in_unit))} {term.unit} "
                 f"({formula} = {txt(s15(shift))} mmol/L)")
    return Inputs(corrected, lln, uln, f"{note}; {extra}" if note else extra)


class _Known:
    """A subject's baseline of one test as last worked out, valid while its inputs are the same objects.

    The baseline only changes when a pre-infusion reading is remembered (a new candidates list) or the first
    infusion moves (``first``), so it is found, converted and graded once instead of on every observation.
    """

    __slots__ = ("candidates", "first", "crit", "reading", "base", "conv", "printed", "grades")

    def __init__(self, candidates: list[Reading], first: datetime | None, crit: Criteria,
                 reading: Reading | None) -> None:
        self.candidates = candidates  # held, so its id() cannot be reused while this entry lives
        self.first = first
        self.crit = crit
        self.reading = reading
        conv = lookup_unit(reading.test, reading.unit, crit.units) if reading is not None else None
        self.conv = conv if isinstance(conv, CUnit) else None  # None: no baseline or its unit is unknown
        self.base = _baseline(reading, self.conv) if reading is not None and self.conv is not None else None
        # the baseline as reported, for terms whose bands CTCAE prints in its unit
        self.printed = (Base(reading.value, reading.ref_low, reading.ref_high, reading.event_id)
                        if reading is not None and self.conv is not None else None)
        self.grades: dict[str, int] = {}  # term id -> baseline grade (terms without a correction)


_KNOWN: dict[int, _Known] = {}  # id(candidates list) -> what it gave last time


def _baseline_of(state: SubjectState, test: str, crit: Criteria) -> _Known | None:
    """The baseline of ``test`` (``SubjectState.baseline``, in SI), reused while its inputs are unchanged.

    SubjectState and pipeline replace a test's candidates list whenever it changes (never mutate it in
    place), so the list's identity plus ``first_infusion_at`` tell whether the answer still holds.
    """
    candidates = state.pre_infusion.get(test)
    if not candidates:
        return None
    first = state.first_infusion_at
    known = _KNOWN.get(id(candidates))
    if known is None or known.candidates is not candidates or known.first != first or known.crit is not crit:
        if len(_KNOWN) > _CACHE_MAX:
            _KNOWN.clear()
        known = _KNOWN[id(candidates)] = _Known(candidates, first, crit, state.baseline(test))
    return known


def _usable_baseline(known: _Known | None, ctx: _Row, event_id: str) -> Base | None:
    """The baseline x-baseline criteria may use: only after the first infusion, never the reading itself."""
    if known is None or known.base is None or known.reading is None or not ctx.after_first:
        return None
    return None if known.reading.event_id == event_id else known.base


def _baseline(reading: Reading, conv: CUnit) -> Base:
    """The baseline reading in SI (a reading of unknown unit has none: it cannot anchor x baseline criteria)."""
    return Base(convert(reading.value, conv), _limit(reading.ref_low, conv), _limit(reading.ref_high, conv),
                reading.event_id)


def _shown_baseline(known: _Known | None, term: CTerm) -> tuple[Base, str] | None:
    """The baseline as a row graded in ``term.unit`` cites it: as reported when in that unit, else in SI."""
    if known is None or known.base is None or known.conv is None:
        return None
    if known.conv.name == term.unit and known.printed is not None:
        return known.printed, term.unit
    return known.base, known.crit.units.si[term.test]


def _baseline_grade(term: CTerm, known: _Known | None, state: SubjectState, crit: Criteria) -> int:
    """Grade of the baseline reading for the same term, graded without a baseline; 0 if none (protocol.md).

    Remembered per term on ``known``; a corrected term (calcium) depends on the albumin memory, which moves,
    so it is looked up each time. The baseline is graded in its own reported unit when CTCAE prints the term's
    bands in it, as any value is.
    """
    if known is None or known.base is None or known.reading is None or known.conv is None:
        return 0
    own = term.by_unit.get(known.conv.name)
    base = known.printed if own is not None and known.printed is not None else known.base
    term = own if own is not None else term
    if not term.correction:
        grade = known.grades.get(term.id)
        if grade is None:
            inputs = Inputs(base.value, base.lln, base.uln, "")
            grade = known.grades[term.id] = grade_term(term, inputs, None, crit).grade or 0
        return grade
    reading = known.reading
    alb = albumin_at(state.composite, reading.occurred_at)
    key = (id(crit), term.id, reading.event_id, reading.value, reading.unit, reading.ref_low,
           reading.ref_high, alb)
    cached = _BASE_GRADES.get(key)
    if cached is not None:
        return cached
    if len(_BASE_GRADES) > _CACHE_MAX:
        _BASE_GRADES.clear()
    inputs = _inputs_for(term, base.value, base.lln, base.uln, "", reading.occurred_at, state.composite,
                         known.conv if own is not None else None)
    grade = _BASE_GRADES[key] = grade_term(term, inputs, None, crit).grade or 0
    return grade


# ------------------------------------------------------------------------------------------- interpreter


def _applies(bset: CSet, base: Base | None) -> bool:
    """Closed table of set conditions; 'abnormal' is the baseline against its own record's range."""
    applies = bset.applies
    if applies == "always":
        return True
    if applies == "baseline_any":
        return base is not None
    above = base is not None and base.uln is not None and base.value > base.uln
    below = base is not None and base.lln is not None and base.value < base.lln
    if applies == "baseline_above_uln":
        return above
    if applies == "baseline_not_above_uln":
        return not above
    if applies == "baseline_below_lln":
        return below
    return not below  # baseline_not_below_lln


def _measure(bset: CSet, x: float, base: Base | None) -> float | None:
    if bset.measure == "value":
        return x
    if base is None:
        return None
    if bset.measure == "increase_from_baseline":
        return s15(x - base.value)
    if base.value <= 0:
        return None
    return s15((base.value - x) / base.value * 100.0)  # pct_decrease_from_baseline


def _threshold(band: CBand, inputs: Inputs, base: Base | None) -> float | None:
    of = band.of
    if of == "abs":
        return band.value
    ref = inputs.uln if of == "uln" else inputs.lln if of == "lln" else (base.value if base else None)
    if ref is None:
        return None
    if band.value == 1.0:
        return s15(ref)
    p = band.value * ref
    return p if p.is_integer() and -1e15 < p < 1e15 else s15(p)


def _walk(bset: CSet, m: float, inputs: Inputs,
          base: Base | None) -> tuple[int, int, CBand | None, CBand | None]:
    """(lowest possible grade, highest possible grade, band met, first unknown band) of one set."""
    hi: int | None = None
    unknown: CBand | None = None
    for band in bset.bands:
        thr = _threshold(band, inputs, base)
        if thr is None:
            if hi is None:
                hi, unknown = band.grade, band
            continue
        if band.cmp(m, thr):
            return band.grade, max(hi or 0, band.grade), band, unknown
    return 0, hi or 0, None, unknown


def grade_term(term: CTerm, inputs: Inputs, base: Base | None, crit: Criteria,
               base_unit: str | None = None) -> Outcome:
    """Grade one term: worst over its applicable sets; null when a missing limit could change the grade.

    ``inputs`` are in ``term.unit``; ``base_unit`` is the unit ``base`` is cited in when it is another.
    """
    decision = _decide(term, inputs, base)
    if decision.grade is None:
        return Outcome(None, None, decision.label + _suffix(inputs.note))
    text = _inputs_text(inputs, base if decision.names_base else None, term.unit, base_unit or term.unit)
    return Outcome(decision.grade, decision.band, f"{decision.label} ({text})")


def _decide(term: CTerm, inputs: Inputs, base: Base | None) -> Decision:
    """The decision for these inputs, remembered per term: the same values recur across subjects and visits.

    The key holds everything the bands read: the value, both limits and, only for entries that can read it,
    the baseline (its value and its own record's limits).
    """
    x = s15(inputs.value)
    known_base = (base.value, base.lln, base.uln) if base is not None and term.reads_baseline else None
    key = (x, inputs.lln, inputs.uln, known_base)
    decision = term.decisions.get(key)
    if decision is None:
        if len(term.decisions) > _CACHE_MAX:
            term.decisions.clear()
        decision = term.decisions[key] = _walk_sets(term, x, inputs, base)
    return decision  # type: ignore[return-value]


def _walk_sets(term: CTerm, x: float, inputs: Inputs, base: Base | None) -> Decision:
    """Worst grade over the term's applicable sets, or null when a missing limit could change it."""
    lo = hi = 0
    best: CBand | None = None
    unknown: CBand | None = None
    used_base = False
    applicable: list[CSet] = []
    for bset in term.sets:
        if not _applies(bset, base):
            continue
        m = _measure(bset, x, base)
        if m is None:
            continue
        applicable.append(bset)
        s_lo, s_hi, band, s_unknown = _walk(bset, m, inputs, base)
        if s_lo > lo or best is None and band is not None:
            lo, best = s_lo, band
            used_base = bset.needs_baseline or any(b.of == "baseline" for b in bset.bands)
        if s_hi > hi:
            hi = s_hi
        if unknown is None and s_unknown is not None and s_hi > s_lo:
            unknown = s_unknown
    if hi > lo:
        assert unknown is not None
        name = _REF_NAME[unknown.of if unknown.of != "abs" else "uln"]
        return Decision(None, None, f"range: {name} missing, needed for {unknown.label}", False)
    if best is None or lo == 0:
        mild = [s.bands[-1].label for s in applicable]
        return Decision(0, None, "not " + " and not ".join(mild) if mild else "no band applies", True)
    return Decision(lo, best, best.label, used_base)


def _suffix(note: str) -> str:
    return f" ({note})" if note else ""


def _inputs_text(inputs: Inputs, base: Base | None, unit: str, base_unit: str) -> str:
    """'value 3 10^9/L, LLN 3.5 10^9/L, ULN 9.5 10^9/L[, baseline ...][, note]' (the basis in parentheses)."""
    text = _head_text(unit, inputs.value, inputs.lln, inputs.uln)
    if base is not None:
        text += _base_text(base_unit, base)
    if inputs.note:
        text += ", " + inputs.note
    return text


def _base_text(unit: str, base: Base) -> str:
    """', baseline 3 10^9/L (event, ULN .., LLN ..)', remembered: a subject's baseline is cited on every row."""
    key = (unit, base)
    text = _BASE_TEXTS.get(key)
    if text is None:
        text = f", baseline {txt(base.value)} {unit} ({base.event_id}"
        if base.uln is not None:
            text += f", ULN {txt(base.uln)}"
        if base.lln is not None:
            text += f", LLN {txt(base.lln)}"
        text += ")"
        if len(_BASE_TEXTS) > _CACHE_MAX:
            _BASE_TEXTS.clear()
        _BASE_TEXTS[key] = text
    return text


def _head_text(unit: str, value: float, lln: float | None, uln: float | None) -> str:
    """The value and its limits as text, remembered: a few thousand combinations cover a whole trial."""
    key = (unit, value, lln, uln)
    text = _HEADS.get(key)
    if text is None:
        text = f"value {txt(value)} {unit}"
        if lln is not None:
            text += f", LLN {txt(lln)} {unit}"
        if uln is not None:
            text += f", ULN {txt(uln)} {unit}"
        if len(_HEADS) > _CACHE_MAX:
            _HEADS.clear()
        _HEADS[key] = text
    return text


# --------------------------------------------------------------------------------------------- rows


class _Row:
    """Builds output rows for one observation (fields the contract requires, all filled)."""

    __slots__ = ("obs", "state", "crit", "day", "event_type", "tz", "after_first")

    def __init__(self, obs: Lab | Vital | Ecg, state: SubjectState, crit: Criteria, day: int | None,
                 tz: tzinfo) -> None:
        self.tz = tz
        self.obs = obs
        self.state = state
        self.crit = crit
        self.day = day
        self.event_type = obs.type
        # Compared once per observation: aware datetimes with distinct tzinfo objects compare slowly (each
        # side's utcoffset() is a call), and every row and the baseline choice need the answer.
        first = state.first_infusion_at
        self.after_first = first is not None and obs.occurred_at >= first

    def row(self, term: CTerm, out: Outcome, value: float | None, lln: float | None, uln: float | None,
            base_grade: int) -> GradedObservation:
        grade = out.grade
        criterion = f"{term.criterion_prefix}{grade}" if grade is not None else None
        unit = None if value is None else term.unit
        return self._build(self.obs.event_id, self.obs.occurred_at, self.day, term.term, term.category, grade,
                           base_grade, criterion, value, unit, lln, uln, out.basis, self.obs.test)

    def emergent(self, at: datetime, grade: int | None, base_grade: int) -> bool:
        """Treatment-emergent: at/after the first infusion and worse than the baseline grade (protocol.md)."""
        first = self.state.first_infusion_at
        return first is not None and at >= first and grade is not None and grade > base_grade

    def _build(self, event_id: str, at: datetime, day: int | None, term: str, category: str,
               grade: int | None,
               base_grade: int, criterion: str | None, value: float | None, unit: str | None,
               lln: float | None, uln: float | None, basis: str, test: str,
               revision: int | None = None) -> GradedObservation:
        obs = self.obs
        if at is obs.occurred_at:  # treatment-emergent, as ``emergent``, with the comparison already made
            emergent = self.after_first and grade is not None and grade > base_grade
        else:  # a composite row carrying another reading's time
            emergent = self.emergent(at, grade, base_grade)
        return _construct({
            "event_id": event_id, "revision": obs.revision if revision is None else revision,
            "study_id": obs.study_id,
            "subject_id": obs.subject_id, "event_type": self.event_type, "test": test, "occurred_at": at,
            "study_day": day, "ctcae_version": self.crit.version, "ctcae_term": term, "grade": grade,
            "baseline_grade": base_grade, "treatment_emergent": emergent, "category": category,
            "criterion": criterion, "value": value, "unit": unit, "uln": uln, "lln": lln, "basis": basis,
        })

    def composite_row(self, match: Match, term: str, category: str, criterion_id: str, value: float,
                      unit: str, day: int | None) -> GradedObservation:
        return self._build(match.event_id, match.occurred_at, day, term, category, match.grade, 0,
                           f"{self.crit.prefix}/{criterion_id}/{match.grade}", value, unit, None, None,
                           match.basis, self.obs.test)


# ----------------------------------------------------------------------------------------- composites


def _composites(obs: Lab | Vital | Ecg, x: float, rows: list[GradedObservation], ctx: _Row, crit: Criteria,
                memory: CompositeMemory) -> list[GradedObservation]:
    """Record the reading and add/upgrade rows for febrile neutropenia and sustained fever (spec/ctcae.md)."""
    point = (obs.event_id, obs.occurred_at, x)
    if obs.test == ALBUMIN_TEST:
        remember(memory.alb, point, MAX_ALB, _baseline_draws(ctx.state, crit))
        return rows + _calcium_graded_again(obs, ctx, crit)
    fn = crit.fn
    sf = crit.sustained_fever
    if fn is not None and obs.test == fn.neut_test:
        remember(memory.neut, point, MAX_NEUT)
    elif obs.test == (fn.temp_test if fn is not None else "TEMP"):
        remember(memory.temp, point, MAX_TEMP)
        if sf is not None:
            rows = _upgrade_fever(rows, sf.entry, sustained_fever(memory, sf, point), ctx)
    if fn is not None and obs.test in (fn.neut_test, fn.temp_test):
        match = febrile_neutropenia(memory, fn, point, obs.test)
        if match is not None:
            day = study_day(match.occurred_at, ctx.state.day0, ctx.tz)
            unit = crit.units.si[obs.test]
            rows.append(ctx.composite_row(match, fn.term, fn.category, fn.id, x, unit, day))
    return rows


def _baseline_draws(state: SubjectState, crit: Criteria) -> frozenset[datetime]:
    """Times of the calcium baseline candidates: their albumin must be remembered as long as they are
    (a baseline calcium graded without its albumin would change its baseline grade, and with it which later
    grades are treatment-emergent)."""
    times: set[datetime] = set()
    for test, terms in crit.by_test.items():
        if any(t.correction == ALBUMIN_CORRECTION for t in terms):
            times.update(r.occurred_at for r in state.pre_infusion.get(test, ()))
    return frozenset(times)


def _calcium_graded_again(alb: Lab | Vital | Ecg, ctx: _Row, crit: Criteria) -> list[GradedObservation]:
    """Calcium of the same draw graded before this albumin arrived, graded again with the correction.

    spec/ctcae.md: corrected calcium uses the albumin of the same draw, and without one the measured value is
    graded and the basis says so. A stream cannot wait for the albumin, so when it arrives after the calcium the
    calcium's corrected terms are graded again. The rows carry the calcium's event id, revision and time: the
    latest row per (event_id, term) is the corrected one (``safety.reports.read_graded``), the measured-value row
    stays in the history, and the detectors see the corrected grade (a hypercalcemia the correction makes grade
    3 is not missed, a hypocalcemia it makes milder is recorded).
    """
    state = ctx.state
    rows: list[GradedObservation] = []
    for event_id, at, x, lln, uln, note, revision, test, unit in state.composite.ca:
        if at != alb.occurred_at:
            continue
        known = _baseline_of(state, test, crit)
        use_base = _usable_baseline(known, ctx, event_id)
        conv = crit.units.exact[test].get(unit) if unit is not None else None
        for term in crit.by_test.get(test, ()):
            if term.correction != ALBUMIN_CORRECTION:
                continue
            base_grade = _baseline_grade(term, known, state, crit)
            own = term.by_unit.get(unit) if unit is not None else None
            if own is not None:
                term = own
            inputs = _inputs_for(term, x, lln, uln, note, at, state.composite, conv if own is not None else None)
            if own is None:
                outcome = grade_term(term, inputs, use_base, crit)
            else:
                shown = _shown_baseline(known, own) if use_base is not None else None
                outcome = grade_term(own, inputs, shown[0] if shown else None, crit, shown[1] if shown else None)
            grade = outcome.grade
            basis = (f"{outcome.basis}; graded again: the albumin of the same draw ({alb.event_id}) arrived after "
                     "the calcium")
            rows.append(ctx._build(
                event_id, at, ctx.day, term.term, term.category, grade, base_grade,
                f"{term.criterion_prefix}{grade}" if grade is not None else None, inputs.value,
                term.unit, lln, uln, basis, test, revision,
            ))
    return rows


def _upgrade_fever(rows: list[GradedObservation], entry_id: str, match: Match | None,
                   ctx: _Row) -> list[GradedObservation]:
    """Fever grade 4 replaces the reading's grade 3 row (same event, same term); basis names both readings."""
    if match is None:
        return rows
    term = ctx.crit.by_id[entry_id]
    out = []
    for row in rows:
        if row.ctcae_term == term.term and row.grade is not None and row.grade < match.grade:
            base_grade = row.baseline_grade or 0
            row = _construct({
                **row.__dict__, "grade": match.grade, "criterion": f"{term.criterion_prefix}{match.grade}",
                "basis": match.basis,
                "treatment_emergent": ctx.emergent(row.occurred_at, match.grade, base_grade),
            })
        out.append(row)
    return out


# --------------------------------------------------------------------------------------- worked examples


def grade_example(crit: Criteria, entry_id: str, example: Example) -> Outcome:
    """Grade a worked example of a rules file the way an observation would be (used by tests/rules and
    ``safety rules check``): value and limits in ``example.unit`` (SI when absent), optional baseline."""
    term = crit.by_id[entry_id]
    unit = example.unit if example.unit is not None else crit.units.si[term.test]
    conv = lookup_unit(term.test, unit, crit.units)
    if isinstance(conv, Ungradable):
        return Outcome(None, None, conv.basis)
    raw = parse_measured(example.value).number
    own = term.by_unit.get(conv.name)
    if own is not None:  # a unit CTCAE prints the term's bands in: graded as reported, never converted
        term = own
        x, lln, uln = raw, example.lln, example.uln
    else:
        x, lln, uln = convert(raw, conv), _limit(example.lln, conv), _limit(example.uln, conv)
    base = None
    if example.baseline is not None:
        base = Base(convert(example.baseline, conv), _limit(example.baseline_lln, conv),
                    _limit(example.baseline_uln, conv), "example-baseline")
    note = ""
    if term.correction == "albumin_corrected_calcium" and example.albumin is not None:
        shift = ALBUMIN_SLOPE * (ALBUMIN_REFERENCE - example.albumin)
        if own is not None:
            unit_conv = crit.units.exact[term.test][term.unit]
            shift = shift * unit_conv.divisor / unit_conv.factor
        x = s15(x + shift)
        note = f"corrected with albumin {txt(example.albumin)} g/L"
    return grade_term(term, Inputs(x, lln, uln, note), base, crit)
