"""Study-level signals: what a subject's events tell the study-wide aggregate (the stopping rule).

The subject pipeline emits them; the stream sends them on a study-keyed topic, replay folds them in place, and
both hand them to the same pure study step, so the stopping boundary is computed identically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class StudySignal(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["infused", "dlt", "dlt_withdrawn"]
    study_id: str
    subject_id: str
    event_id: str
    study_day: int | None
    at: datetime  # the triggering event's clock start (recorded_at, defaulted), used as raised_at
    alert_id: str | None = None  # the DLT alert, for dlt / dlt_withdrawn
