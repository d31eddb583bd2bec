"""Parse one input line into an Event, or a Rejection whose reason names field, value and expectation.

Parsing never raises into the pipeline: a malformed event becomes a value that the shell routes to the dead-letter
topic or rejected.jsonl, and the rest of the input is processed (README, "Input handling").
"""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any

from pydantic import TypeAdapter, ValidationError

from safety.model.bounds import (
    MAX_EVENT_ID_CHARS,
    MAX_LINE_BYTES,
    PRINTABLE_PATTERN,
    PRINTABLE_RULE,
    TIMESTAMP_RULE,
    shown,
    unprintable,
)
from safety.model.events import DEFAULT_TZ, EVENT_TYPES, TIMESTAMP_FIELDS, Event
from safety.model.outputs import Rejection

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# The adapter's core validator, called directly: ``TypeAdapter.validate_json`` is a Python wrapper passing seven
# keyword arguments on every call, about a microsecond per event of replay (bench/replay_bench.py).
_VALIDATE_JSON = _ADAPTER.validator.validate_json
_MAY_BE_TOO_LONG = MAX_LINE_BYTES // 4  # a text line this long may encode to more than MAX_LINE_BYTES


def _describe(err: Any, event_type: str | None) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc and event_type and loc[0] == event_type:
        loc = loc[1:]
    field = ".".join(loc) or "(event)"
    prefix = f"{event_type}.{field}" if event_type else field
    kind = err["type"]
    if kind == "missing":
        return f"{prefix}: required field is missing"
    if kind == "union_tag_invalid":
        return f"type: expected one of {', '.join(EVENT_TYPES)}, got {shown(err['input'].get('type'))}"
    if kind == "union_tag_not_found":
        return f"type: required field is missing (expected one of {', '.join(EVENT_TYPES)})"
    if kind == "json_invalid":
        return f"not valid JSON: {err['msg'].removeprefix('Invalid JSON: ')}"
    if kind in ("model_attributes_type", "model_type") or (kind == "dict_type" or not loc):
        return f"expected a JSON object with the event's fields, got {shown(err.get('input'))}"
    if kind in ("greater_than_equal", "less_than") and loc and loc[-1] in TIMESTAMP_FIELDS:
        return f"{prefix}: expected {TIMESTAMP_RULE}, got {shown(err['input'])}"
    if kind == "string_pattern_mismatch" and err["ctx"]["pattern"] == PRINTABLE_PATTERN:
        return f"{prefix}: expected {PRINTABLE_RULE}, got {shown(err['input'])} ({unprintable(err['input'])})"
    message = err["msg"].removeprefix("Value error, ")
    if "got " in message:
        return f"{prefix}: {message}"
    return f"{prefix}: {message}, got {shown(err.get('input'))}"


def parse_event(raw: bytes | str, tz: tzinfo = DEFAULT_TZ, line: int | None = None) -> Event | Rejection:
    """One JSON line -> Event | Rejection (never raises; the bounds a value must keep are in safety/model/bounds.py)."""
    if len(raw) > _MAY_BE_TOO_LONG and _size(raw) > MAX_LINE_BYTES:
        return Rejection(
            reason=f"(line): {_size(raw)} bytes, more than the {MAX_LINE_BYTES} allowed for one event",
            raw=_text(raw),
            line=line,
        )
    try:
        event: Event = _VALIDATE_JSON(raw, context={"tz": tz})
        return event
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        event_type = None
        ids: dict[str, str | None] = {"event_id": None, "subject_id": None}
        if errors and errors[0]["type"] != "json_invalid":
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                event_type = obj.get("type") if obj.get("type") in EVENT_TYPES else None
                ids = {k: _identifier(obj.get(k)) for k in ids}
        reasons = "; ".join(_describe(err, event_type) for err in errors[:5])
        if len(errors) > 5:
            reasons += f"; and {len(errors) - 5} more"
        return Rejection(reason=reasons, raw=_text(raw), line=line, **ids)


def _size(raw: bytes | str) -> int:
    return len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", errors="replace"))


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw).rstrip("\r\n")


def _identifier(value: object) -> str | None:
    """An id of a rejected line, kept in the rejection when it is text of an identifier's length."""
    return value if isinstance(value, str) and len(value) <= MAX_EVENT_ID_CHARS else None
