"""`safety deliver --alerts FILE --outbox DIR [--config FILE] [--rules FILE]`: the replay/demo delivery path.

Delivers an alerts.jsonl file (from `safety replay`) through the same Dispatcher and apprise adapter as the
worker, with a file ledger (DIR/ledger.jsonl): a re-run sends only what is still pending, so nothing is
sent twice
and nothing is lost. Without --config (or SAFETY_NOTIFY_CONFIG) messages go to the console and
DIR/outbox.jsonl.
It ends only when every (alert, recipient) delivery is final (delivered, or given up for a kind that may be),
running retries and escalations as they fall due, or after --wait seconds; the summary counts delivered,
failed and pending. Exit status 1 when anything failed or an SAE/SUSAR/DLT/STOPPING_BOUNDARY message is still
pending (a re-run resumes it from the ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from safety.delivery.ledger import tally
from safety.errors import SafetyError
from safety.model.outputs import Alert
from safety.rules.ruleset import load_rulebook
from streams.notify.channels import DeliverySettings, load_notifier, required_study_tags
from streams.worker.delivery import Dispatcher, FileLedger, LinkMaker, utc_now


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
                   help="a study rules file or a directory of them, for recipients and escalation (default: every "
                        "study in rules/studies)")
    p.add_argument("--no-sweep", action="store_true",
                   help="do not run the retries and escalations that are due once the alerts are delivered")
    p.add_argument("--wait", type=float, default=1200.0,
                   help="seconds to keep retrying until every delivery is final (default 1200, the default retry "
                        "window); a serious alert still owed after it makes the exit status 1")
    return p


async def _run(args: argparse.Namespace) -> int:
    settings = DeliverySettings()
    updates: dict[str, object] = {"outbox_dir": args.outbox}
    if args.config is not None:
        updates["notify_config"] = args.config
    settings = settings.model_copy(update=updates)
    rules = load_rulebook(args.rules)
    protocol = rules.primary.protocol
    studies = [study.protocol for study in rules.studies.values()]
    notifier = load_notifier(settings, required_study_tags(studies), studies=list(rules.studies))
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
    deadline = time.monotonic() + max(0.0, args.wait)
    owed_kinds = settings.retry_policy().owed_kinds
    while not args.no_sweep:
        await dispatcher.sweep()
        if tally(store.entries(), owed_kinds).final or time.monotonic() >= deadline:
            break
        await asyncio.sleep(min(dispatcher.seconds_to_next_due(), max(0.0, deadline - time.monotonic()), 5.0))
    entries = list(store.entries())
    counts = tally(entries, owed_kinds)
    print(
        f"safety deliver: {count} alert(s) read, {len(entries)} in the ledger; deliveries: "
        f"{counts.delivered} delivered, {counts.failed} failed, {counts.pending} pending "
        f"({counts.owed} of an SAE, SUSAR, DLT or STOPPING_BOUNDARY) ({notifier.description}; ledger {store.path})",
        file=sys.stderr,
    )
    if counts.owed:
        print(
            f"safety deliver: {counts.owed} message(s) of serious alerts are not delivered yet; fix the channel "
            "and run the same command again (it resumes from the ledger and sends only what is owed)",
            file=sys.stderr,
        )
    return 1 if counts.failed or counts.owed else 0


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
