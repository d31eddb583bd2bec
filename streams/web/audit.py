"""The audit trail: one append-only record per sign-in, failed sign-in, sign-out, token use and acknowledgement.

Good clinical practice asks that every record be attributable and never overwritten (docs/architecture.md,
"Guarantees"), so each action the web surface admits or refuses is a JSON record on its own topic
(``safety.audit``, deploy/kafka/topics.yaml, kept forever), keyed by the person: who (``person``, the signed-in
person or the shared role token's role), which ``role`` they acted in, when (``at``, UTC), what (``action``), on
what (``target``: a path or an alert id), why or with what outcome (``reason``) and from where (``source``: the
peer address, and the ``X-Forwarded-For`` a proxy added). Nothing in a record is a credential: a token is named
by its role, a password never appears, a failed sign-in names the login name tried only when it is a valid login
name. ``safety audit export`` (streams/cli/audit.py) reads the topic back as CSV and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "token_use",
    "token_refused",
    "token_created",
    "token_revoked",
    "ack",
    "ethics_submitted",
    "link_ack",
    "csrf_refused",
    "rate_limited",
)
FIELDS = ("at", "person", "role", "action", "target", "reason", "source", "forwarded_for", "via")

Audit = Callable[[dict[str, Any]], Awaitable[None]]


def source_of(request: web.Request) -> dict[str, str]:
    forwarded = request.headers.get("X-Forwarded-For", "")
    return {"source": request.remote or "unknown", "forwarded_for": _one_line(forwarded, 200)}


def record(
    request: web.Request,
    at: datetime,
    *,
    person: str,
    role: str | None,
    action: str,
    target: str,
    reason: str,
    via: str,
) -> dict[str, Any]:
    """An audit record; ``at`` in UTC, every text bounded and on one line (a record reads as it is)."""
    assert action in ACTIONS, action
    return {
        "at": at.astimezone(UTC).isoformat(),
        "person": _one_line(person, 100),
        "role": role or "",
        "action": action,
        "target": _one_line(target, 200),
        "reason": _one_line(reason, 200),
        **source_of(request),
        "via": via,
    }


def command_record(at: datetime, *, person: str, action: str, target: str, reason: str) -> dict[str, Any]:
    """An audit record of a configuration change made with the ``safety`` command on the service's host."""
    assert action in ACTIONS, action
    return {
        "at": at.astimezone(UTC).isoformat(),
        "person": _one_line(person, 100),
        "role": "",
        "action": action,
        "target": _one_line(target, 200),
        "reason": _one_line(reason, 200),
        "source": "command",
        "forwarded_for": "",
        "via": "command",
    }


def encode(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _one_line(text: str, limit: int) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])
