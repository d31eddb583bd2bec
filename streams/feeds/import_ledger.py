"""The import ledger: what earlier imports of a study's EDC exports emitted, so the next import emits only what is
new or changed (docs/sdtm.md, "Re-imports").

An EDC export is a full snapshot each time. The ledger holds, per event id, a digest of the event's content and the
revision last emitted: the same record again emits nothing, a changed one is emitted with the next revision (the
contract's correction, which re-grades and may withdraw an alert), a new one with revision 1. A record in the
ledger that is missing from an export is reported, every import until it comes back: the contract has no deletion,
so the safety officer decides. ``recorded_at`` is not content: re-importing with another export time changes
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safety.errors import SafetyError

FORMAT = 1
NOT_CONTENT = frozenset({"revision", "recorded_at"})
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(event: dict[str, Any]) -> str:
    """The event's content as one JSON text (sorted keys, compact): serialized once per event, it is what the
    contract's parser checks and what the digest is of."""
    if NOT_CONTENT.isdisjoint(event):  # an event as mapped, before the ledger gives it a revision
        return _CANONICAL.encode(event)
    return _CANONICAL.encode({key: value for key, value in event.items() if key not in NOT_CONTENT})


def digest_of(canonical_text: str) -> str:
    return hashlib.sha256(canonical_text.encode()).hexdigest()


@dataclass
class Changes:
    """What one import emits (events with their revision) and what it found."""

    emitted: list[dict[str, Any]] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)


class ImportLedger:
    def __init__(self, study_id: str, records: dict[str, dict[str, Any]] | None = None, stored: bool = False) -> None:
        self.study_id = study_id
        self.records = records or {}
        self.stored = stored
        """Whether the file it was loaded from holds these very records: an import that changed nothing (the same
        export again) leaves the file as it is rather than writing it again."""

    @classmethod
    def load(cls, path: Path, study_id: str) -> ImportLedger:
        """The ledger at ``path``; none there yet: an empty one (the first import emits everything)."""
        if not path.exists():
            return cls(study_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SafetyError(
                f"{path}: cannot read the import ledger ({exc}); restore it from a backup, or remove it "
                "to emit every record again (the stream then skips what it already has)"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("records"), dict):
            raise SafetyError(f"{path}: not an import ledger of format {FORMAT}; pass another --state FILE")
        if data.get("study_id") != study_id:
            raise SafetyError(
                f"{path}: the ledger of study {data.get('study_id')!r}, not {study_id!r}; pass the "
                "ledger of this study with --state FILE"
            )
        return cls(study_id, data["records"], stored=True)

    def holds(self, event_id: str, digest: str) -> bool:
        """Whether an earlier import emitted this content under this id: it passed the contract's check then."""
        record = self.records.get(event_id)
        return record is not None and record["digest"] == digest

    def apply(self, events: list[dict[str, Any]], digests: dict[str, str], recorded_at: str | None = None) -> Changes:
        """Compare an export's events with the ledger; update the ledger; return what to emit. ``digests``: event
        id -> ``digest_of(canonical(event))``, computed where the event was serialized for its check."""
        changes = Changes()
        seen = set()
        for event in events:
            event_id = event["event_id"]
            seen.add(event_id)
            digest = digests[event_id]
            record = self.records.get(event_id)
            if record is not None and record["digest"] == digest:
                changes.unchanged += 1
                if record.pop("missing", None) is not None:
                    self.stored = False
                continue
            revision = 1 if record is None else int(record["revision"]) + 1
            if record is None:
                changes.new += 1
            else:
                changes.changed += 1
            self.records[event_id] = {"digest": digest, "revision": revision}
            self.stored = False
            emitted = {**event, "revision": revision}
            if recorded_at is not None:
                emitted["recorded_at"] = recorded_at
            changes.emitted.append(emitted)
        for event_id in sorted(self.records.keys() - seen):
            record = self.records[event_id]
            if record.get("missing") is not True:
                record["missing"] = True
                self.stored = False
            changes.missing.append(event_id)
        return changes

    def save(self, path: Path) -> None:
        """Written whole through a temporary file, so an interrupted import leaves the previous ledger."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        # no indent: an indented dump is Python's slow encoder, seconds for a large study
        temporary.write_text(
            json.dumps(
                {"format": FORMAT, "study_id": self.study_id, "records": self.records},
                sort_keys=True,
                separators=(",", ":"),
            )
            + "\n",
            encoding="utf-8",
        )
        os.replace(temporary, path)
        self.stored = True
