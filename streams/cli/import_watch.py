"""``safety import sdtm|odm --watch DIR``: each export that lands in DIR, imported exactly once (docs/sdtm.md,
"Watching a folder").

An export is ready when it is complete: a file once its name no longer ends in ``.part`` or ``.tmp`` and its size
and modification time did not change between two scans (``--once``: as it is), a folder once it holds a file named
``READY`` (the EDC's export job writes it last). Hidden entries and ``done/``, ``failed/`` are not exports.

Each ready export is imported (its events appended to ``--out``, or sent with ``--produce``), recorded in
``DIR/.imported.jsonl`` by the SHA-256 of its content, then moved to ``DIR/done/`` with ``<name>.report.json`` beside
it. An export the import refuses (unreadable, not a dataset) goes to ``DIR/failed/`` with the reason in its report,
and the ledger is untouched. A restart after a crash finds the export still in DIR: if the journal holds its digest
it is only moved, else it is imported again, which the import ledger makes emit nothing already emitted. Any other
error (the broker not answering) stops the command with the export left in place, to be retried.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from safety.errors import SafetyError
from safety.rules.ruleset import RuleSet
from streams.cli.import_files import Imported, Send, beside, echo_summary, recorded_at_option
from streams.rulefiles import load_rulebook

READY = "READY"
PARTIAL_SUFFIXES = frozenset({".part", ".tmp"})
JOURNAL = ".imported.jsonl"
POLL_SECONDS = 10.0
ImportOne = Callable[[list[Path], bool], Imported]
"""Imports the export at these paths; True: append to --out (watching) rather than replace it."""
F = TypeVar("F", bound=Callable[..., Any])


def import_options(kind: str) -> Callable[[F], F]:
    """The options every EDC-export import shares: --study, --out, --state (default ``<kind>-<study>.ledger.json``
    beside --out), --rules, --recorded-at, --watch, --once and --produce; applied after the command's own."""
    shared = [
        click.option(
            "--study", "study_id", required=True, help="the study the export belongs to (rules/studies/<ID>.yaml)"
        ),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help="JSON-lines file of the events this import emits (new or changed records only)",
        ),
        click.option(
            "--state",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=f"the import ledger (default: {kind}-<study>.ledger.json beside --out)",
        ),
        click.option(
            "--rules",
            type=click.Path(exists=True, path_type=Path),
            default=None,
            help="a study rules file or directory (default: rules/studies)",
        ),
        click.option(
            "--recorded-at",
            callback=recorded_at_option,
            default=None,
            help="when the export was taken (ISO 8601): recorded_at of every emitted event; it starts the "
            "reporting clocks (without it they start at occurred_at)",
        ),
        click.option(
            "--watch",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            help="a folder the EDC exports into: import each export once, move it to done/ or failed/ with a report",
        ),
        click.option("--once", is_flag=True, help="with --watch: import the exports that are there, then exit"),
        click.option(
            "--produce",
            is_flag=True,
            help="also send the emitted events to the stream's input topic (KAFKA_BOOTSTRAP); the "
            "ledger records them only once the broker acknowledged them",
        ),
    ]

    def apply(command: F) -> F:
        for option in reversed(shared):
            command = option(command)
        return command

    return apply


def study_rules(rules: Path | None, study_id: str) -> RuleSet:
    study = load_rulebook(rules).get(study_id)
    if study is None:
        raise SafetyError(
            f"--study {study_id}: no rules for this study; add rules/studies/{study_id}.yaml or pass --rules"
        )
    return study


def stream_sender() -> Send:
    """Sends to the stream's input topic through the producer of `safety produce` (streams/admin.py)."""
    from streams.admin import produce_lines
    from streams.settings import Settings

    settings = Settings()

    def send(lines: list[bytes]) -> None:
        produce_lines(settings, lines)  # flushes, then raises if any record was not acknowledged

    return send


def run_imports(sources: list[Path], watch: Path | None, once: bool, out: Path, one: ImportOne) -> None:
    if watch is None:
        if not sources:
            raise click.UsageError("give the export (a directory or files), or --watch DIR")
        if once:
            raise click.UsageError("--once goes with --watch DIR")
        try:
            imported = one(sources, False)
        except SafetyError as exc:
            raise click.ClickException(str(exc)) from exc
        report = beside(out, ".report.json")
        report.write_text(json.dumps(imported.report, indent=1) + "\n", encoding="utf-8")
        echo_summary(imported, out, report)
        return
    if sources:
        raise click.UsageError("--watch DIR takes the exports from DIR; give no files")
    watcher = Watcher(watch, out, one)
    while True:
        watcher.scan(settle=not once)
        if once:
            return
        time.sleep(POLL_SECONDS)


def _digest(export: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in export.rglob("*") if p.is_file()) if export.is_dir() else [export]
    for path in files:
        if export.is_dir():  # a file is its content whatever its name; a folder also its layout
            digest.update(str(path.relative_to(export)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _free(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name-2``, ``name-3``... when an earlier export of that name is there."""
    folder.mkdir(exist_ok=True)
    target, number = folder / name, 1
    while target.exists() or target.with_name(target.name + ".report.json").exists():
        number += 1
        stem, dot, suffix = name.partition(".")
        target = folder / f"{stem}-{number}{dot}{suffix}"
    return target


class Watcher:
    def __init__(self, folder: Path, out: Path, one: ImportOne) -> None:
        self.folder, self.out, self.one = folder, out, one
        self.journal = folder / JOURNAL
        self.sizes: dict[str, tuple[int, int]] = {}  # file -> (size, mtime) at the previous scan

    def _done(self) -> set[str]:
        if not self.journal.exists():
            return set()
        return {json.loads(line)["sha256"] for line in self.journal.read_text(encoding="utf-8").splitlines() if line}

    def ready(self, settle: bool) -> Iterator[Path]:
        for entry in sorted(self.folder.iterdir()):
            if entry.name.startswith(".") or entry.name in ("done", "failed"):
                continue
            if entry.is_dir():
                if (entry / READY).is_file():
                    yield entry
                continue
            if entry.suffix in PARTIAL_SUFFIXES:
                continue
            stat = entry.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            if not settle or self.sizes.get(entry.name) == signature:
                self.sizes.pop(entry.name, None)
                yield entry
            else:
                self.sizes[entry.name] = signature

    def scan(self, settle: bool) -> None:
        for export in list(self.ready(settle)):
            self.take(export)

    def take(self, export: Path) -> None:
        digest = _digest(export)
        if digest in self._done():  # imported before a crash kept it from moving
            target = _free(self.folder / "done", export.name)
            shutil.move(export, target)
            click.echo(f"{export.name}: imported before (same content) -> {target}")
            return
        try:
            imported = self.one([export], True)
        except SafetyError as exc:
            target = _free(self.folder / "failed", export.name)
            shutil.move(export, target)
            target.with_name(target.name + ".report.json").write_text(
                json.dumps({"export": export.name, "error": str(exc)}, indent=1) + "\n", encoding="utf-8"
            )
            click.echo(f"{export.name}: failed, nothing imported ({exc}) -> {target}", err=True)
            return
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"export": export.name, "sha256": digest}) + "\n")
        target = _free(self.folder / "done", export.name)
        shutil.move(export, target)
        report = target.with_name(target.name + ".report.json")
        report.write_text(json.dumps({"export": export.name, **imported.report}, indent=1) + "\n", encoding="utf-8")
        echo_summary(imported, self.out, report)
