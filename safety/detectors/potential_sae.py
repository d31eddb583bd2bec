"""POTENTIAL_SAE: a treatment-emergent grade 4 (life-threatening by CTCAE) lab, vital or ECG value.

docs/rules.md, POTENTIAL_SAE: hematologic terms included (an aplastic anemia subject going
from grade 3 to grade 4 neutropenia is flagged), any study day after the first infusion, once per (term) episode.
Suppressed only by an SAE of the same subject, already processed, with onset on the same study day as the value;
the suppressed value still counts in its episode (the SAE covers it). Clock: PI assessment within 24 h.
"""

from __future__ import annotations

from safety.detectors.base import Candidate, Context
from safety.detectors.observations import episode_alerts
from safety.model.outputs import GradedObservation


def detect(ctx: Context) -> list[Candidate]:
    cfg = ctx.rules.protocol.potential_sae
    if not cfg.enabled or not ctx.graded:
        return []
    sae_days = ctx.memory.sae_days

    def suppressed(row: GradedObservation) -> str | None:
        if row.study_day is not None and sae_days and row.study_day in sae_days.values():
            return "SAE of the same subject with onset on the same study day"
        return None

    return episode_alerts(ctx, "POTENTIAL_SAE", cfg.min_grade, cfg.event_types, _always, suppressed)


def _always(row: GradedObservation) -> bool:
    return True
