"""Models <-> bytes for every topic and table: the only module that serialises (docs/architecture.md, "Where each
concern lives").

Topics and tables carry raw bytes (faust ``value_serializer="raw"``), so a record that is not valid JSON
reaches our own parser and becomes a dead letter instead of crashing the agent (docs/decisions/embedded-broker.md,
section 5). Output JSON is exactly the contract's: ``Alert.to_json()`` (None fields left out),
``GradedObservation`` as dumped by pydantic, so a consumer of the topic sees what replay writes to alerts.jsonl.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from safety.model.outputs import Alert, GradedObservation, Rejection, graded_json
from safety.model.state import SubjectState
from safety.signals import StudySignal

M = TypeVar("M", bound=BaseModel)


def key(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def encode_alert(alert: Alert) -> bytes:
    return alert.to_json().encode()


def decode_alert(data: bytes | str) -> Alert:
    return Alert.model_validate_json(data)


def encode_graded(graded: GradedObservation) -> bytes:
    return graded_json(graded)


def encode_signal(signal: StudySignal) -> bytes:
    return signal.model_dump_json(exclude_none=True).encode()


def decode_signal(data: bytes | str) -> StudySignal:
    return StudySignal.model_validate_json(data)


def encode_state(state: BaseModel) -> bytes:
    """A table value (SubjectState, StudyState): compact JSON."""
    return state.model_dump_json().encode()


def decode_state(cls: type[M], data: bytes | str | None) -> M | None:
    """A table value back to its model; None (no state yet) stays None."""
    return None if data is None else cls.model_validate_json(data)


def decode_subject(data: bytes | str | None) -> SubjectState | None:
    """A subject state; the ``seen`` map a state written before the ``seen`` table still holds is left out
    (``legacy_seen`` reads it)."""
    return decode_state(SubjectState, data)


def legacy_seen(data: bytes | None) -> dict[str, str]:
    """event_id -> "revision:digest" of a subject state written when the state held them (before the ``seen``
    table): ingest moves them to the table the next time it writes the subject (streams/worker/ingest.py)."""
    if data is None or b'"seen"' not in data:  # a new state hardly ever names it: no second parse on the hot path
        return {}
    seen: dict[str, str] = json.loads(data).get("seen") or {}
    return seen


def encode_seen(recorded: str, applied: int) -> bytes:
    """A ``seen`` table value: the "revision:digest" step recorded for an event id, and the subject's event count
    after it (``SubjectState.applied``), which tells an entry of a state that was written from one that was lost."""
    return f"{recorded}@{applied}".encode()


def decode_seen(data: bytes) -> tuple[str, int]:
    recorded, _, applied = data.decode().rpartition("@")
    return recorded, int(applied)


def rejection_code(rejection: Rejection) -> str:
    """The metrics/dead-letter reason code (safety_rejections_total{reason})."""
    if rejection.kind == "conflicting_duplicate":
        return "conflicting_duplicate"
    return "invalid_json" if rejection.reason.startswith("not valid JSON") else "invalid_event"


# A dead letter must always fit in one Kafka record (producer_max_request_size, 1,000,000 bytes by default):
# a letter that cannot be sent stalls its partition. The raw excerpt is bounded, the full size and a digest are
# recorded, and every text field is clipped; escaping can grow text up to 6 times (\\u0000), so 64 KiB of raw
# bytes stay far below the limit whatever they hold.
RAW_EXCERPT_BYTES = 64 * 1024
TEXT_FIELD_CHARS = 4096


def clip(text: str | None, limit: int = TEXT_FIELD_CHARS) -> str | None:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text)} characters in all]"


def raw_fields(raw: bytes | None, limit: int = RAW_EXCERPT_BYTES) -> dict[str, Any]:
    """The raw value as text when it is UTF-8, else base64 (a dead letter keeps the exact bytes).

    A value longer than ``limit`` bytes keeps its first ``limit`` bytes, plus ``raw_size`` (bytes in all),
    ``raw_sha256`` and ``raw_truncated: true``, so the record can still be found and compared at its source.
    """
    if raw is None:
        return {"raw": None}
    fields: dict[str, Any] = {}
    excerpt = raw
    if len(raw) > limit:
        excerpt = raw[:limit]
        fields = {"raw_truncated": True, "raw_size": len(raw), "raw_sha256": hashlib.sha256(raw).hexdigest()}
    try:
        text = excerpt.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not fields or exc.start < len(excerpt) - 3:  # not just a character cut in two at the limit
            return {"raw_base64": base64.b64encode(excerpt).decode("ascii"), **fields}
        text = excerpt[: exc.start].decode("utf-8")
    return {"raw": text, **fields}


def encode_deadletter(
    *,
    reason_code: str,
    reason: str,
    raw: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    timestamp: float | None,
    at: datetime,
    event_id: str | None = None,
    subject_id: str | None = None,
    raw_limit: int = RAW_EXCERPT_BYTES,
) -> bytes:
    """One dead letter: enough to find, fix and re-send the record (reason, source position, exact bytes).

    Bounded whatever the record held (see ``RAW_EXCERPT_BYTES``); unpaired surrogates that reached a text field
    are written as U+FFFD, since UTF-8 cannot carry them.
    """
    record = {
        "reason_code": reason_code,
        "reason": clip(reason),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "record_timestamp": None if timestamp is None else from_epoch(timestamp).isoformat(),
        "dead_lettered_at": at.isoformat(),
        "event_id": clip(event_id, 256),
        "subject_id": clip(subject_id, 256),
        **raw_fields(raw, raw_limit),
    }
    text = json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False)
    return text.encode("utf-8", errors="replace")


def decode_json(data: bytes | str) -> Any:
    return json.loads(data)


def from_epoch(seconds: float) -> datetime:
    """A Kafka record timestamp (faust gives seconds as float) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)
