"""Which study's rules an event is evaluated under, and whether its subject code belongs to that study.

docs/rules.md, "Several studies": an event is graded and evaluated only under the rules of its own
``study_id``; an event of a study the deployment has no rules for is rejected naming the studies it knows, never
graded under another study's rules. The subject code is checked against the study's ``subject_code_pattern``
(rules/studies/<study_id>.yaml): a name or a phone number sent as a subject id is rejected, and neither the reason
nor the kept raw line repeats it. Replay and the stream both call :func:`admit` between parsing and
``pipeline.step``.

Time zones. Events are parsed before their study is known, with the primary study's zone (``RuleBook.parse_tz``);
``parse_event`` keeps its signature. A time written without an offset gets exactly that zone object
(safety/model/events.py, ``_aware``), while a time with an offset gets pydantic's fixed-offset zone, never a
``ZoneInfo``: so a time whose zone *is* the parse zone was written without an offset, and is re-read in its own
study's zone when that differs. Studies in the parse zone (the usual case) pay nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from safety.model.events import Event
from safety.model.outputs import Rejection
from safety.rules.ruleset import RuleBook, RuleSet

REDACTED = "<withheld: not a subject code>"


def admit(
    event: Event, book: RuleBook, raw: bytes | str | None = None, line: int | None = None
) -> tuple[Event, RuleSet] | Rejection:
    """The event (re-localised to its study's zone) and its study's rule set, or why it is rejected."""
    study_id, subject_id = event.study_id, event.subject_id
    rules = book.studies.get(study_id)
    if rules is None:
        return Rejection(
            reason=book.unknown_study(study_id),
            raw=_text(event, raw),
            line=line,
            event_id=event.event_id,
            subject_id=subject_id,
        )
    problem = rules.protocol.subject_code_problem(subject_id)  # the pattern is compiled when the rules load
    if problem is not None:
        return Rejection(reason=problem, raw=redact(_text(event, raw), subject_id), line=line, event_id=event.event_id)
    if rules.tz is not book.parse_tz:
        event = relocalised(event, book.parse_tz, rules.tz)
    return event, rules


def relocalised(event: Event, parsed_in: ZoneInfo, study_tz: ZoneInfo) -> Event:
    """Every time of ``event`` that was written without an offset, read in ``study_tz`` instead (module doc)."""
    updates = {
        name: value.replace(tzinfo=study_tz)
        for name, value in event
        if isinstance(value, datetime) and value.tzinfo is parsed_in
    }
    return event.model_copy(update=updates) if updates else event


def redact(text: str, value: str) -> str:
    """``text`` without the JSON string ``value`` (as written plain or ASCII-escaped), for a rejected subject id.

    Only the quoted string is replaced, so a short value does not mangle the rest of the line; the event id and
    every other field stay, for the site to find and correct the record.
    """
    for form in {json.dumps(value, ensure_ascii=False), json.dumps(value)}:
        text = text.replace(form, json.dumps(REDACTED))
    return text


def _text(event: Event, raw: bytes | str | None) -> str:
    if raw is None:
        return event.model_dump_json()
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text.rstrip("\r\n")
