"""`safety replay EVENTS.jsonl --out DIR [--rules FILE|DIR]`: file I/O around safety.replay (contract: Replay).

``--rules`` is a study rules file (a deployment of that one study) or a directory of them; the default is every
study of rules/studies, so a file mixing studies evaluates each event under its own study's rules and rejects an
event of an unknown study (rejected.jsonl).
"""

from __future__ import annotations

import gc
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from safety.errors import SafetyError
from safety.model.outputs import GradedObservation, graded_json
from safety.replay import LineOutputs, replay_lines
from safety.rules.ruleset import RuleBook, load_rulebook

PROGRESS_MIN_BYTES = 5_000_000
WRITE_BUFFER = 1 << 20  # the large files get one write call per MB instead of per 8 KB


class _Tally:
    """Counts for the summary line; graded rows are counted per grade value and named only at the end."""

    __slots__ = ("events", "duplicates", "rejected", "graded", "grades", "kinds")

    def __init__(self) -> None:
        self.events = 0
        self.duplicates = 0
        self.rejected = 0
        self.graded = 0
        self.grades: dict[int | None, int] = {}
        self.kinds: Counter[str] = Counter()

    def count_graded(self, rows: list[GradedObservation]) -> None:
        self.graded += len(rows)
        grades = self.grades
        for row in rows:
            grade = row.grade
            grades[grade] = grades.get(grade, 0) + 1

    def grade_names(self) -> Counter[str]:
        return Counter({"null" if grade is None else str(grade): n for grade, n in self.grades.items()})


def _is_duplicate(outputs: LineOutputs) -> bool:
    """A line not accepted and not rejected as invalid: an event seen before (a conflicting one is also in
    rejected.jsonl, kind ``conflicting_duplicate``)."""
    return not any(rejection.kind == "invalid" for rejection in outputs.rejections)


def _line_bytes(raw: bytes | str) -> bytes:
    """The accepted input line as written to events.jsonl: as read, newline-terminated."""
    data = raw if isinstance(raw, bytes) else raw.encode()
    return data if data.endswith(b"\n") else data + b"\n"


def _graded_bytes(rows: list[GradedObservation]) -> bytes:
    """One JSON line per row (most events give one row: a single write call for the event's rows)."""
    if len(rows) == 1:
        return graded_json(rows[0]) + b"\n"
    return b"".join([graded_json(row) + b"\n" for row in rows])


# A replay allocates a few dozen container objects per event and keeps the subject states alive, so the default
# young-generation threshold (700) runs the collector every few dozen events, over a live set that only grows;
# almost nothing it allocates is cyclic garbage. Collected 70x less often: ~5-8% of the run (bench/replay_bench.py).
BATCH_GC_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def _batch_gc() -> Iterator[None]:
    """Raise the collector's thresholds for the replay, and restore them (``run`` is also called in-process)."""
    saved = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def _lines(stack: ExitStack, handle: BinaryIO, size: int, progress: bool | None) -> Iterable[bytes]:
    """The file's lines, through a progress bar on stderr when asked, or by default for a large file (>= 5 MB)
    replayed in a terminal. rich's ``wrap_file`` gives a context manager around the reading file, entered here."""
    if progress is False or progress is None and (size < PROGRESS_MIN_BYTES or not sys.stderr.isatty()):
        return handle
    from rich.console import Console
    from rich.progress import wrap_file

    reader = wrap_file(handle, total=size, description="replaying", console=Console(file=sys.stderr))
    return stack.enter_context(reader)


@click.command(
    "replay",
    short_help="grade and evaluate a JSON-lines file of events offline",
    help="Run the stream's rules engine over a JSON-lines file of events, in order, and write DIR/graded.jsonl, "
    "DIR/alerts.jsonl, DIR/rejected.jsonl and DIR/events.jsonl (the accepted input).\n\n"
    "EVENTS: JSON-lines file of input events, replayed in the order given.",
)
@click.argument("events", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="output folder (created if missing)")
@click.option("--rules", type=click.Path(path_type=Path), default=None, metavar="FILE|DIR",
              help="a study rules file, or a directory of them (default: every study in rules/studies); each event "
                   "is evaluated under its own study's rules")
@click.option("--quiet", is_flag=True, help="print no summary")
@click.option("--progress/--no-progress", default=None,
              help="show a progress bar on stderr (default: for a file of 5 MB or more in a terminal)")
def replay_command(events: Path, out: Path, rules: Path | None, quiet: bool, progress: bool | None) -> int:
    return run(events, out, rules, quiet=quiet, progress=progress)


def run(events: Path, out: Path, rules_path: Path | None, quiet: bool = False, progress: bool | None = None) -> int:
    """Replay a file; the exit code is 0 even when lines were rejected (they are in rejected.jsonl).

    ``progress``: None shows a bar for a file of 5 MB or more when stderr is a terminal; True or False decide.
    """
    if not events.is_file():
        print(f"safety replay: {events}: no such file; give a JSON-lines file of events", file=sys.stderr)
        return 2
    try:
        rules = load_rulebook(rules_path)
    except SafetyError as exc:
        print(f"safety replay: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    with (
        _batch_gc(),
        events.open("rb") as source,
        ExitStack() as stack,
        (out / "graded.jsonl").open("wb", buffering=WRITE_BUFFER) as graded_out,
        (out / "alerts.jsonl").open("wb") as alerts_out,
        (out / "rejected.jsonl").open("wb") as rejected_out,
        (out / "events.jsonl").open("wb", buffering=WRITE_BUFFER) as events_out,
    ):
        for outputs in replay_lines(_lines(stack, source, os.path.getsize(events), progress), rules):
            if outputs.raw is not None:
                tally.events += 1
                events_out.write(_line_bytes(outputs.raw))
            elif _is_duplicate(outputs):
                tally.duplicates += 1
            if outputs.graded:
                tally.count_graded(outputs.graded)
                graded_out.write(_graded_bytes(outputs.graded))
            for alert in (*outputs.alerts, *outputs.study_alerts):
                tally.kinds[str(alert.kind)] += 1
                alerts_out.write((alert.to_json() + "\n").encode())
            for rejection in outputs.rejections:
                tally.rejected += 1
                rejected_out.write((rejection.model_dump_json(exclude_none=True) + "\n").encode())
    if not quiet:
        _summary(events, out, rules, tally)
    return 0


def _summary(events: Path, out: Path, rules: RuleBook, tally: _Tally) -> None:
    err = sys.stderr
    grades = tally.grade_names()
    kinds = tally.kinds
    versions = ", ".join(f"{study} {study_rules.version}" for study, study_rules in rules.studies.items())
    print(f"replayed {events} with rules {versions} -> {out}/", file=err)
    print(f"  events accepted: {tally.events}   duplicates: {tally.duplicates} (no effect)   "
          f"rejected: {tally.rejected} (see rejected.jsonl)", file=err)
    shown = ", ".join(f"G{g}: {grades[g]}" for g in sorted(grades))
    print(f"  graded rows: {tally.graded}" + (f"  ({shown})" if shown else ""), file=err)
    shown = ", ".join(f"{k}: {kinds[k]}" for k in sorted(kinds))
    print(f"  alerts: {sum(kinds.values())}" + (f"  ({shown})" if shown else ""), file=err)
