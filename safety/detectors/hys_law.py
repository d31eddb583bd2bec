"""HYS_LAW: potential Hy's law (FDA DILI guidance 2009; docs/rules.md, HYS_LAW).

ALT or AST >= 3 x ULN and total bilirubin >= 2 x ULN, the bilirubin's study day minus the transaminase's study day
in 0..14 inclusive, and every ALP value with a study day in that span (inclusive) < 2 x ULN (none measured: no
block). Multiples of ULN use the range on the same record, so they do not depend on the unit. Only
values at or after the first infusion count (lab-based kinds start at the first infusion). Either value may arrive
first (labs are entered late), so both directions are searched. One alert per subject episode, which ends when
the newest ALT, AST and bilirubin values are all below their thresholds again; values from before that point are
then forgotten. The alert carries the later value's study day, no ``ctcae_term``, and both values in ``basis``.
"""

from __future__ import annotations

from typing import Any

from safety.detectors.base import Candidate, Context, iso
from safety.model.events import Lab
from safety.model.memory import LIVER_VALUES, LiverLatest, LiverValue
from safety.model.values import fmt, sig15

GRADED_STATUSES = ("final", "corrected")
TRANSAMINASE, BILIRUBIN, ALP_HIGH = "transaminase", "bilirubin", "alp_high"


def detect(ctx: Context) -> list[Candidate]:
    event = ctx.event
    if not isinstance(event, Lab):
        return []
    cfg = ctx.rules.protocol.hys_law
    test = event.test
    if test in cfg.transaminase_tests:
        role, factor = TRANSAMINASE, cfg.transaminase_x_uln
    elif test == cfg.bilirubin_test:
        role, factor = BILIRUBIN, cfg.bilirubin_x_uln
    elif test == cfg.alp_test:
        role, factor = ALP_HIGH, cfg.alp_x_uln_below
    else:
        return []
    if not cfg.enabled or event.status not in GRADED_STATUSES:
        return []
    memory = ctx.memory
    if ctx.correction:
        _retract(ctx, event.event_id)
    first = ctx.state.first_infusion_at
    uln = event.ref_high
    day = ctx.day
    if first is None or event.occurred_at < first or uln is None or uln <= 0 or day is None:
        return []
    value = event.value.number
    high = sig15(value) >= sig15(factor * uln)
    if not high and memory.hys_episode is None:
        # Fast path (most values): a normal value only matters if it lowers a remembered high status.
        latest = memory.liver_latest.get(test)
        if latest is not None and latest.high and event.occurred_at >= latest.occurred_at:
            memory.liver_latest[test] = LiverLatest(occurred_at=event.occurred_at, high=False)
        return []
    if role != ALP_HIGH:
        latest = memory.liver_latest.get(test)
        if latest is None or event.occurred_at >= latest.occurred_at:
            memory.liver_latest[test] = LiverLatest(occurred_at=event.occurred_at, high=high)
    if high:
        values = memory.liver.setdefault(role, [])
        values.append(
            LiverValue(
                event_id=event.event_id,
                test=test,
                study_day=day,
                occurred_at=event.occurred_at,
                value=value,
                uln=uln,
                x_uln=value / uln,
            )
        )
        values.sort(key=lambda v: (v.study_day, v.occurred_at))
        del values[:-LIVER_VALUES]
    if memory.hys_episode is not None:
        if not any(latest.high for latest in memory.liver_latest.values()):
            _end_episode(ctx, event)
        return []
    if not high or role == ALP_HIGH:
        return []
    pair = _pair(ctx, role, event.event_id)
    if pair is None:
        return []
    transaminase, bilirubin = pair
    candidate = _candidate(ctx, transaminase, bilirubin)
    memory.hys_episode = candidate.key
    return [candidate]


def _blocked(ctx: Context, first_day: int, last_day: int) -> bool:
    return any(first_day <= v.study_day <= last_day for v in ctx.memory.liver.get(ALP_HIGH, ()))


def _pair(ctx: Context, role: str, event_id: str) -> tuple[LiverValue, LiverValue] | None:
    """The pair the new value completes: the nearest partner within the span that no high ALP blocks."""
    span = ctx.rules.protocol.hys_law.max_days_after
    liver = ctx.memory.liver
    new = next(v for v in liver[role] if v.event_id == event_id)
    if role == TRANSAMINASE:
        for bilirubin in liver.get(BILIRUBIN, ()):  # sorted by study day: the earliest one within the span
            if 0 <= bilirubin.study_day - new.study_day <= span and not _blocked(
                ctx, new.study_day, bilirubin.study_day
            ):
                return new, bilirubin
        return None
    for transaminase in reversed(liver.get(TRANSAMINASE, [])):  # the latest one within the span
        if 0 <= new.study_day - transaminase.study_day <= span and not _blocked(
            ctx, transaminase.study_day, new.study_day
        ):
            return transaminase, new
    return None


def _end_episode(ctx: Context, event: Lab) -> None:
    """ALT, AST and bilirubin are all below their thresholds again: a new episode may start after this value."""
    memory = ctx.memory
    memory.hys_episode = None
    for role in (TRANSAMINASE, BILIRUBIN):
        kept = [v for v in memory.liver.get(role, ()) if v.occurred_at > event.occurred_at]
        if kept:
            memory.liver[role] = kept
        else:
            memory.liver.pop(role, None)


def _retract(ctx: Context, event_id: str) -> None:
    """Forget the earlier revision's value; if it was part of the episode's alert, decide the episode again."""
    memory = ctx.memory
    for role in (TRANSAMINASE, BILIRUBIN, ALP_HIGH):
        values = memory.liver.get(role)
        if values:
            memory.liver[role] = [v for v in values if v.event_id != event_id]
    if memory.hys_episode is not None:
        ref = memory.alerts.get(memory.hys_episode)
        if ref is not None and event_id in ref.event_ids:
            memory.hys_episode = None


def _value(value: LiverValue, factor: float, comparison: str) -> dict[str, Any]:
    return {
        "event_id": value.event_id,
        "test": value.test,
        "study_day": value.study_day,
        "observed_at": iso(value.occurred_at),
        "value": value.value,
        "uln": value.uln,
        "x_uln": round(value.x_uln, 3),
        "threshold": f"{comparison} {fmt(factor)} x ULN",
    }


def _candidate(ctx: Context, transaminase: LiverValue, bilirubin: LiverValue) -> Candidate:
    cfg = ctx.rules.protocol.hys_law
    basis: dict[str, Any] = {
        "criterion": (
            f"{'/'.join(cfg.transaminase_tests)} >= {fmt(cfg.transaminase_x_uln)} x ULN and "
            f"{cfg.bilirubin_test} >= {fmt(cfg.bilirubin_x_uln)} x ULN within "
            f"0..{cfg.max_days_after} days after, {cfg.alp_test} < {fmt(cfg.alp_x_uln_below)} x ULN "
            "when measured in the span"
        ),
        "transaminase": _value(transaminase, cfg.transaminase_x_uln, ">="),
        "bilirubin": _value(bilirubin, cfg.bilirubin_x_uln, ">="),
        "days_between": bilirubin.study_day - transaminase.study_day,
        "alp": f"no {cfg.alp_test} >= {fmt(cfg.alp_x_uln_below)} x ULN between study days "
        f"{transaminase.study_day} and {bilirubin.study_day}",
    }
    return Candidate(
        "HYS_LAW",
        f"HYS_LAW-{transaminase.test}",
        ctx.event.subject_id,
        [transaminase.event_id, bilirubin.event_id],
        study_day=max(transaminase.study_day, bilirubin.study_day),
        ctcae_term=None,
        grade=None,
        basis=basis,
    )
