"""`safety deliver --alerts FILE --outbox DIR [--config FILE] [--rules FILE]`: the replay/demo delivery path.

Delivers an alerts.jsonl file (from `safety replay`) through the same Dispatcher and apprise adapter as the
worker, with a file ledger (DIR/ledger.jsonl): a re-run sends only what is still pending, so nothing is
sent twice
and nothing is lost. Without --config (or SAFETY_NOTIFY_CONFIG) messages go to the console and
DIR/outbox.jsonl.
Retries and escalations that are due are run once at the end (--sweep); no waiting happens here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from safety.alerts import Alert
from safety.errors import SafetyError
from safety.ruleset import load_ruleset
from streams.deliver import Dispatcher, FileLedger, LinkMaker, utc_now
from streams.delivery import DeliverySettings, load_notifier, required_tags


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="safety deliver",
        description="Deliver the alerts of an alerts.jsonl file (written by `safety replay`) through the configured "
        "channels, as the worker does. A ledger in the outbox folder records each delivery, so a second run sends "
        "only what is still pending. Without a channel configuration, messages go to the console and "
        "OUTBOX/outbox.jsonl.",
    )
    p.add_argument("--alerts", type=Path, required=True, help="the alerts.jsonl file to deliver")
    p.add_argument("--outbox", type=Path, required=True,
                   help="folder for the delivery ledger (ledger.jsonl) and the local outbox; created if missing")
    p.add_argument("--config", type=Path, default=None,
                   help="apprise YAML file of the channels (default: SAFETY_NOTIFY_CONFIG; start from "
                        "deploy/apprise.example.yml)")
    p.add_argument("--rules", type=Path, default=None,
                   help="study rules file, for recipients and escalation (default: the bundled study)")
    p.add_argument("--no-sweep", action="store_true",
                   help="do not run the retries and escalations that are due once the alerts are delivered")
    return p


async def _run(args: argparse.Namespace) -> int:
    settings = DeliverySettings()
    updates: dict[str, object] = {"outbox_dir": args.outbox}
    if args.config is not None:
        updates["notify_config"] = args.config
    settings = settings.model_copy(update=updates)
    rules = load_ruleset(args.rules)
    protocol = rules.protocol
    notifier = load_notifier(settings, required_tags(protocol))
    store = FileLedger(args.outbox / "ledger.jsonl")
    links = LinkMaker(
        settings.public_url, settings.link_secret, timedelta(hours=settings.link_ttl_hours), utc_now
    )
    dispatcher = Dispatcher(
        notifier,
        store,
        escalation=protocol.escalation,
        retry=settings.retry_policy(),
        time_zone=protocol.time_zone,
        links=links,
    )
    count = 0
    for number, line in enumerate(args.alerts.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            alert = Alert.model_validate_json(line)
        except ValueError as exc:
            print(
                f"safety deliver: {args.alerts}:{number}: not an alert ({str(exc).splitlines()[0]}); skipped",
                file=sys.stderr,
            )
            continue
        await dispatcher.on_alert(alert)
        count += 1
    if not args.no_sweep:
        await dispatcher.sweep()
    entries = list(store.entries())
    states = [d.state for e in entries for d in e.deliveries]
    print(
        f"safety deliver: {count} alert(s) read, {len(entries)} in the ledger; deliveries: "
        f"{states.count('delivered')} delivered, {states.count('pending')} pending retry, "
        f"{states.count('failed')} failed ({notifier.description}; ledger {store.path})",
        file=sys.stderr,
    )
    return 1 if states.count("failed") else 0


def deliver_main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.alerts.is_file():
        print(f"safety deliver: {args.alerts}: no such file; run `safety replay` first", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except SafetyError as exc:
        print(f"safety deliver: {exc}", file=sys.stderr)
        return 2
