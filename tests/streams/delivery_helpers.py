"""Loopback SMTP and webhook receivers for the delivery tests: real servers on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web

from safety.model.outputs import Alert, alert_id

CST = timezone(timedelta(hours=8))
RAISED = datetime(2026, 8, 1, 10, 0, tzinfo=CST)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[tuple[Any, EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope, msg))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for env, m in self.messages if address in env.rcpt_tos]


class Webhook:
    """aiohttp receiver on the test's loop; ``replies`` maps a path to the JSON it answers."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, "query": dict(request.query), "json": await request.json()})
        return web.json_response(self.replies.get(request.path, {"errcode": 0, "errmsg": "ok"}))

    async def start(self) -> Webhook:
        application = web.Application()
        application.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(application)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def on(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]


def make_alert(kind: str = "SAE", subject: str = "AA-001", event: str = "AE-7") -> Alert:
    due = {"SAE": RAISED + timedelta(hours=24), "SUSAR": RAISED + timedelta(days=15)}.get(kind)
    return Alert(
        alert_id=alert_id(kind, f"{kind}-RULE", subject, [event]),
        kind=kind,
        rule_id=f"{kind}-RULE",  # type: ignore[arg-type]
        study_id="ChiCTR2600125907",
        subject_id=subject,
        study_day=14,
        ctcae_term="Infusion related reaction",
        grade=3,
        event_ids=[event],
        recipients=["pi", "ethics"] if kind in ("SAE", "SUSAR") else ["pi"],
        raised_at=RAISED,
        report_due_at=due,
        rules_version="test",
        basis={"serious": ["hospitalization"], "causality": "possible"},
    )


class Clock:
    """An injectable, advanceable clock."""

    def __init__(self, now: datetime = RAISED) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)
