"""What every EDC-export import writes (``safety import sdtm|odm``), in the order that loses nothing on a crash.

Beside ``--out``: ``<out>.rejects.jsonl`` (every record that gave no event, and why) and ``<out>.report.json``
(counts, and the event ids of records missing from this export). The emitted events are written (and, with
``--produce``, sent to the stream and acknowledged) BEFORE the import ledger records them: a crash in between
re-emits them at the next import, a harmless duplicate for the stream, where the opposite order would lose them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from streams.feeds.import_ledger import Changes, ImportLedger
from streams.feeds.sdtm import Mapped

Send = Callable[[list[bytes]], None]
"""Publishes event lines and returns once the broker acknowledged every one (raises otherwise)."""
_LINE = json.JSONEncoder(ensure_ascii=False)


def beside(out: Path, suffix: str) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def recorded_at_option(_context: click.Context, _parameter: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time such as 2026-08-05T09:00:00+08:00") from exc
    return value


@dataclass
class Imported:
    kind: str
    report: dict[str, Any]
    changes: Changes


def write_import(
    kind: str,
    study_id: str,
    sources: list[str],
    mapped: Mapped,
    listed: list[dict[str, Any]],
    out: Path,
    ledger: ImportLedger,
    ledger_path: Path,
    recorded_at: str | None,
    send: Send | None = None,
    append: bool = False,
) -> Imported:
    """Compare with the ledger (as loaded from ``ledger_path`` before the mapping), write events, rejects and
    report, send, then save the ledger (last)."""
    changes = ledger.apply(mapped.events, mapped.digests, recorded_at)
    lines = [_LINE.encode(event) for event in changes.emitted]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a" if append else "w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
    with beside(out, ".rejects.jsonl").open("a" if append else "w", encoding="utf-8") as handle:
        handle.writelines(_LINE.encode(item) + "\n" for item in listed)
    rejected = sum(item["kind"] == "rejected" for item in listed)
    report = {
        "study_id": study_id,
        "files": sources,
        "events": len(mapped.events),
        "new": changes.new,
        "changed": changes.changed,
        "unchanged": changes.unchanged,
        "rejected": rejected,
        "not_mapped": len(listed) - rejected,
        "ignored": dict(sorted(mapped.ignored.items())),
        "missing": changes.missing,
    }
    if send is not None and lines:
        send([line.encode() for line in lines])
        report["produced"] = len(lines)
    if not ledger.stored:
        ledger.save(ledger_path)  # last: a failure above leaves the ledger as it was, so the next import redoes it
    return Imported(kind, report, changes)


def echo_summary(imported: Imported, out: Path, report_path: Path) -> None:
    report, changes = imported.report, imported.changes
    click.echo(
        f"{imported.kind} {report['study_id']}: {len(report['files'])} files, {report['events']} events: "
        f"{changes.new} new, {changes.changed} changed (higher revision), {changes.unchanged} unchanged "
        f"-> {out}"
    )
    click.echo(
        f"  {report['rejected']} records rejected, {report['not_mapped']} not mapped -> {beside(out, '.rejects.jsonl')}"
    )
    if changes.missing:
        click.echo(
            f"  {len(changes.missing)} records of earlier imports are missing from this export "
            f"(listed in {report_path}):"
        )
        for event_id in changes.missing:
            click.echo(f"    {event_id}")
