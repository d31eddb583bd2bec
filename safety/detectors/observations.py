"""The episode logic SUSPECTED_DLT and POTENTIAL_SAE share for graded lab, vital and ECG rows.

docs/rules.md, "Episodes and re-alerting": both apply to treatment-emergent grades of ``lab``, ``vital`` and ``ecg``
observations; the episode key is (subject, kind, CTCAE term); only a grade above the episode's highest so far
alerts again; a later value grading below the threshold ends the episode (see :mod:`safety.model.episodes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from safety.detectors.base import Candidate, Context, iso
from safety.model import episodes
from safety.model.outputs import GradedObservation


def episode_alerts(
    ctx: Context,
    kind: str,
    threshold: int,
    event_types: Sequence[str],
    qualifies: Callable[[GradedObservation], bool],
    suppressed: Callable[[GradedObservation], str | None],
) -> list[Candidate]:
    """Walk the event's graded rows through the (kind, term) episodes; return the alerts due."""
    found: list[Candidate] = []
    memory = ctx.memory
    event = ctx.event
    for row in ctx.graded:
        grade = row.grade
        if grade is None:
            continue
        if grade < threshold:
            if memory.episodes:
                key = kind + "|" + row.ctcae_term
                if key in memory.episodes:
                    episodes.below_threshold(memory.episodes, key, row.test, row.occurred_at)
            continue
        key = kind + "|" + row.ctcae_term
        if not row.treatment_emergent or row.event_type not in event_types or not qualifies(row):
            continue
        higher, before = episodes.at_or_above_threshold(memory.episodes, key, row.test, grade, row.occurred_at)
        if not higher:
            continue
        reason = suppressed(row)
        if reason is not None:
            continue
        # A row of another event (a calcium graded again when its albumin arrived, a composite completed by a
        # late reading) names that event too: the PI looks for the abnormal value, not only the completing one.
        event_ids = [event.event_id] if row.event_id == event.event_id else [row.event_id, event.event_id]
        found.append(
            Candidate(
                kind,
                f"{kind}-{row.event_type.upper()}",
                event.subject_id,
                event_ids,
                study_day=row.study_day,
                ctcae_term=row.ctcae_term,
                grade=grade,
                identity=(row.ctcae_term, str(grade)),
                episode=key,
                basis={
                    "criterion": f"treatment-emergent {row.event_type} grade >= {threshold}",
                    "test": row.test,
                    "value": row.value,
                    "unit": row.unit,
                    "grade_basis": row.basis,
                    "ctcae_criterion": row.criterion,
                    "baseline_grade": row.baseline_grade,
                    "episode_highest_grade_before": before or None,
                    "observed_at": iso(row.occurred_at),
                },
            )
        )
    return found
