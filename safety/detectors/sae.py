"""SAE: an adverse event with any seriousness criterion, or a death event (docs/rules.md, "SAE and SUSAR").

Seriousness (ICH E2A) is not severity: a grade 2 hospitalisation is an SAE, a grade 4 lab value is not. One SAE
per AE or death event, never merged by term; raised whatever the study day (an SAE in screening is still reported);
a revision that makes an AE newly serious raises it then, one that removes every seriousness criterion withdraws it.
Clock: ethics report within 24 h of ``recorded_at``.

The alert carries coded values only (safety/coding.py): the AE's CTCAE term, or none and "uncoded term" in the
basis when its ``ctcae_term`` is not a term of the study's CTCAE version (the SAE is raised all the same); a death
is Death NOS, grade 5, and its free-text ``cause`` stays out.
"""

from __future__ import annotations

from safety.coding import DEATH_GRADE, ae_term, death_term
from safety.detectors.base import Candidate, Context, iso
from safety.model.events import AdverseEvent, Death


def detect(ctx: Context) -> list[Candidate]:
    event = ctx.event
    if isinstance(event, AdverseEvent):
        if not event.serious:
            return []
        term, coding = ae_term(event, ctx.rules.criteria)
        return [
            Candidate(
                "SAE",
                "SAE-SERIOUS",
                event.subject_id,
                [event.event_id],
                study_day=ctx.day,
                ctcae_term=term,
                grade=event.grade,
                basis={
                    "criterion": "adverse event with a seriousness criterion (ICH E2A)",
                    "serious": list(event.serious),
                    "onset": iso(event.occurred_at),
                    "grade": event.grade,
                    "causality": event.causality,
                    "expected": event.expected,
                    **coding,
                },
            )
        ]
    if isinstance(event, Death):
        return [
            Candidate(
                "SAE",
                "SAE-DEATH",
                event.subject_id,
                [event.event_id],
                study_day=ctx.day,
                ctcae_term=death_term(ctx.rules.criteria),
                grade=DEATH_GRADE,
                basis={
                    "criterion": "death event",
                    "serious": ["death"],
                    "date_of_death": iso(event.occurred_at),
                    "causality": event.causality,
                    "expected": event.expected,
                },
            )
        ]
    return []
