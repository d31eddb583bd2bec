"""The SAE documents on the worker's pages: the alert page's list of versions with their downloads and the
"submitted to the ethics committee" button of each, the investigator's narrative form, the feed entry's links.

The documents are made in the stream (streams/worker/documents.py) and kept in the ``case_documents`` table
(streams/documents/store.py); these functions read it. Routes:

* ``GET /alerts/{alert_id}/documents/v{n}/{name}`` (streams/web/pages.py, guarded like the alert page: the PI,
  the safety officer and the ethics committee, who may see SAE and SUSAR alerts) answers the stored bytes.
* ``POST /alerts/{alert_id}/narrative`` (``NarrativeEndpoint``; the PI only): what the investigator writes for the
  reports (verbatim term, narrative, treatment, concomitant medication, action taken, dechallenge, rechallenge) and
  why, kept as an attributable note (who from the sign-in, when from the clock, the reason given) that the next
  version of the documents carries. Each note is the whole text: the form shows the latest note's fields to edit,
  and a JSON post keeps the latest note's value of every field it leaves out. A browser posts the form with the
  session's CSRF token (streams/web/guard.py) and is sent back to the alert page; a script posts JSON with its
  bearer token. The note goes onto the delivery
  command topic keyed by the case id, where the documents stage, the case's one writer, keeps it. Nothing a feed
  sent is ever copied into a document: only what is typed here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, get_args
from urllib.parse import quote

from aiohttp import web
from pydantic import ValidationError

from safety.documents import PiEntry
from safety.documents.case import ActionTaken, Challenge
from safety.documents.sae_report import ACTION_LABELS, CHALLENGE_LABELS
from safety.reports import AlertStatus
from streams.documents.store import FILE_LABELS, CaseIndex, DocumentShelf, document_href
from streams.web.auth import bearer_token, cross_origin_refusal
from streams.web.guard import principal_of
from streams.web.times import shown

log = logging.getLogger(__name__)

NARRATIVE_ROLES: Final = ("pi",)
TEXT_FIELDS: Final = {
    "verbatim_term": ("SAE 名称（原文）/ SAE term (verbatim)", 200),
    "narrative": ("研究者描述 / Investigator's narrative", 4000),
    "treatment": ("治疗措施 / Treatment", 2000),
    "concomitant": ("合并用药 / Concomitant medication", 2000),
}
CHOICE_FIELDS: Final = {
    "action_taken": ("对研究药物采取的措施 / Action taken with product", get_args(ActionTaken), ACTION_LABELS),
    "dechallenge": ("停药后是否缓解 / Abated after stopping", get_args(Challenge), CHALLENGE_LABELS),
    "rechallenge": ("再次用药是否再现 / Reappeared on reintroduction", get_args(Challenge), CHALLENGE_LABELS),
}
MAX_REASON, MAX_WHO = 500, 100

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


def documents_context(
    case: CaseIndex | None,
    status: AlertStatus,
    *,
    role: str | None,
    person: str | None,
    notes: Sequence[PiEntry],
    tz: tzinfo | None,
    submit: str | None,
) -> dict[str, Any] | None:
    """What templates/alert_documents.html shows of the alert's case; None for an alert that has no case.

    ``submit`` is the target of the ethics submission button when the viewer may press it (the alert page's
    rule, streams/web/views.py); each version's button records that version.
    """
    alert = status.alert
    if alert.kind not in ("SAE", "SUSAR"):
        return None
    submitted: dict[str, list[str]] = {}
    for record in status.records:
        if record.action == "ethics_submitted" and record.document:
            who = record.by or record.role or ""
            submitted.setdefault(record.document, []).append(f"{who}, {shown(record.at, tz)}")
    versions = []
    for v in case.versions if case is not None else ():
        ref = case.document(v.version) if case is not None else ""
        versions.append(
            {
                "version": v.version,
                "report_type": v.report_type,
                "report_date": shown(datetime.fromisoformat(v.report_date), tz),
                "susar": v.susar,
                "files": [
                    {"href": document_href(alert.alert_id, v.version, f.name), "label": FILE_LABELS[f.name]}
                    for f in v.files
                ],
                "e2b_missing": list(v.e2b_missing),
                "document": ref,
                "submitted": submitted.get(ref, []),
                "submit": submit,
            }
        )
    latest = notes[-1] if notes else None
    form = None
    if role in NARRATIVE_ROLES and case is not None and case.versions:
        form = {
            "action": f"/alerts/{quote(alert.alert_id)}/narrative",
            "texts": [
                {"name": name, "label": label, "limit": limit, "value": getattr(latest, name, None) or ""}
                for name, (label, limit) in TEXT_FIELDS.items()
            ],
            "choices": [
                {
                    "name": name,
                    "label": label,
                    "options": [(value, labels[value].zh + " / " + labels[value].en) for value in values],
                    "value": getattr(latest, name, None) or "",
                }
                for name, (label, values, labels) in CHOICE_FIELDS.items()
            ],
            "max_reason": MAX_REASON,
            "ask_who": not person,
            "max_who": MAX_WHO,
        }
    return {
        "case_id": case.case_id if case is not None else None,
        "problem": case.problem if case is not None else None,
        "versions": versions,
        "notes": [
            {"who": n.written_by or "", "at": shown(n.written_at, tz), "reason": n.reason or "", "note_id": n.note_id}
            for n in reversed(notes)
        ],
        "form": form,
    }


def note_id(case_id: str, who: str, at: datetime) -> str:
    return hashlib.sha256(f"note|{case_id}|{who}|{at.isoformat()}".encode()).hexdigest()[:24]


class NarrativeEndpoint:
    """``POST /alerts/{alert_id}/narrative``: the investigator's note for the case's next version."""

    def __init__(
        self,
        tokens: dict[str, str],
        publish: Publish,
        shelf: Callable[[], DocumentShelf | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        public_url: str | None = None,
    ) -> None:
        self.tokens, self.publish, self.shelf, self.clock, self.public_url = tokens, publish, shelf, clock, public_url

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        return [("POST", "/alerts/{alert_id}/narrative", self.post)]

    async def post(self, request: web.Request) -> web.StreamResponse:
        own = [u for u in (self.public_url, f"{request.scheme}://{request.host}") if u]
        if cross_origin_refusal(request.headers, own):
            return _refuse(403, "cross-origin request refused: post from this service's own pages")
        principal = principal_of(request, self.tokens)
        if principal is None:
            status = 403 if bearer_token(request.headers) is not None else 401
            return _refuse(status, "sign in at /login, or send 'Authorization: Bearer <your role token>'")
        role = principal.acting_role(NARRATIVE_ROLES)
        if role is None:
            return _refuse(403, "only the investigator (role pi) writes the narrative of the reports")
        alert_id = request.match_info["alert_id"]
        shelf = self.shelf()
        case = shelf.case_of(alert_id) if shelf is not None else None
        if shelf is None or case is None or not case.versions:
            return _refuse(
                409, "this alert has no documents yet (they are made a few seconds after the alert); reload the page"
            )
        browser = request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        try:
            body: Mapping[str, Any] = dict(await request.post()) if browser else await request.json()
        except (ValueError, UnicodeDecodeError):
            return _refuse(400, "send the form, or a JSON object of the fields")
        if not isinstance(body, Mapping):
            return _refuse(400, "send the form, or a JSON object of the fields")
        who = principal.person or _line(body.get("who"), MAX_WHO)
        reason = _line(body.get("reason"), MAX_REASON)
        if who is None:
            return _refuse(400, f"'who' is required: your name or staff code, at most {MAX_WHO} characters")
        if reason is None:
            return _refuse(400, f"'reason' is required: why you write or change this, at most {MAX_REASON} characters")
        fields: dict[str, Any] = {}
        for name, (label, limit) in TEXT_FIELDS.items():
            value = body.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str) or len(value) > limit:
                return _refuse(400, f"'{name}' ({label}) must be text of at most {limit} characters")
            fields[name] = value.strip()
        for name, (label, values, _) in CHOICE_FIELDS.items():
            value = body.get(name)
            if value in (None, ""):
                continue
            if value not in values:
                return _refuse(400, f"'{name}' ({label}) must be one of {', '.join(values)}")
            fields[name] = value
        previous = shelf.notes(case.case_id)
        if not browser and previous:  # a script sends what changes; the form shows and sends every field
            kept = previous[-1].model_dump(include=set(TEXT_FIELDS) | set(CHOICE_FIELDS), exclude_none=True)
            fields = {**{k: v for k, v in kept.items() if k not in body}, **fields}
        at = self.clock()
        try:
            note = PiEntry(
                event_id=case.event_id,
                revision=case.versions[-1].revision,
                note_id=note_id(case.case_id, who, at),
                written_by=who,
                written_at=at,
                reason=reason,
                **fields,
            )
        except ValidationError as exc:
            return _refuse(400, str(exc.errors()[0]["msg"]))
        command = {"type": "pi_note", "alert_id": case.case_id, "note": note.model_dump(mode="json")}
        await self.publish(case.case_id, command)
        log.info("case %s: note %s by role %s published", case.case_id, note.note_id, role)
        if browser:
            return web.Response(status=303, headers={"Location": f"/alerts/{quote(alert_id)}"})
        return web.json_response({"status": "recorded", "note_id": note.note_id, "case_id": case.case_id}, status=202)


def _line(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text if 0 < len(text) <= limit else None


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def register(app: Any, ctx: Any) -> DocumentShelf:
    """Worker plug-in part (called by streams.web.acks.register): the documents stage and the narrative route."""
    from streams.worker import documents

    shelf = documents.register(app, ctx)
    commands = app.topic(
        ctx.settings.topics.delivery_commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=ctx.settings.kafka.partitions,
    )

    async def publish(case_id: str, command: dict[str, Any]) -> None:
        await commands.send(key=case_id.encode(), value=json.dumps(command, ensure_ascii=False).encode())

    clock = getattr(ctx, "clock", None) or (lambda: datetime.now(UTC))
    endpoint = NarrativeEndpoint(
        ctx.settings.auth.role_tokens(), publish, lambda: shelf, clock, public_url=ctx.settings.web.public_url
    )
    for method, path, handler in endpoint.routes():
        app.web.web_app.router.add_route(method, path, handler)
    return shelf
