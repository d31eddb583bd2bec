"""Apprise adapter: one channel per configured URL and recipient tag, each delivered and judged separately.

Why it looks like this (what apprise 2.3 did when it was measured; README, "Alert delivery"):
* apprise 2.x returns an ``AppriseResult`` per service, but granularity is per URL, so each URL is its own
  channel (one URL per recipient) and is sent on its own: one failing target never blocks or hides another.
* ``async_notify`` keeps the event loop free (a plain ``notify`` blocks it for the whole send); connect/read
  timeouts are capped by our own settings (``cto``/``rto``; e-mail uses the connect timeout for every socket
  operation), so a dead SMTP server costs seconds, not the 60 s service limit.
* apprise skips a bad config entry with only an ERROR log line: a silently dropped PI is the failure to prevent,
  so loading refuses to start on any such error and on any protocol recipient tag without a URL.
* WeCom group bots and DingTalk robots answer HTTP 200 with ``errcode != 0`` on rejection and apprise calls that
  a success. Those two schemes are posted here with aiohttp, and only ``errcode == 0`` counts.
* With no configuration, a local sink (console + JSONL outbox) stands in for every tag, and says so.
* Several studies, one deployment (docs/rules.md, "Several studies": the PI of one study never receives another
  study's alerts): a URL tagged ``<study_id>:<role>`` (``ChiCTR2600125907:pi``) receives only that study's alerts
  for that role; a URL tagged with a bare role (``pi``) serves every study that has no URL of its own for that
  role. With more than one study, bare ``pi`` and ``ethics`` tags are refused at start-up (they would reach every
  study's PI or committee alerts); a bare ``safety_officer`` stays the deployment's safety officer. A tag naming a
  study the deployment does not know is refused too (a typo would leave the real study's PI without a URL).
* Each channel has a ``route``: the server it depends on (SMTP host and port, webhook host and port, or the
  chat service), hashed. Channels of one SMTP server share an outage, so a DELIVERY_FAILED notice goes over
  another route (safety.delivery.ledger.notice_targets); give the safety officer a second, independent channel.
* Every send carries the delivery id (streams.worker.delivery.delivery_id) as ``X-Safety-Delivery-Id`` where the scheme
  has headers (e-mail, json/form/xml webhooks): a re-send after a crash carries the same id.
* apprise's SMTP controller builds a new ``ssl.create_default_context()`` for every e-mail, with or without TLS:
  loading the system's CA certificates took 60-200 ms of CPU per message, most of an alert's way to an inbox
  (bench/stream_bench.py). ``share_smtp_tls_context`` hands it a stand-in whose ``wrap_socket`` (all smtplib calls)
  uses one context per process and kind of verification; a ``verify=no`` URL never weakens another URL's checks.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import ssl
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from safety.delivery.ledger import Target
from safety.delivery.messages import Message
from safety.errors import DeliveryConfigError
from safety.rules.protocol import Protocol as StudyProtocol
from safety.vocab import ROLES
from streams.notify.config import check_addresses, check_roles, dropped_target
from streams.settings import DeliverySettings

log = logging.getLogger(__name__)

PER_STUDY_ROLES = ("pi", "ethics")  # must be tagged <study_id>:<role> when a deployment has several studies
VERIFIED_SCHEMES = ("wecombot", "dingtalk")
# Self-hosted relays and gateways have no per-second limit; chat bots keep apprise's throttle (5.5 s between two
# sends of one Apprise object).
UNTHROTTLED_SCHEMES = ("mailto", "mailtos", "json", "jsons", "form", "forms", "xml", "xmls")
# Schemes whose server is the URL's own host:port (anything else goes through its provider's one API).
SELF_HOSTED_SCHEMES = UNTHROTTLED_SCHEMES
DELIVERY_ID_HEADER = "X-Safety-Delivery-Id"


@dataclass(frozen=True)
class SendResult:
    delivered: bool
    error: str | None = None


class Channel(Protocol):
    target: Target

    async def send(self, message: Message, *, message_id: str | None = None) -> SendResult: ...


def channel_id(tag: str, scheme: str, url: str) -> str:
    """Stable id of one URL for one tag: survives restarts, reveals no secret."""
    return f"{tag}:{scheme}:{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def route_id(scheme: str, service: Any) -> str:
    """The server a URL depends on, hashed (no host name or token in the ledger): an SMTP or webhook server's
    host and port, or the provider of a chat/SMS service (one API behind every bot of that scheme)."""
    if scheme not in SELF_HOSTED_SCHEMES:
        return scheme
    family = scheme[:-1] if scheme.endswith("s") else scheme  # mailtos and mailto reach the same servers
    host = getattr(service, "smtp_host", None) or getattr(service, "host", None) or ""
    port = getattr(service, "port", None) or ""
    return f"{family}:{hashlib.sha256(f'{host}:{port}'.encode()).hexdigest()[:10]}"


def required_tags(protocol: StudyProtocol) -> set[str]:
    """Every tag some alert kind (or an escalation) is sent to, plus the safety officer (DELIVERY_FAILED)."""
    tags = {tag for recipients in protocol.recipients.values() for tag in recipients}
    return tags | set(protocol.escalation.resend_to) | {"safety_officer"}


def study_tag(study_id: str, role: str) -> str:
    """The recipient tag of ``role`` for one study (apprise stores tags lower-cased, so this is too)."""
    return f"{study_id.lower()}:{role}"


def parse_tag(tag: str) -> tuple[str | None, str] | None:
    """``pi`` -> (None, "pi"); ``<study_id>:pi`` -> (study id lower-cased, "pi"); not a recipient tag -> None."""
    study, _, role = str(tag).lower().rpartition(":")
    if role not in ROLES:
        return None
    return (study or None), role


def required_study_tags(protocols: Collection[StudyProtocol]) -> set[str]:
    """The tags a deployment of these studies needs: the bare roles of a single study (as before there were
    several), else ``<study_id>:<role>`` for each study's roles (the deployment's safety officer may be bare)."""
    if len(protocols) == 1:
        return required_tags(next(iter(protocols)))
    return {study_tag(p.study_id, role) for p in protocols for role in required_tags(p)}


def _scheme(service: Any) -> str:
    """The URL scheme as configured (mailto, mailtos, wecombot, json...): the ``channel`` metric label."""
    return str(service.url(privacy=True).split("://", 1)[0]).lower()


@functools.cache
def shared_tls_context(check_hostname: bool, verify_mode: ssl.VerifyMode) -> ssl.SSLContext:
    """The process's TLS client context of one kind of verification (the CA certificates are loaded once)."""
    context = ssl.create_default_context()
    context.check_hostname = check_hostname
    context.verify_mode = verify_mode
    return context


class DeferredTlsContext:
    """What apprise's SMTP controller gets for ``ssl.create_default_context()``: it may turn verification off on
    it; smtplib only calls ``wrap_socket`` (SMTP_SSL, starttls), which uses the shared context of that kind."""

    def __init__(self) -> None:
        self.check_hostname = True
        self.verify_mode = ssl.CERT_REQUIRED

    def wrap_socket(self, sock: Any, **kwargs: Any) -> ssl.SSLSocket:
        return shared_tls_context(self.check_hostname, self.verify_mode).wrap_socket(sock, **kwargs)


class SmtpSsl:
    """Stands in for the ``ssl`` module inside apprise.plugins.email.smtp: ssl itself, but for
    ``create_default_context``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    def create_default_context() -> DeferredTlsContext:
        return DeferredTlsContext()


def share_smtp_tls_context() -> None:
    """Give apprise's SMTP controller the shared contexts (module docstring); a later apprise that no longer
    uses ``ssl.create_default_context`` there is left as it is."""
    from apprise.plugins.email import smtp

    if getattr(smtp, "ssl", None) is ssl:
        smtp.ssl = SmtpSsl()  # type: ignore[attr-defined,assignment]


@dataclass
class AppriseChannel:
    """One apprise service, sent through its own one-service Apprise object (a result per URL)."""

    target: Target
    service: Any

    async def send(self, message: Message, *, message_id: str | None = None) -> SendResult:
        import apprise

        fmt = self.service.notify_format
        html = (fmt[0] if isinstance(fmt, tuple) else fmt) == apprise.NotifyFormat.HTML
        service = self.service
        if message_id is not None and isinstance(getattr(service, "headers", None), dict):
            service = copy.copy(service)  # channels can share a service: headers per send, not on the original
            service.headers = {**self.service.headers, DELIVERY_ID_HEADER: message_id}
        one = apprise.Apprise()
        one.add(service)
        result = await one.async_notify(
            body=message.html if html else message.text,
            title=message.title,
            body_format=apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT,
        )
        if result.status == apprise.AppriseResultStatus.SUCCESS:
            return SendResult(True)
        errors = [e.message for r in result for e in r.logs()] or [str(result.status.name)]
        return SendResult(False, f"{result.status.name}: {'; '.join(errors)[:400]}")


@dataclass
class VerifiedWebhookChannel:
    """WeCom group bot / DingTalk robot posted by us: HTTP 200 is not enough, ``errcode`` must be 0."""

    target: Target
    service: Any
    connect_timeout: float
    read_timeout: float
    endpoint: str | None = None  # test seam: e.g. "http://127.0.0.1:8080/wecom?key={key}"

    def _request(self, message: Message) -> tuple[str, dict[str, Any]]:
        scheme = self.target.scheme
        content = f"{message.title}\n{message.text}"
        if scheme == "wecombot":
            url = (self.endpoint or "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}").format(
                key=self.service.key
            )
            # WeCom bot text limit is 2048 bytes-ish; the short form carries the essentials first.
            return url, {"msgtype": "text", "text": {"content": content[:2000]}}
        url = (self.endpoint or self.service.notify_url).format(token=self.service.token)
        if self.service.secret:
            timestamp, sign = self.service.get_signature()
            url += f"&timestamp={timestamp}&sign={sign}"
        return url, {
            "msgtype": "text",
            "text": {"content": content},
            "at": {"atMobiles": list(self.service.targets or []), "isAtAll": False},
        }

    async def send(self, message: Message, *, message_id: str | None = None) -> SendResult:
        """Post the message (WeCom and DingTalk bots take no idempotency key, so ``message_id`` is unused)."""
        import aiohttp

        url, payload = self._request(message)
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.connect_timeout,
            sock_read=self.read_timeout,
            total=self.connect_timeout + self.read_timeout,
        )
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(url, json=payload) as response:
                    text = await response.text()
                    if response.status != 200:
                        return SendResult(False, f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc}"[:400])
        try:
            reply = json.loads(text)
        except ValueError:
            return SendResult(False, "HTTP 200 but the reply is not JSON; cannot confirm delivery")
        errcode = reply.get("errcode") if isinstance(reply, dict) else None
        if errcode == 0:
            return SendResult(True)
        errmsg = str(reply.get("errmsg", ""))[:200] if isinstance(reply, dict) else ""
        return SendResult(False, f"HTTP 200 with errcode {errcode!r} {errmsg}".strip())


@dataclass
class LocalSinkChannel:
    """No configuration: print each message and append it to ``outbox.jsonl`` (the demo's delivery)."""

    target: Target
    outbox: Path
    console: TextIO | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def send(self, message: Message, *, message_id: str | None = None) -> SendResult:
        record = {
            "at": self.clock().isoformat(),
            "channel": self.target.channel,
            "recipient": self.target.recipient,
            "delivery_id": message_id,
            "title": message.title,
            "short": message.short,
            "text": message.text,
        }
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with self.outbox.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        out = self.console if self.console is not None else sys.stdout
        print(f"--- to {self.target.recipient} (local sink) ---\n{message.title}\n{message.text}\n", file=out)
        return SendResult(True)


@dataclass
class Notifier:
    """The configured channels; ``targets_for(study)`` is what the ledger sees, ``channel(id)`` what sends.

    ``scopes`` maps a channel id to the study its tag names (lower-cased), absent for a bare role tag.
    """

    channels: list[Channel]
    description: str
    scopes: dict[str, str] = field(default_factory=dict)

    def targets(self) -> list[Target]:
        return [c.target for c in self.channels]

    def targets_for(self, study_id: str) -> list[Target]:
        """The channels an alert of ``study_id`` goes to: per role, the URLs tagged for this study, else the URLs
        tagged with the bare role; never a URL tagged for another study (module docstring)."""
        study = study_id.lower()
        own = {c.target.recipient for c in self.channels if self.scopes.get(c.target.channel) == study}
        return [
            c.target
            for c in self.channels
            if self.scopes.get(c.target.channel) == study
            or (c.target.channel not in self.scopes and c.target.recipient not in own)
        ]

    def channel(self, channel_id: str) -> Channel | None:
        return next((c for c in self.channels if c.target.channel == channel_id), None)

    def tags(self) -> set[str]:
        return {self.tag(c.target) for c in self.channels}

    def tag(self, target: Target) -> str:
        scope = self.scopes.get(target.channel)
        return target.recipient if scope is None else f"{scope}:{target.recipient}"


def check_tags(notifier: Notifier, needed: Iterable[str], source: str, studies: Collection[str] = ()) -> None:
    """Refuse to start when a needed tag has no URL, or when a tag could misroute between ``studies``."""
    known = {study.lower() for study in studies}
    misrouting = sorted(
        {
            notifier.tag(c.target)
            for c in notifier.channels
            if (known and notifier.scopes.get(c.target.channel, "") not in known | {""})
            or (len(known) > 1 and c.target.channel not in notifier.scopes and c.target.recipient in PER_STUDY_ROLES)
        }
    )
    if misrouting:
        raise DeliveryConfigError(
            f"{source}: tag(s) {', '.join(repr(t) for t in misrouting)} would misroute alerts: this deployment has "
            f"the studies {', '.join(sorted(studies))}; tag each URL '<study_id>:pi' or '<study_id>:ethics' with "
            "a study it knows, so the PI of one study never receives another study's alerts (a bare "
            "'safety_officer' is allowed: the deployment's safety officer)"
        )
    missing = sorted(
        tag
        for tag in set(needed)
        if (parsed := parse_tag(tag)) is not None
        and not any(
            t.recipient == parsed[1]
            for t in (notifier.targets() if parsed[0] is None else notifier.targets_for(parsed[0]))
        )
    )
    if missing:
        raise DeliveryConfigError(
            f"{source}: no URL is tagged {', '.join(repr(m) for m in missing)}, "
            "but the protocol sends alerts to "
            f"{'it' if len(missing) == 1 else 'them'}; add a URL with 'tag: {missing[0]}' (see "
            "deploy/apprise.example.yml) or fix the entry apprise skipped"
        )


def load_apprise_channels(
    path: Path, settings: DeliverySettings, endpoints: dict[str, str] | None = None
) -> list[Channel]:
    """Load an apprise config file; any entry apprise could not load is an error, not a log line."""
    import apprise

    if not Path(path).is_file():
        raise DeliveryConfigError(f"SAFETY_NOTIFY_CONFIG={path}: file not found; point it at an apprise YAML file")
    check_addresses(path)
    share_smtp_tls_context()
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        config = apprise.AppriseConfig()
        if not config.add(str(path)):
            raise DeliveryConfigError(f"{path}: apprise could not read this configuration file")
        bundle = apprise.Apprise()
        bundle.add(config)
        services = list(bundle.find(tag="all", resolve=True))  # ${VAR} templates resolved now, from the env
    lines = captured.getvalue().splitlines()
    problems = [line for line in lines if " - ERROR - " in line or " - CRITICAL - " in line]
    if problems:
        first = problems[0].split(" - ", 2)[-1]
        raise DeliveryConfigError(
            f"{path}: apprise skipped an entry ({first[:300]}); fix it, a skipped entry can be a recipient "
            "who silently gets nothing"
        )
    dropped = dropped_target(path, lines)
    if dropped:
        raise DeliveryConfigError(dropped)
    check_roles(path, services)
    channels: list[Channel] = []
    for service in services:
        tags = sorted(str(t) for t in service.tags if parse_tag(str(t)) is not None)
        scheme = _scheme(service)
        if not tags:
            log.warning(
                "%s: a %s URL has no recipient tag (pi, ethics, safety_officer, or <study_id>:<role>); it is "
                "never used",
                path,
                scheme,
            )
            continue
        service.socket_connect_timeout = min(float(service.socket_connect_timeout), settings.connect_timeout)
        service.socket_read_timeout = min(float(service.socket_read_timeout), settings.read_timeout)
        if scheme in UNTHROTTLED_SCHEMES:
            service.request_rate_per_sec = 0
        url = service.url(privacy=False)  # type: ignore[no-untyped-call]
        for tag in tags:
            _, role = parse_tag(tag) or (None, tag)
            target = Target(
                channel=channel_id(tag, scheme, url), recipient=role, scheme=scheme, route=route_id(scheme, service)
            )
            if scheme in VERIFIED_SCHEMES:
                channels.append(
                    VerifiedWebhookChannel(
                        target,
                        service,
                        settings.connect_timeout,
                        settings.read_timeout,
                        (endpoints or {}).get(scheme),
                    )
                )
            else:
                channels.append(AppriseChannel(target, service))
    return channels


def _scopes(channels: Iterable[Channel]) -> dict[str, str]:
    """Channel id -> the study its tag names, for the channels tagged ``<study_id>:<role>``.

    A channel id starts with its tag and the tag ends with the target's role (``channel_id``, the local sink's
    ``<tag>:local``): ``pi:mailto:…`` is bare, ``chictr2600125907:pi:mailto:…`` is scoped to that study.
    """
    scopes: dict[str, str] = {}
    for channel in channels:
        tag = channel.target.channel.split(":" + channel.target.recipient + ":", 1)[0]
        if tag != channel.target.channel:
            scopes[channel.target.channel] = tag.lower()
    return scopes


def load_notifier(
    settings: DeliverySettings,
    needed_tags: Iterable[str],
    *,
    studies: Collection[str] = (),
    endpoints: dict[str, str] | None = None,
    console: TextIO | None = None,
    announce: Callable[[str], None] | None = None,
) -> Notifier:
    """The notifier the worker and ``safety deliver`` use; refuses to start when a needed tag has no URL.

    ``needed_tags`` are bare roles or ``<study_id>:<role>`` tags (``required_study_tags``); ``studies`` are the
    deployment's study ids, against which tags are checked for misrouting (module docstring).
    """
    needed = sorted(set(needed_tags))
    say = announce or (lambda text: print(text, file=sys.stderr))
    if settings.notify_config is None:
        outbox = settings.outbox_dir / "outbox.jsonl"
        channels: list[Channel] = [
            LocalSinkChannel(
                Target(channel=f"{tag}:local", recipient=role, scheme="local", route="local"), outbox, console
            )
            for tag in needed
            for _, role in [parse_tag(tag) or (None, tag)]
        ]
        notifier = Notifier(channels, f"local sink (console + {outbox})", _scopes(channels))
        say(
            f"delivery: SAFETY_NOTIFY_CONFIG is not set, so alerts go to the console and {outbox} only; "
            "set it to an apprise YAML file (deploy/apprise.example.yml) to reach people"
        )
        return notifier
    channels = load_apprise_channels(settings.notify_config, settings, endpoints)
    notifier = Notifier(channels, f"apprise config {settings.notify_config}", _scopes(channels))
    check_tags(notifier, needed, f"SAFETY_NOTIFY_CONFIG={settings.notify_config}", studies)
    officer_routes = {c.target.via for c in channels if c.target.recipient == "safety_officer"}
    if len(officer_routes) == 1:
        say(
            f"delivery: warning: every safety_officer channel in {settings.notify_config} goes through one "
            f"server ({next(iter(officer_routes))}); when it is down, "
            "nobody is told that messages are not going out; add a safety_officer URL on another server "
            "(an SMS gateway, WeCom, a webhook)"
        )
    counts = {tag: sum(1 for c in channels if notifier.tag(c.target) == tag) for tag in sorted(notifier.tags())}
    say(
        f"delivery: {len(channels)} channel(s) from {settings.notify_config}: "
        + ", ".join(f"{tag}={n}" for tag, n in counts.items())
    )
    return notifier
