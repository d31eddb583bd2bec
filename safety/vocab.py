"""The service's closed vocabularies, each defined once: roles, causality, seriousness, alert kinds, categories.

The values are the event contract's (docs/rules.md states them with the rules that use them). Each vocabulary is a
``typing.Literal`` (pydantic validates fields against it and names the allowed values in its message; JSON holds
the plain string) and a tuple of the same values in the same order (``get_args``), for membership tests, help texts
and choices. Alert kinds are a ``StrEnum`` because alerts carry them as ``AlertKind`` members; a StrEnum member is
its string, so the JSON output is the bare value.

Subsets that are policy (who may mark an ethics report submitted, which kinds are owed a delivery) stay with the
rule that applies them; the splits the contract itself defines (related / not related, fatal seriousness) are here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, get_args

Role = Literal["pi", "ethics", "safety_officer"]
"""Who an alert is sent to and who signs in: the principal investigator, the ethics committee, the safety
officer. Apprise URLs are tagged with a role (or ``<study_id>:<role>``); role tokens name one."""
ROLES: Final[tuple[Role, ...]] = get_args(Role)

Causality = Literal["related", "probable", "possible", "unlikely", "unrelated", "unassessable"]
"""The investigator's causality assessment of an AE or a death (Chinese five-level scales map onto these)."""
CAUSALITIES: Final[tuple[Causality, ...]] = get_args(Causality)

RELATED_CAUSALITY: Final[tuple[Causality, ...]] = ("related", "probable", "possible", "unassessable")
"""The default related set of a study (``related_causality`` in rules/studies/*.yaml): causality that cannot be
ruled out counts as related, ``unassessable`` included, as Chinese practice requires for expedited reports. The
rest of the scale (``unlikely``, ``unrelated``) is not related."""

Seriousness = Literal[
    "death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"
]
"""ICH E2A seriousness criteria of an AE (SDTM AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE). Seriousness is
not severity: any of these makes an SAE whatever the CTCAE grade."""
SERIOUSNESS: Final[tuple[Seriousness, ...]] = get_args(Seriousness)

FATAL_SERIOUSNESS: Final[tuple[Seriousness, ...]] = ("death", "life_threatening")
"""The criteria that put a SUSAR on the 7-day clock (rule SUSAR-7D) instead of the 15-day one."""


class AlertKind(StrEnum):
    """Every kind of record in the alerts output: the contract's clinical kinds, the withdrawal record that follows a
    correction, the delivery-failure notice to the safety officer, and the heartbeat's two kinds: expected data
    that did not arrive (DATA_OVERDUE) and a data source that stopped sending (FEED_SILENT)."""

    DLT = "DLT"
    SUSPECTED_DLT = "SUSPECTED_DLT"
    SAE = "SAE"
    SUSAR = "SUSAR"
    POTENTIAL_SAE = "POTENTIAL_SAE"
    HYS_LAW = "HYS_LAW"
    STOPPING_BOUNDARY = "STOPPING_BOUNDARY"
    ALERT_WITHDRAWN = "ALERT_WITHDRAWN"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    DATA_OVERDUE = "DATA_OVERDUE"
    FEED_SILENT = "FEED_SILENT"


AlertKindName = Literal[
    "DLT",
    "SUSPECTED_DLT",
    "SAE",
    "SUSAR",
    "POTENTIAL_SAE",
    "HYS_LAW",
    "STOPPING_BOUNDARY",
    "DELIVERY_FAILED",
    "DATA_OVERDUE",
    "FEED_SILENT",
]
"""The kinds a study's rules file may name (recipients, escalation): every ``AlertKind`` but ALERT_WITHDRAWN, which
goes to the recipients of the alert it withdraws. A Literal, so a misspelt key in the file is refused with the
allowed names."""

CLINICAL_KINDS: Final[tuple[AlertKindName, ...]] = (
    "DLT",
    "SUSPECTED_DLT",
    "SAE",
    "SUSAR",
    "POTENTIAL_SAE",
    "HYS_LAW",
    "STOPPING_BOUNDARY",
)
"""The kinds the rules raise from the trial's data (the contract's list); a study names the recipients of each."""

Category = Literal["hematologic", "non_hematologic"]
"""CTCAE term category of a graded row (the contract lists the hematologic terms; rules/ctcae_v*.yaml marks each
entry)."""

ObservationType = Literal["lab", "vital", "ecg"]
"""The event types that carry a value to grade (a graded row's ``event_type``)."""
