"""The live adapters, a worker plug-in (``register(app, ctx)``; enable it in SAFETY_PLUGINS as streams.feeds.live).

* HL7 v2 over MLLP (``0x0b`` message ``0x1c 0x0d``): the answer is ``AA`` only once the broker has acknowledged
  every event of the message; ``AE`` with the reasons when parts were refused (the rest is sent), or the broker
  did not acknowledge in time (nothing may be assumed sent: the sender resends, a duplicate is harmless);
  ``AR`` for what is not an ORU^R01 or exceeds the size limit.
* ``POST /fhir`` (Observation, AdverseEvent, Bundle) and ``POST /fhir/subscription`` (a rest-hook notification)
  answer an OperationOutcome; ``POST /events`` takes one contract event or NDJSON (fields the contract does not
  define are dropped). 202 only after the broker's acknowledgement; each refused line or entry is returned with
  where it was and why. Per-source bearer tokens (compared in constant time), a body size limit (413).
* Every refusal goes to the dead-letter topic with its reason and the input minus identifiers (an HL7 rejection
  quotes the OBR/OBX segment, a FHIR one resourceType/id/status/code only); a patient the site's mapping does
  not hold is acknowledged, counted and dropped.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from safety.model import events as contract
from safety.model.events import DEFAULT_TZ
from safety.model.outputs import Rejection
from safety.model.parse import parse_event
from streams.feeds.results import Converted, Event, Rejected, ResultMemory
from streams.feeds.site import Site, load_site

log = logging.getLogger(__name__)

START, END = b"\x0b", b"\x1c\x0d"
Send = Callable[[bytes, bytes], Awaitable[Awaitable[Any]]]
"""Produce (key, value) to the events topic; the awaited result is the broker's delivery future."""
DeadLetter = Callable[[str, str, str], Awaitable[None]]
"""(adapter, reason, raw minus identifiers) -> sent to the dead-letter topic."""


class BrokerUnavailable(Exception):
    """The broker did not acknowledge the events in time: the sender must resend."""


@dataclass
class FeedMetrics:
    """``safety_feed_messages_total{adapter,outcome}`` and ``safety_feed_events_total{adapter}``."""

    messages: Counter
    events: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> FeedMetrics:
        return cls(
            Counter(
                "safety_feed_messages",
                "Messages received per adapter and outcome",
                ["adapter", "outcome"],
                registry=registry,
            ),
            Counter("safety_feed_events", "Events sent to the broker per adapter", ["adapter"], registry=registry),
        )


@dataclass
class Gateway:
    """Validates converted events against the contract, sends them, waits for the broker, dead-letters refusals."""

    site: Site
    send: Send
    dead_letter: DeadLetter
    metrics: FeedMetrics
    ack_timeout: float = 10.0
    memory: ResultMemory = field(default_factory=ResultMemory)

    async def submit(self, adapter: str, converted: Converted) -> list[Rejected]:
        """Send what is valid; return every refusal. Raises BrokerUnavailable when the broker does not answer."""
        rejected = list(converted.rejected)
        valid: list[Event] = []
        for event in converted.events:
            parsed = parse_event(json.dumps(event), DEFAULT_TZ)
            if isinstance(parsed, Rejection):
                rejected.append(Rejected(f"{adapter} {event['event_id']}", parsed.reason))
            else:
                valid.append(event)
        for refusal in rejected:
            await self.dead_letter(adapter, f"{refusal.where}: {refusal.reason}", refusal.raw)

        async def deliver() -> None:
            futures = [
                await self.send(e["subject_id"].encode(), json.dumps(e, ensure_ascii=False).encode()) for e in valid
            ]
            await asyncio.gather(*futures)

        try:  # the bound covers handing over too: a producer whose buffer is full must not hold the answer back
            await asyncio.wait_for(deliver(), self.ack_timeout)
        except Exception as exc:  # noqa: BLE001 - any producer failure means: not acknowledged
            self.metrics.messages.labels(adapter, "broker_unavailable").inc()
            raise BrokerUnavailable(
                f"the broker did not acknowledge the events ({type(exc).__name__}); resend the message"
            ) from exc
        self.metrics.events.labels(adapter).inc(len(valid))
        outcome = "rejected" if rejected else "not_subject" if converted.not_subjects else "accepted"
        self.metrics.messages.labels(adapter, outcome).inc()
        return rejected


def _hl7_escape(text: str) -> str:
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("~", "\\R\\")
        .replace("&", "\\T\\")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def hl7_ack(control_id: str, code: str, text: str = "") -> bytes:
    """An HL7 v2 ACK for the message ``control_id`` (MSA-1 AA/AE/AR, MSA-3 the reason)."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    msh = f"MSH|^~\\&|SAFETY||||{now}||ACK^R01^ACK|{_hl7_escape(control_id)}-ACK|P|2.5.1"
    msa = f"MSA|{code}|{_hl7_escape(control_id)}|{_hl7_escape(text)[:500]}"
    return START + f"{msh}\r{msa}\r".encode() + END


async def handle_hl7(gateway: Gateway, message: str) -> tuple[str, str]:
    """(MSA-1, reason) for one message."""
    from streams.feeds.hl7v2 import convert_message

    converted = convert_message(message, gateway.site, gateway.memory)
    if converted.rejected and not converted.events and converted.rejected[0].where == "message":
        await gateway.dead_letter("hl7", converted.rejected[0].reason, "")
        gateway.metrics.messages.labels("hl7", "refused").inc()
        return "AR", converted.rejected[0].reason
    try:
        rejected = await gateway.submit("hl7", converted)
    except BrokerUnavailable as exc:
        return "AE", str(exc)
    if rejected:
        return "AE", "; ".join(f"{r.where}: {r.reason}" for r in rejected)
    return "AA", ""


async def serve_mllp(gateway: Gateway, host: str, port: int, max_bytes: int) -> asyncio.Server:
    """Start the MLLP listener; each connection may carry many messages, answered in order."""
    from streams.feeds.hl7v2 import control_id

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    frame = await reader.readuntil(END)
                except asyncio.IncompleteReadError:
                    return
                except asyncio.LimitOverrunError:
                    writer.write(hl7_ack("", "AR", f"message over {max_bytes} bytes"))
                    await writer.drain()
                    return
                start = frame.find(START)
                text = frame[start + 1 if start >= 0 else 0 : -len(END)].decode("utf-8", errors="replace")
                ident = control_id(text)
                code, reason = await handle_hl7(gateway, text)
                writer.write(hl7_ack(ident, code, reason))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()

    return await asyncio.start_server(connection, host, port, limit=max_bytes)


def _bearer_source(request: web.Request, tokens: dict[str, str]) -> str | None:
    """The source whose token the request bears; every token is compared in constant time, none skipped, so
    neither the answer's timing nor an early exit tells a caller how much of a token it guessed right."""
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    offered_bytes = offered.strip().encode()
    found = None
    for token, source in tokens.items():
        if hmac.compare_digest(token.encode(), offered_bytes) and scheme.lower() == "bearer":
            found = source
    return found


CONTRACT_FIELDS = frozenset(
    name for model in typing.get_args(typing.get_args(contract.Event)[0]) for name in model.model_fields
)
"""Every field some contract event defines: all a posted event may carry onto a topic or into a dead letter."""


def _contract_only(data: Any, fields: frozenset[str] = CONTRACT_FIELDS) -> dict[str, Any]:
    """A posted object minus what the contract does not define (a tolerant reader ignores extra fields, but a
    sender's extra ``patient_name`` must not reach a topic or a dead letter)."""
    return {k: v for k, v in data.items() if k in fields} if isinstance(data, dict) else {}


@dataclass
class HttpFeeds:
    gateway: Gateway
    tokens: dict[str, str]
    max_bytes: int

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        return [
            ("POST", "/fhir", self.fhir),
            ("POST", "/fhir/subscription", self.fhir),
            ("POST", "/events", self.events),
        ]

    async def _body(self, request: web.Request) -> bytes | web.Response:
        if _bearer_source(request, self.tokens) is None:
            return web.json_response({"error": "send Authorization: Bearer <this source's token>"}, status=401)
        if (request.content_length or 0) > self.max_bytes:
            return web.json_response({"error": f"body over {self.max_bytes} bytes: split it"}, status=413)
        body = await request.content.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            return web.json_response({"error": f"body over {self.max_bytes} bytes: split it"}, status=413)
        return body

    async def fhir(self, request: web.Request) -> web.Response:
        from streams.feeds.fhir import convert_resource, operation_outcome

        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        if not body.strip() and request.path.endswith("/subscription"):
            return web.json_response(operation_outcome([]), status=200)  # a heartbeat / handshake notification
        try:
            data = json.loads(body)
        except ValueError as exc:
            rejected = [Rejected("body", f"not JSON: {exc}")]
            await self.gateway.dead_letter("fhir", f"body: {rejected[0].reason}", "")
            return web.json_response(operation_outcome(rejected), status=400)
        converted = convert_resource(data, self.gateway.site, self.gateway.memory)
        try:
            rejected = await self.gateway.submit("fhir", converted)
        except BrokerUnavailable as exc:
            return web.json_response(operation_outcome([Rejected("body", str(exc))]), status=503)
        return web.json_response(operation_outcome(rejected), status=422 if rejected and not converted.events else 202)

    async def events(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        text = body.decode("utf-8", errors="replace")
        converted = Converted()
        for number, line in _event_lines(text):
            parsed = parse_event(line, DEFAULT_TZ, line=number)
            if isinstance(parsed, Rejection):
                try:
                    shown = json.dumps(_contract_only(json.loads(line)), ensure_ascii=False)
                except ValueError:
                    shown = ""  # not JSON: nothing in it can be told apart from an identifier
                converted.rejected.append(Rejected(f"line {number}", parsed.reason, shown[:2000]))
            else:
                converted.events.append(_contract_only(json.loads(line), frozenset(type(parsed).model_fields)))
        try:
            rejected = await self.gateway.submit("http", converted)
        except BrokerUnavailable as exc:
            return web.json_response({"error": str(exc)}, status=503)
        answer = {
            "accepted": len(converted.events),
            "rejected": [{"where": r.where, "reason": r.reason} for r in rejected],
        }
        return web.json_response(answer, status=422 if rejected and not converted.events else 202)


def _event_lines(text: str) -> list[tuple[int, str]]:
    """(line number, JSON) of each event of a body: one JSON object (written over any number of lines) or NDJSON."""
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [(1, json.dumps(whole, ensure_ascii=False))]
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def register(app: Any, ctx: Any) -> None:
    """Worker plug-in: the HTTP routes on the worker's web server and the MLLP listener as an app task."""
    from streams.worker import codec

    feeds = ctx.settings.feeds
    site = load_site(feeds.site_file, feeds.subjects_file)

    async def send(key: bytes, value: bytes) -> Awaitable[Any]:
        return await ctx.topics.events.send(key=key, value=value)  # type: ignore[no-any-return]

    async def dead_letter(adapter: str, reason: str, raw: str) -> None:
        value = codec.encode_deadletter(
            reason_code=f"feed_{adapter}",
            reason=reason,
            raw=raw.encode() or None,
            topic=f"feed:{adapter}",
            partition=-1,
            offset=-1,
            timestamp=None,
            at=datetime.now(UTC),
        )
        await ctx.topics.deadletter.send(key=None, value=value)

    gateway = Gateway(site, send, dead_letter, FeedMetrics.create(ctx.metrics.registry), feeds.ack_timeout)
    http = HttpFeeds(gateway, feeds.source_tokens(), feeds.max_message_bytes)
    for method, path, handler in http.routes():
        app.web.web_app.router.add_route(method, path, handler)
    if feeds.mllp_port is not None:
        port = feeds.mllp_port

        @app.task
        async def mllp() -> None:
            server = await serve_mllp(gateway, feeds.mllp_host, port, feeds.max_message_bytes)
            log.info("HL7 v2 MLLP listener on %s:%s (site %s)", feeds.mllp_host, port, site.name)
            async with server:
                await server.serve_forever()
