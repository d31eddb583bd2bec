"""`safety audit export --from T --to T --out DIR`: the audit trail of a period as CSV and JSON.

Reads safety.audit (streams/web/audit.py) from its beginning with a group-less consumer (nothing is committed, the
trail is never changed), keeps the records whose ``at`` lies in ``[--from, --to)``, orders them by time, and writes
``audit.csv`` and ``audit.json`` under ``--out``. A CSV cell that a spreadsheet would read as a formula is prefixed
with an apostrophe (a login name or a target path an attacker chose must not run in the reviewer's spreadsheet).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from streams.settings import Settings
from streams.web.audit import FIELDS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def in_period(records: Iterable[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    kept = [r for r in records if isinstance(r.get("at"), str) and start <= _when(r["at"]) < end]
    return sorted(kept, key=lambda r: _when(r["at"]))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write(records: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    as_csv, as_json = out / "audit.csv", out / "audit.json"
    with as_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(FIELDS)
        writer.writerows([_cell(r.get(name)) for name in FIELDS] for r in records)
    as_json.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return as_csv, as_json


def read_topic(settings: Settings, timeout_ms: int = 2000) -> list[dict[str, Any]]:
    """Every record of safety.audit, from the beginning to the end offsets seen at the start."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(), enable_auto_commit=False, client_id="safety-audit"
    )
    try:
        topic = settings.topics.audit
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        records: list[dict[str, Any]] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms).values():
                for message in batch:
                    try:
                        entry = json.loads(message.value)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(entry, dict):
                        records.append(entry)
        return records
    finally:
        consumer.close()


@click.group("audit", short_help="the audit trail: sign-ins, token uses, acknowledgements")
def audit_command() -> None:
    """Read the audit trail of the worker's web surface (safety.audit)."""


@audit_command.command("export", help="Write the audit records of a period as audit.csv and audit.json.")
@click.option("--from", "start", required=True, help="first instant, ISO 8601 (UTC when no offset), inclusive")
@click.option("--to", "end", required=True, help="last instant, ISO 8601 (UTC when no offset), exclusive")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="directory for audit.csv and audit.json")
@click.option("--bootstrap", default=None, help="Kafka host:port (default: SAFETY_KAFKA_BOOTSTRAP)")
def export_command(start: str, end: str, out: Path, bootstrap: str | None) -> int:
    try:
        period = _when(start), _when(end)
    except ValueError:
        raise click.BadParameter("write --from and --to as ISO 8601, e.g. 2026-09-01T00:00:00Z") from None
    settings = Settings.load(kafka={"bootstrap": bootstrap} if bootstrap else {})
    records = in_period(read_topic(settings), *period)
    as_csv, as_json = write(records, out)
    click.echo(
        f"{len(records)} audit records from {period[0].isoformat()} to {period[1].isoformat()}: {as_csv}, {as_json}"
    )
    return 0
