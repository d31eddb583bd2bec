"""`safety ack ALERT_ID --who NAME --conclusion TEXT [--causality C] [--url URL] [--token T]
[--ethics-submitted]`.

Posts to the worker's acknowledgement endpoint (streams/web/acks.py) with a role token (``--token`` or
SAFETY_ACK_TOKEN). The worker records who, role, time and remote address and publishes the ack on safety.acks.
An unknown alert id, or a role the alert was not sent to, is refused with the worker's reason (exit 1).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import click

from safety.vocab import CAUSALITIES
from streams.settings import Settings

DEFAULT_URL = "http://127.0.0.1:6066"
"""The worker's web server on this machine (SAFETY_WEB_PORT's default), where `safety demo --serve` serves too."""


def _refusal(exc: urllib.error.HTTPError) -> str:
    """The worker's reason, said for a person: a 404 means the alert id is not one the worker knows."""
    raw = exc.read().decode("utf-8", "replace")[:300]
    try:
        detail = str(json.loads(raw).get("error", raw))
    except (ValueError, AttributeError):
        detail = raw
    if exc.code == 404:
        return f"not found (HTTP 404): {detail}"
    return f"refused (HTTP {exc.code}): {detail}"


@click.command(
    "ack",
    short_help="acknowledge an alert on the worker (PI, ethics, safety officer)",
    help="Acknowledge an alert, or mark its ethics committee report as submitted, on a running worker. The worker "
    "records who you are, your role (from your token), the time and your address, and publishes the "
    "acknowledgement on safety.acks.\n\nALERT_ID: the alert's id, as in alerts.jsonl or in the message you received.",
)
@click.argument("alert_id")
@click.option("--who", required=True, help="your name or staff code; it is recorded with the acknowledgement")
@click.option(
    "--conclusion",
    default=None,
    help="what you concluded about the alert (required unless you pass --ethics-submitted)",
)
@click.option(
    "--causality",
    type=click.Choice(CAUSALITIES),
    default=None,
    help="your assessment of whether the study treatment caused the event",
)
@click.option(
    "--ethics-submitted",
    is_flag=True,
    help="mark the alert's ethics committee report as submitted instead of acknowledging the alert",
)
@click.option("--reference", default=None, help="the reference of the ethics submission (with --ethics-submitted)")
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help=f"the worker's web address, as `safety demo --serve` prints it (default: {DEFAULT_URL}; set "
    "SAFETY_PUBLIC_URL to change it)",
)
@click.option(
    "--token",
    default=None,
    metavar="TOKEN",
    help="your role's token (default: SAFETY_ACK_TOKEN); `safety demo --serve` prints one in its page links",
)
def ack_command(
    alert_id: str,
    who: str,
    conclusion: str | None,
    causality: str | None,
    ethics_submitted: bool,
    reference: str | None,
    url: str | None,
    token: str | None,
) -> int:
    settings = Settings.load()
    url = url or settings.web.public_url or DEFAULT_URL
    token = token or (settings.auth.ack_token.get_secret_value() if settings.auth.ack_token else None)
    if not token:
        print("safety ack: no token; pass --token or set SAFETY_ACK_TOKEN to your role's token", file=sys.stderr)
        return 2
    if ethics_submitted:
        path, body = "ethics-submitted", {"who": who, "reference": reference}
    else:
        if not conclusion:
            print("safety ack: --conclusion is required (what you concluded about the alert)", file=sys.stderr)
            return 2
        path, body = "ack", {"who": who, "conclusion": conclusion, "causality": causality}
    request = urllib.request.Request(
        f"{url.rstrip('/')}/alerts/{alert_id}/{path}",
        method="POST",
        data=json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            reply = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        print(f"safety ack: {_refusal(exc)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"safety ack: cannot reach {url} ({exc}); is the worker running?", file=sys.stderr)
        return 1
    print(f"recorded {path} for {alert_id}: ack_id {reply.get('ack_id')} at {reply.get('at')}")
    return 0
