"""SUSAR: an SAE whose causality is in the related set and which is not expected (docs/rules.md, "SAE and SUSAR").

The related set is data (``related_causality``: related, probable, possible, unassessable; causality that cannot
be ruled out counts, as ICH E2A has it). ``expected`` must be false: an AE without an expectedness assessment is not
yet a SUSAR (a revision that adds ``expected: false`` raises it then); a death event is unexpected unless it says
otherwise (contract default). Rule SUSAR-7D when the AE is fatal or life-threatening (or a death event), else
SUSAR-15D; the rule is part of the alert's identity, so a revision that shortens the clock raises a new SUSAR
with the new due time (and withdraws the 15-day one it supersedes). Terms are coded as for the SAE
(safety/coding.py): an uncoded ctcae_term is flagged, never shown, and never stops the SUSAR.
"""

from __future__ import annotations

from typing import Any

from safety.coding import DEATH_GRADE, ae_term, death_term
from safety.detectors.base import Candidate, Context, iso
from safety.model.events import AdverseEvent, Death
from safety.vocab import FATAL_SERIOUSNESS


def detect(ctx: Context) -> list[Candidate]:
    event = ctx.event
    protocol = ctx.rules.protocol
    coding: dict[str, Any] = {}
    if isinstance(event, AdverseEvent):
        if not event.serious or event.expected is not False or not protocol.is_related(event.causality):
            return []
        fatal = any(s in FATAL_SERIOUSNESS for s in event.serious)
        serious = list(event.serious)
        (term, coding), grade = ae_term(event, ctx.rules.criteria), event.grade
    elif isinstance(event, Death):
        if event.expected or not protocol.is_related(event.causality):
            return []
        fatal, serious, term, grade = True, ["death"], death_term(ctx.rules.criteria), DEATH_GRADE
    else:
        return []
    rule_id = "SUSAR-7D" if fatal else "SUSAR-15D"
    return [
        Candidate(
            "SUSAR",
            rule_id,
            event.subject_id,
            [event.event_id],
            study_day=ctx.day,
            ctcae_term=term,
            grade=grade,
            basis={
                "criterion": "serious, causality in the related set, not expected"
                + (" (fatal or life-threatening: 7-day clock)" if fatal else " (15-day clock)"),
                "serious": serious,
                "causality": event.causality,
                "related_set": list(protocol.related_causality),
                "expected": event.expected,
                "onset": iso(event.occurred_at),
                **coding,
            },
        )
    ]
