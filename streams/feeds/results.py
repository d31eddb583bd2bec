"""What an adapter makes of one input: contract events, rejections with their reason, and what it dropped.

Revisions. HL7 v2 and FHIR send a corrected result as a new message, so the adapter keeps, per ``event_id``, the
revision it last emitted and a digest of its content (``ResultMemory``): the same content again is the same
revision (a resent message is a harmless duplicate), new content is the next revision (a correction re-grades).
Without memory of the event (first sight, or a restarted adapter) a final result is revision 1 and a corrected
one 2. A retraction (HL7 W, FHIR entered-in-error) is always ``RETRACTED_REVISION``, the highest the contract
allows: it supersedes whatever came before, remembered or not, and nothing after it can resurrect the record.
A preliminary result is held here, never emitted (it is not graded); HL7 status U promotes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from safety.model.bounds import MAX_REVISION

RETRACTED_REVISION = MAX_REVISION
Event = dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """One refused part of an input: where (``line 3``, ``OBX 2``, ``entry 1``), why, and its text minus identifiers."""

    where: str
    reason: str
    raw: str = ""


@dataclass
class Converted:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    not_subjects: int = 0  # records of patients the site's mapping does not hold: acknowledged, counted, dropped
    skipped: list[str] = field(default_factory=list)  # results not for us (unmapped codes, non-numeric, held)

    def extend(self, other: Converted) -> None:
        self.events.extend(other.events)
        self.rejected.extend(other.rejected)
        self.not_subjects += other.not_subjects
        self.skipped.extend(other.skipped)


def _digest(event: Event) -> str:
    content = {k: v for k, v in event.items() if k not in ("revision", "recorded_at")}
    return hashlib.blake2b(json.dumps(content, sort_keys=True).encode(), digest_size=8).hexdigest()


@dataclass
class ResultMemory:
    """Revisions emitted and preliminaries held, by event_id (process memory; see the module docstring)."""

    emitted: dict[str, tuple[int, str, Event]] = field(default_factory=dict)
    held: dict[str, Event] = field(default_factory=dict)

    def revise(self, event: Event, corrected: bool) -> Event:
        """``event`` with its revision set and remembered."""
        event_id = event["event_id"]
        digest = _digest(event)
        known = self.emitted.get(event_id)
        if known is not None and known[1] == digest:
            revision = known[0]
        elif known is not None:
            revision = known[0] + 1
        else:
            revision = 2 if corrected else 1
        revised = {**event, "revision": min(revision, MAX_REVISION - 1)}
        self.emitted[event_id] = (revised["revision"], digest, revised)
        self.held.pop(event_id, None)
        return revised

    def retract(self, event_id: str, fallback: Event | None) -> Event | str:
        """The cancelled revision of what was emitted (or of ``fallback``, the retraction's own content), or why
        there is none: the contract retracts only a lab result (``status`` cancelled), and needs its value."""
        known = self.emitted.get(event_id)
        base = known[2] if known is not None else fallback
        self.held.pop(event_id, None)
        if base is None:
            return f"{event_id} was never sent by this adapter and the retraction carries no value to cancel"
        if base["type"] != "lab":
            return (
                f"the event contract cannot retract a {base['type']} ({event_id}); correct it at the source "
                "and send the right value as a new result"
            )
        return {**base, "status": "cancelled", "revision": RETRACTED_REVISION}

    def hold(self, event: Event) -> None:
        self.held[event["event_id"]] = event

    def promote(self, event_id: str) -> Event | None:
        held = self.held.get(event_id)
        if held is None:
            return None
        return self.revise({**held, "status": "final"}, corrected=False)
