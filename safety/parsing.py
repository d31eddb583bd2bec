"""Parse one input line into an Event, or a Rejection whose reason names field, value and expectation.

Parsing never raises into the pipeline (architecture convention 4): a malformed event becomes a value that the
shell routes to the dead-letter topic or rejected.jsonl.
"""

from __future__ import annotations

import json
from datetime import tzinfo
from typing import Any

from pydantic import TypeAdapter, ValidationError

from safety.alerts import Rejection
from safety.events import DEFAULT_TZ, EVENT_TYPES, Event

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
# The adapter's core validator, called directly: ``TypeAdapter.validate_json`` is a Python wrapper passing seven
# keyword arguments on every call, about a microsecond per event of replay (bench/replay_bench.py).
_VALIDATE_JSON = _ADAPTER.validator.validate_json
_CONTEXTS: dict[tzinfo, dict[str, tzinfo]] = {}  # validation context per study time zone, built once
_MAX_SHOWN = 80


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


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
        return f"type: expected one of {', '.join(EVENT_TYPES)}, got {_shown(err['input'].get('type'))}"
    if kind == "union_tag_not_found":
        return f"type: required field is missing (expected one of {', '.join(EVENT_TYPES)})"
    if kind == "json_invalid":
        return f"not valid JSON: {err['msg'].removeprefix('Invalid JSON: ')}"
    if kind in ("model_attributes_type", "model_type") or (kind == "dict_type" or not loc):
        return f"expected a JSON object with the event's fields, got {_shown(err.get('input'))}"
    message = err["msg"].removeprefix("Value error, ")
    if "got " in message:
        return f"{prefix}: {message}"
    return f"{prefix}: {message}, got {_shown(err.get('input'))}"


def parse_event(raw: bytes | str, tz: tzinfo = DEFAULT_TZ, line: int | None = None) -> Event | Rejection:
    """One JSON line -> Event | Rejection (never raises)."""
    context = _CONTEXTS.get(tz)
    if context is None:
        context = _CONTEXTS[tz] = {"tz": tz}
    try:
        event: Event = _VALIDATE_JSON(raw, context=context)
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
                ids = {k: obj.get(k) if isinstance(obj.get(k), str) else None for k in ids}
        reasons = "; ".join(_describe(err, event_type) for err in errors[:5])
        if len(errors) > 5:
            reasons += f"; and {len(errors) - 5} more"
        text = (raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw).rstrip("\r\n")
        return Rejection(reason=reasons, raw=text, line=line, **ids)
