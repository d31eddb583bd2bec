"""`safety deliver --alerts FILE --outbox DIR [--config FILE] [--rules FILE]`: the replay/demo delivery path.

Delivers an alerts.jsonl file (from `safety replay`) through the same Dispatcher and apprise adapter as the
worker, with a file ledger (DIR/ledger.jsonl): a re-run sends only what is still pending, so nothing is sent
twice and nothing is lost. Without --config (or SAFETY_NOTIFY_CONFIG) messages go to the console and
DIR/outbox.jsonl.

It ends only when every (alert, recipient) delivery is final (delivered, or given up for a kind that may be),
running retries and escalations as they fall due, or after --wait seconds; the summary counts delivered,
failed and pending. Exit status 1 when anything failed or an SAE/SUSAR/DLT/STOPPING_BOUNDARY message is still
pending (a re-run resumes it from the ledger).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

import click

from safety.delivery.ledger import tally
from safety.model.outputs import Alert
from streams.notify.channels import load_notifier, required_study_tags
from streams.notify.recipients import Recipients
from streams.rulefiles import load_rulebook
from streams.settings import Settings, reveal
from streams.web.users import load_users
from streams.worker.delivery import Dispatcher, FileLedger, LinkMaker, utc_now


async def _run(
    alerts: Path, outbox: Path, config: Path | None, rules_path: Path | None, *, sweep: bool, wait: float
) -> int:
    updates: dict[str, object] = {"outbox_dir": outbox}
    if config is not None:
        updates["notify_config"] = config
    settings = Settings.load(delivery=updates)
    rules = load_rulebook(rules_path)
    protocol = rules.primary.protocol
    studies = [study.protocol for study in rules.studies.values()]
    notifier = load_notifier(settings.delivery, required_study_tags(studies), studies=list(rules.studies))
    store = FileLedger(outbox / "ledger.jsonl")
    links = LinkMaker(
        settings.web.public_url,
        reveal(settings.auth.link_secret),
        timedelta(hours=settings.auth.link_ttl_hours),
        utc_now,
        Recipients(notifier, load_users(settings.auth.users_file)),
    )
    dispatcher = Dispatcher(
        notifier,
        store,
        escalation=protocol.escalation,
        retry=settings.delivery.retry_policy(),
        time_zone=protocol.time_zone,
        links=links,
    )
    count = 0
    for number, line in enumerate(alerts.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            alert = Alert.model_validate_json(line)
        except ValueError as exc:
            print(
                f"safety deliver: {alerts}:{number}: not an alert ({str(exc).splitlines()[0]}); skipped",
                file=sys.stderr,
            )
            continue
        await dispatcher.on_alert(alert)
        count += 1
    deadline = time.monotonic() + wait
    owed_kinds = settings.delivery.retry_policy().owed_kinds
    while sweep:
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


@click.command(
    "deliver",
    short_help="deliver an alerts.jsonl file to the configured channels",
    help="Deliver the alerts of an alerts.jsonl file (written by `safety replay`) through the configured channels, "
    "as the worker does. A ledger in the outbox folder records each delivery, so a second run sends only what is "
    "still pending. Without a channel configuration, messages go to the console and OUTBOX/outbox.jsonl.",
)
@click.option("--alerts", type=click.Path(path_type=Path), required=True, help="the alerts.jsonl file to deliver")
@click.option(
    "--outbox",
    type=click.Path(path_type=Path),
    required=True,
    help="folder for the delivery ledger (ledger.jsonl) and the local outbox; created if missing",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    default=None,
    help="apprise YAML file of the channels (default: SAFETY_NOTIFY_CONFIG; start from deploy/apprise.example.yml)",
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    default=None,
    help="a study rules file or a directory of them, for recipients and escalation (default: every study "
    "in rules/studies)",
)
@click.option(
    "--no-sweep", is_flag=True, help="do not run the retries and escalations that are due once the alerts are delivered"
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=1200.0,
    show_default=False,
    help="seconds to keep retrying until every delivery is final (default 1200, the default retry window); "
    "a serious alert still owed after it makes the exit status 1",
)
def deliver_command(
    alerts: Path, outbox: Path, config: Path | None, rules: Path | None, no_sweep: bool, wait: float
) -> int:
    if not alerts.is_file():
        print(f"safety deliver: {alerts}: no such file; run `safety replay` first", file=sys.stderr)
        return 2
    return asyncio.run(_run(alerts, outbox, config, rules, sweep=not no_sweep, wait=wait))
