"""Grading: one lab/vital/ECG observation -> one GradedObservation per CTCAE term of its test, in one pass.

The pass: find the test's compiled :class:`~safety.rules.ctcae.GradingTable`, convert the value and its limits to
SI (rules/units.yaml), grade each term against its compiled bands (:mod:`safety.grading.bands`) with the subject's
baseline as the state holds it (:mod:`safety.grading.baseline`), and build the rows; then record the reading for
the composite criteria (:mod:`safety.grading.composite`) and add the rows they complete.

A unit whose bands CTCAE prints for the term (``bands_by_unit``: HGB 6.2 mmol/L is read against "<LLN - 6.2
mmol/L", not converted) is graded as reported: the row's value, limits, unit and basis are then those of that unit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo

from safety.grading.bands import Base, Inputs, Outcome, baseline, grade_term
from safety.grading.calcium import ALBUMIN_TEST, corrected, shift_in
from safety.grading.composite import (
    MAX_ALB,
    MAX_CA,
    MAX_NEUT,
    MAX_TEMP,
    Match,
    febrile_neutropenia,
    remember,
    sustained_fever,
)
from safety.model.events import Ecg, Lab, Vital
from safety.model.outputs import GradedObservation
from safety.model.state import SubjectState
from safety.model.studyday import study_day
from safety.model.values import fmt, parse_measured, sig15
from safety.rules.ctcae import Criteria, CTerm, CUnit, Example
from safety.rules.ruleset import RuleSet
from safety.rules.units import Ungradable, convert, lookup_unit, unit_of


def grade_observation(
    obs: Lab | Vital | Ecg, state: SubjectState, rules: RuleSet, day: int | None
) -> list[GradedObservation]:
    """Grade ``obs`` for every CTCAE term of its test (plus composite terms it completes); [] if none apply.

    ``day`` is the observation's study day (safety.model.studyday.study_day of its time against ``state.day0``),
    computed once per event by safety.pipeline.step, which the detectors and the heartbeat read as well.

    Records NEUT/TEMP/ALB readings and graded calcium in ``state.composite`` (in place: that memory belongs to
    grading).
    """
    crit = rules.criteria
    table = crit.tables.get(obs.test)
    if table is None:
        return []
    rows = _Rows(obs, state, crit, rules.tz, day)
    conv = unit_of(table, obs.unit)
    if isinstance(conv, Ungradable):
        return [rows.row(term, Outcome(None, None, conv.basis), None, None, None, 0) for term in table.terms]
    number = obs.value.number
    low, high = (obs.ref_low, obs.ref_high) if obs.type == "lab" else (None, None)
    x = convert(number, conv)
    graded: list[GradedObservation] = []
    if table.terms:
        if conv.identity:  # graded as given: only a comparator needs saying
            si = Inputs(x, low, high, _comparator_note(obs), table.si)
        else:
            si = Inputs(x, _converted(low, conv), _converted(high, conv), _note(obs, x, conv, table.si), table.si)
        # as reported, for the terms whose bands CTCAE prints in the reported unit (the only readers of it)
        printed = Inputs(number, low, high, _comparator_note(obs), conv.name) if conv.name in table.printed_in else si
        base = state.baselines(crit).get(obs.test)
        usable = base if rows.after_first and base is not None and base.event_id != obs.event_id else None
        for term in table.terms:
            own = term.by_unit.get(conv.name)
            if own is None:
                inputs = si if term.correction is None else corrected(term, si, obs.occurred_at, state.composite, None)
                outcome = grade_term(term, inputs, usable.si if usable else None)
            else:
                inputs = corrected(own, printed, obs.occurred_at, state.composite, conv)
                outcome = grade_term(own, inputs, usable.cited_for(own) if usable else None)
            limits = si if own is None else printed
            base_grade = base.grades[term.id] if base is not None else 0
            graded.append(rows.row(own or term, outcome, inputs.value, limits.lln, limits.uln, base_grade))
        if table.corrected:  # kept to be graded again if the albumin of its draw arrives after it
            kept, unit = (printed, conv.name) if table.corrected[0].by_unit.get(conv.name) else (si, None)
            remember(
                state.composite.ca,
                (
                    obs.event_id,
                    obs.occurred_at,
                    kept.value,
                    kept.lln,
                    kept.uln,
                    kept.note,
                    obs.revision,
                    obs.test,
                    unit,
                ),
                MAX_CA,
            )
    if table.composite:
        graded = _composites(obs, x, graded, rows, crit, state)
    return graded


def _converted(limit: float | None, conv: CUnit) -> float | None:
    return None if limit is None else convert(limit, conv)


def _comparator_note(obs: Lab | Vital | Ecg) -> str:
    """The note of a value graded in its reported unit: only a comparator needs saying."""
    return f"reported {obs.value.text()}, graded at its bound" if obs.value.comparator else ""


def _note(obs: Lab | Vital | Ecg, x: float, conv: CUnit, si: str) -> str:
    """How the SI value was obtained: its comparator and its conversion."""
    parts = [_comparator_note(obs)] if obs.value.comparator else []
    if obs.unit is not None and obs.unit.strip() != si and x != obs.value.number:
        parts.append(f"{fmt(obs.value.number)} {obs.unit} = {fmt(x)} {si}")
    return "; ".join(parts)


class _Rows:
    """Builds the output rows of one observation (every field the contract requires)."""

    __slots__ = ("obs", "crit", "state", "day", "tz", "after_first")

    def __init__(
        self, obs: Lab | Vital | Ecg, state: SubjectState, crit: Criteria, tz: tzinfo, day: int | None
    ) -> None:
        self.obs = obs
        self.crit = crit
        self.state = state
        self.tz = tz
        self.day = day
        first = state.first_infusion_at
        self.after_first = first is not None and obs.occurred_at >= first

    def after_first_infusion(self, at: datetime) -> bool:
        first = self.state.first_infusion_at
        return first is not None and at >= first

    def row(
        self, term: CTerm, out: Outcome, value: float | None, lln: float | None, uln: float | None, base_grade: int
    ) -> GradedObservation:
        """The row of ``term`` for the observation; treatment-emergent: at/after the first infusion and worse than
        the baseline grade."""
        grade = out.grade
        obs = self.obs
        return GradedObservation(
            event_id=obs.event_id,
            revision=obs.revision,
            study_id=obs.study_id,
            subject_id=obs.subject_id,
            event_type=obs.type,
            test=term.test,
            occurred_at=obs.occurred_at,
            study_day=self.day,
            ctcae_version=self.crit.version,
            ctcae_term=term.term,
            grade=grade,
            baseline_grade=base_grade,
            treatment_emergent=self.after_first and grade is not None and grade > base_grade,
            category=term.category,
            criterion=None if grade is None else term.criteria[grade],
            value=value,
            unit=None if value is None else term.unit,
            uln=uln,
            lln=lln,
            basis=out.basis,
        )


# ----------------------------------------------------------------------------------------- composites


def _composites(
    obs: Lab | Vital | Ecg, x: float, graded: list[GradedObservation], rows: _Rows, crit: Criteria, state: SubjectState
) -> list[GradedObservation]:
    """Record the reading and add/upgrade rows for febrile neutropenia and sustained fever (rules/ctcae_v5.yaml,
    composites), or grade again the calcium of an albumin's draw."""
    memory = state.composite
    point = (obs.event_id, obs.occurred_at, x)
    if obs.test == ALBUMIN_TEST:
        remember(memory.alb, point, MAX_ALB, _baseline_draws(state, crit))
        state.albumin_recorded(obs.occurred_at, crit)
        return graded + _calcium_graded_again(obs, rows, crit, state)
    fn = crit.fn
    sf = crit.sustained_fever
    if fn is not None and obs.test == fn.neut_test:
        remember(memory.neut, point, MAX_NEUT)
    elif obs.test == (fn.temp_test if fn is not None else "TEMP"):
        remember(memory.temp, point, MAX_TEMP)
        if sf is not None:
            graded = _upgrade_fever(graded, crit.by_id[sf.entry], sustained_fever(memory, sf, point), rows)
    if fn is not None and obs.test in (fn.neut_test, fn.temp_test):
        match = febrile_neutropenia(memory, fn, point, obs.test)
        if match is not None:
            graded.append(
                GradedObservation(
                    event_id=match.event_id,
                    revision=obs.revision,
                    study_id=obs.study_id,
                    subject_id=obs.subject_id,
                    event_type=obs.type,
                    test=obs.test,
                    occurred_at=match.occurred_at,
                    study_day=study_day(match.occurred_at, state.day0, rows.tz),
                    ctcae_version=crit.version,
                    ctcae_term=fn.term,
                    grade=match.grade,
                    baseline_grade=0,
                    treatment_emergent=rows.after_first_infusion(match.occurred_at) and match.grade > 0,
                    category=fn.category,
                    criterion=f"{crit.prefix}/{fn.id}/{match.grade}",
                    value=x,
                    unit=crit.units.si[obs.test],
                    uln=None,
                    lln=None,
                    basis=match.basis,
                )
            )
    return graded


def _baseline_draws(state: SubjectState, crit: Criteria) -> frozenset[datetime]:
    """Times of the calcium baseline candidates: their albumin must be remembered as long as they are
    (a baseline calcium graded without its albumin would change its baseline grade, and with it which later
    grades are treatment-emergent)."""
    return frozenset(r.occurred_at for test in crit.corrected_tests for r in state.pre_infusion.get(test, ()))


def _calcium_graded_again(
    alb: Lab | Vital | Ecg, rows: _Rows, crit: Criteria, state: SubjectState
) -> list[GradedObservation]:
    """Calcium of the same draw graded before this albumin arrived, graded again with the correction.

    Corrected calcium uses the albumin of the same draw, and without one the measured value is graded and the
    basis says so. A stream cannot wait for the albumin, so when it arrives after the calcium the calcium's
    corrected terms are graded again. The rows carry the calcium's event id, revision and time: the latest row per
    (event_id, term) is the corrected one (``safety.reports.read_graded``), the measured-value row stays in
    the history, and the detectors see the corrected grade (a hypercalcemia the correction makes grade 3 is not
    missed, a hypocalcemia it makes milder is recorded).
    """
    again: list[GradedObservation] = []
    for event_id, at, value, lln, uln, note, revision, test, unit in state.composite.ca:
        table = crit.tables.get(test)
        if at != alb.occurred_at or table is None:
            continue
        base = state.baselines(crit).get(test)
        usable = base if rows.after_first and base is not None and base.event_id != event_id else None
        conv = table.exact.get(unit) if unit is not None else None
        for term in table.corrected:
            own = term.by_unit.get(unit) if unit is not None else None
            graded = own or term
            inputs = corrected(
                graded,
                Inputs(value, lln, uln, note, graded.unit),
                at,
                state.composite,
                conv if own is not None else None,
            )
            shown = (usable.si if own is None else usable.cited_for(own)) if usable else None
            outcome = grade_term(graded, inputs, shown)
            outcome = outcome._replace(
                basis=f"{outcome.basis}; graded again: the albumin of the same draw "
                f"({alb.event_id}) arrived after the calcium"
            )
            base_grade = base.grades[term.id] if base is not None else 0
            row = rows.row(graded, outcome, inputs.value, lln, uln, base_grade)
            # the calcium's row: same draw, so the albumin's study day and infusion status are the calcium's
            again.append(replace(row, event_id=event_id, revision=revision, occurred_at=at))
    return again


def _upgrade_fever(
    graded: list[GradedObservation], term: CTerm, match: Match | None, rows: _Rows
) -> list[GradedObservation]:
    """Fever grade 4 replaces the reading's grade 3 row (same event, same term); basis names both readings."""
    if match is None:
        return graded
    out = []
    for row in graded:
        if row.ctcae_term == term.term and row.grade is not None and row.grade < match.grade:
            row = replace(
                row,
                grade=match.grade,
                criterion=term.criteria[match.grade],
                basis=match.basis,
                treatment_emergent=rows.after_first_infusion(row.occurred_at)
                and match.grade > (row.baseline_grade or 0),
            )
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
        x, lln, uln = convert(raw, conv), _converted(example.lln, conv), _converted(example.uln, conv)
    base: Base | None = None
    if example.baseline is not None:
        base = baseline(
            convert(example.baseline, conv),
            _converted(example.baseline_lln, conv),
            _converted(example.baseline_uln, conv),
            "example-baseline",
            term.unit,
        )
    note = ""
    if term.correction is not None and example.albumin is not None:
        x = sig15(x + shift_in(crit.units.exact[term.test][term.unit] if own is not None else None, example.albumin))
        note = f"corrected with albumin {fmt(example.albumin)} g/L"
    return grade_term(term, Inputs(x, lln, uln, note, term.unit), base)
