"""What the detectors remember per subject, inside ``SubjectState.rules`` (the stream keeps it in a faust Table).

Bounded and JSON-serialisable: the open episodes (one per kind and CTCAE term), DLT-4's pending and confirmed
marrow-suppression stretches and the graded baseline values they compare with (a few per test), the Hy's law
values that can still pair within the 14-day span (a few per kind of value, only those beyond their threshold or,
for ALP, those that block), the onset days of the subject's active SAEs (POTENTIAL_SAE suppression), and a ledger
of the alerts raised per event id, so that a correction can tell what it keeps, raises and withdraws
(docs/rules.md, "Duplicates, corrections and withdrawals"). The ledger keeps the newest ``MAX_ALERT_REFS`` alerts.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from safety.model.episodes import Episode

MAX_ALERT_REFS = 1000
BASELINE_VALUES = 4  # graded pre-infusion values kept per DLT-4 test (as many as the pipeline's candidates)
LIVER_VALUES = 16  # qualifying Hy's law values kept per list (the 14-day span, with room for late entries)


class AlertRef(BaseModel):
    """An alert raised for this subject, under its content key (the alert_id of its first raising)."""

    alert_id: str
    kind: str
    rule_id: str
    study_day: int | None
    event_ids: list[str]
    active: bool = True


class Pending(BaseModel):
    """A DLT-4 value below 50% of baseline and at grade 4, waiting for its confirmation >= 7 study days later."""

    event_id: str
    study_day: int
    occurred_at: datetime
    value: float
    baseline: float
    grade: int


class Confirmed(BaseModel):
    """A confirmed DLT-4 stretch: no new pending opens until a later value of the test no longer qualifies."""

    opener: Pending
    event_id: str
    study_day: int
    occurred_at: datetime
    value: float
    grade: int
    key: str


class BaselineValue(BaseModel):
    """A graded pre-infusion value of a DLT-4 test, in the graded row's unit (the pipeline picks the baseline)."""

    event_id: str
    occurred_at: datetime
    value: float
    unit: str | None


class LiverValue(BaseModel):
    """A post-infusion liver value that can take part in a Hy's law pair (or, for ALP, block one)."""

    event_id: str
    test: str
    study_day: int
    occurred_at: datetime
    value: float
    uln: float
    x_uln: float


class LiverLatest(BaseModel):
    """The newest (by occurred_at) value of ALT, AST or BILI: is it still beyond its Hy's law threshold?"""

    occurred_at: datetime
    high: bool


class RuleMemory(BaseModel):
    """Per-subject rule state (bounded, JSON-serialisable)."""

    episodes: dict[str, Episode] = Field(default_factory=dict)
    dlt4_pending: dict[str, Pending] = Field(default_factory=dict)
    dlt4_confirmed: dict[str, Confirmed] = Field(default_factory=dict)
    dlt4_baselines: dict[str, list[BaselineValue]] = Field(default_factory=dict)
    liver: dict[str, list[LiverValue]] = Field(default_factory=dict)  # "transaminase", "bilirubin", "alp_high"
    liver_latest: dict[str, LiverLatest] = Field(default_factory=dict)
    hys_episode: str | None = None  # key of the HYS_LAW alert of the open episode
    sae_days: dict[str, int | None] = Field(default_factory=dict)  # AE/death event_id -> onset study day
    alerts: dict[str, AlertRef] = Field(default_factory=dict)  # content key -> alert
    by_event: dict[str, list[str]] = Field(default_factory=dict)  # event_id -> content keys of its alerts

    def remember(self, key: str, ref: AlertRef) -> None:
        """Record an alert under its key and each of its events; forget the oldest beyond the bound."""
        self.alerts[key] = ref
        for event_id in ref.event_ids:
            keys = self.by_event.setdefault(event_id, [])
            if key not in keys:
                keys.append(key)
        while len(self.alerts) > MAX_ALERT_REFS:
            old_key = next(iter(self.alerts))
            old = self.alerts.pop(old_key)
            for event_id in old.event_ids:
                listed = self.by_event.get(event_id)
                if listed is not None and old_key in listed:
                    listed.remove(old_key)
                    if not listed:
                        del self.by_event[event_id]
