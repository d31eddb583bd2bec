"""`safety ack ALERT_ID --who NAME --conclusion TEXT [--causality C] [--url URL] [--token T]
[--ethics-submitted]`.

Posts to the worker's acknowledgement endpoint (streams/web/acks.py) with a role token (``--token`` or
SAFETY_ACK_TOKEN). The worker records who, role, time and remote address and publishes the ack on safety.acks.
An unknown alert id, or a role the alert was not sent to, is refused with the worker's reason (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

CAUSALITY = ("related", "probable", "possible", "unlikely", "unrelated", "unassessable")


DEFAULT_URL = "http://127.0.0.1:6066"
"""The worker's web server on this machine (SAFETY_WEB_PORT's default), where `safety demo --serve` serves too."""


def _parser() -> argparse.ArgumentParser:
    url = os.environ.get("SAFETY_PUBLIC_URL") or DEFAULT_URL
    p = argparse.ArgumentParser(
        prog="safety ack",
        description="Acknowledge an alert, or mark its ethics committee report as submitted, on a running worker. "
        "The worker records who you are, your role (from your token), the time and your address, and publishes "
        "the acknowledgement on safety.acks.",
    )
    p.add_argument("alert_id", help="the alert's id, as in alerts.jsonl or in the message you received")
    p.add_argument("--who", required=True, help="your name or staff code; it is recorded with the acknowledgement")
    p.add_argument("--conclusion", default=None,
                   help="what you concluded about the alert (required unless you pass --ethics-submitted)")
    p.add_argument("--causality", choices=CAUSALITY, default=None,
                   help="your assessment of whether the study treatment caused the event")
    p.add_argument(
        "--ethics-submitted", action="store_true",
        help="mark the alert's ethics committee report as submitted instead of acknowledging the alert",
    )
    p.add_argument("--reference", default=None,
                   help="the reference of the ethics submission (with --ethics-submitted)")
    p.add_argument("--url", default=url,
                   help=f"the worker's web address, as `safety demo --serve` prints it (default: {url}; set "
                        "SAFETY_PUBLIC_URL to change it)")
    p.add_argument("--token", default=os.environ.get("SAFETY_ACK_TOKEN"),
                   help="your role's token (default: SAFETY_ACK_TOKEN); `safety demo --serve` prints one in its "
                        "page links")
    return p


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


def ack_main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.token:
        print(
            "safety ack: no token; pass --token or set SAFETY_ACK_TOKEN to your role's token", file=sys.stderr
        )
        return 2
    if args.ethics_submitted:
        path, body = "ethics-submitted", {"who": args.who, "reference": args.reference}
    else:
        if not args.conclusion:
            print(
                "safety ack: --conclusion is required (what you concluded about the alert)", file=sys.stderr
            )
            return 2
        path, body = "ack", {"who": args.who, "conclusion": args.conclusion, "causality": args.causality}
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/alerts/{args.alert_id}/{path}",
        method="POST",
        data=json.dumps({k: v for k, v in body.items() if v is not None}).encode(),
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            reply = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        print(f"safety ack: {_refusal(exc)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"safety ack: cannot reach {args.url} ({exc}); is the worker running?", file=sys.stderr)
        return 1
    print(f"recorded {path} for {args.alert_id}: ack_id {reply.get('ack_id')} at {reply.get('at')}")
    return 0
