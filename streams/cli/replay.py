"""`safety replay EVENTS.jsonl --out DIR [--rules FILE|DIR]`: file I/O around safety.replay (contract: Replay).

``--rules`` is a study rules file (a deployment of that one study) or a directory of them; the default is every
study of rules/studies, so a file mixing studies evaluates each event under its own study's rules and rejects an
event of an unknown study (rejected.jsonl).

``--jobs N`` steps subjects in N processes: this process reads the file in blocks, sends each line to the shard of
its subject (``safety.replay.shard_key``: a subject's events never split), and each shard steps its subjects and
returns every line's outputs already as bytes. This process writes them back in input order and runs the study
fold (the stopping rule) over the merged signals, so the files are byte for byte those of ``--jobs 1``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import click

from safety.errors import SafetyError
from safety.model.outputs import Alert, GradedObservation, graded_json
from safety.model.state import SubjectState
from safety.replay import LineOutputs, fold_study, replay_subjects, shard_key
from safety.rules.ruleset import RuleBook, load_rulebook
from safety.signals import StudySignal

if TYPE_CHECKING:
    from safety.study import StudyState

PROGRESS_MIN_BYTES = 5_000_000
WRITE_BUFFER = 1 << 20  # the large files get one write call per MB instead of per 8 KB
BLOCK_LINES = 4_000  # lines read and sent to the shards at a time with --jobs > 1
BLOCKS_IN_FLIGHT = 2  # blocks sent ahead of the one being written: the shards work while this process writes
WORKER_POLL_SECONDS = 1.0  # how often a wait for a shard checks that it is still alive


class Written(NamedTuple):
    """One line's outputs as the files take them: made where the line is stepped (in a shard with --jobs > 1),
    written in input order. ``signals`` wait for the study fold, which runs where the files are written."""

    event: bytes | None  # the accepted line, newline-terminated; None when rejected or a duplicate
    duplicate: bool
    graded: bytes
    grades: list[int | None]
    alerts: list[tuple[str, bytes]]  # (kind, JSON line)
    rejected: list[bytes]
    signals: list[StudySignal]


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

    def count_graded(self, grades: list[int | None]) -> None:
        self.graded += len(grades)
        counts = self.grades
        for grade in grades:
            counts[grade] = counts.get(grade, 0) + 1

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


def _alert_line(alert: Alert) -> tuple[str, bytes]:
    return str(alert.kind), (alert.to_json() + "\n").encode()


def written(outputs: LineOutputs) -> Written:
    """What the files take of one line's outputs (most lines have no alert and no rejection)."""
    raw, graded, alerts, rejections = outputs.raw, outputs.graded, outputs.alerts, outputs.rejections
    return Written(
        None if raw is None else _line_bytes(raw),
        raw is None and _is_duplicate(outputs),
        _graded_bytes(graded) if graded else b"",
        [row.grade for row in graded],
        [_alert_line(alert) for alert in alerts] if alerts else [],
        [(r.model_dump_json(exclude_none=True) + "\n").encode() for r in rejections] if rejections else [],
        outputs.signals,
    )


class _Files:
    """The four output files and the tally; ``write`` takes each line's outputs in input order."""

    def __init__(self, stack: ExitStack, out: Path) -> None:
        self.graded = stack.enter_context((out / "graded.jsonl").open("wb", buffering=WRITE_BUFFER))
        self.alerts = stack.enter_context((out / "alerts.jsonl").open("wb"))
        self.rejected = stack.enter_context((out / "rejected.jsonl").open("wb"))
        self.events = stack.enter_context((out / "events.jsonl").open("wb", buffering=WRITE_BUFFER))
        self.tally = _Tally()

    def write(self, line: Written, study_alerts: list[Alert]) -> None:
        tally = self.tally
        if line.event is not None:
            tally.events += 1
            self.events.write(line.event)
        elif line.duplicate:
            tally.duplicates += 1
        if line.graded:
            tally.count_graded(line.grades)
            self.graded.write(line.graded)
        for kind, data in (*line.alerts, *map(_alert_line, study_alerts)):
            tally.kinds[kind] += 1
            self.alerts.write(data)
        for data in line.rejected:
            tally.rejected += 1
            self.rejected.write(data)


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
@click.option("--jobs", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="the machine's cores",
              help="processes stepping subjects (a subject's events stay in one); the files are the same for any N")
@click.option("--quiet", is_flag=True, help="print no summary")
@click.option("--progress/--no-progress", default=None,
              help="show a progress bar on stderr (default: for a file of 5 MB or more in a terminal)")
def replay_command(events: Path, out: Path, rules: Path | None, jobs: int, quiet: bool, progress: bool | None) -> int:
    return run(events, out, rules, quiet=quiet, progress=progress, jobs=jobs)


def run(events: Path, out: Path, rules_path: Path | None, quiet: bool = False, progress: bool | None = None,
        jobs: int = 1) -> int:
    """Replay a file; the exit code is 0 even when lines were rejected (they are in rejected.jsonl).

    ``progress``: None shows a bar for a file of 5 MB or more when stderr is a terminal; True or False decide.
    ``jobs``: processes stepping subjects (1: all in this one).
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
    studies: dict[str, StudyState] = {}
    with _batch_gc(), events.open("rb") as source, ExitStack() as stack:
        files = _Files(stack, out)
        lines = _lines(stack, source, os.path.getsize(events), progress)
        stepped = (_sharded(lines, jobs, rules_path, stack) if jobs > 1
                   else map(written, replay_subjects(enumerate(lines, 1), rules, {})))
        for line in stepped:
            files.write(line, fold_study(line.signals, rules, studies))
    if not quiet:
        _summary(events, out, rules, files.tally)
    return 0


# ------------------------------------------------------------------------------------------------- shards


def _shard_main(rules_path: Path | None, inbox: multiprocessing.Queue[list[tuple[int, bytes]] | None],
                outbox: multiprocessing.Queue[list[Written]]) -> None:
    """One shard: steps the blocks of (line number, line) it is sent through its own subjects' states and sends
    back each block's outputs as written, until it is sent None."""
    rules = load_rulebook(rules_path)
    subjects: dict[tuple[str, str], SubjectState] = {}
    with _batch_gc():
        while (block := inbox.get()) is not None:
            outbox.put([written(outputs) for outputs in replay_subjects(block, rules, subjects)])


def _receive(outbox: multiprocessing.Queue[list[Written]], process: BaseProcess) -> list[Written]:
    while True:
        try:
            return outbox.get(timeout=WORKER_POLL_SECONDS)
        except queue.Empty:
            if not process.is_alive():
                raise SystemExit(f"safety replay: a replay process stopped (exit code {process.exitcode}); "
                                 "run again with --jobs 1 to see the error") from None


def _sharded(lines: Iterable[bytes], jobs: int, rules_path: Path | None, stack: ExitStack) -> Iterator[Written]:
    """Every non-blank line's outputs, in input order, stepped by ``jobs`` shard processes."""
    context = multiprocessing.get_context("spawn")  # a clean interpreter: nothing of this process's state
    inboxes = [context.Queue() for _ in range(jobs)]
    outboxes = [context.Queue() for _ in range(jobs)]
    processes = [context.Process(target=_shard_main, args=(rules_path, inboxes[i], outboxes[i]), daemon=True)
                 for i in range(jobs)]
    for process in processes:
        process.start()
    stack.callback(_stop, processes, inboxes)
    pending: list[list[int]] = []  # per block sent and not yet written: the shard of each line, in input order
    for block in _blocks(lines):
        pending.append(_send(block, inboxes))
        if len(pending) > BLOCKS_IN_FLIGHT:
            yield from _merge(pending.pop(0), outboxes, processes)
    while pending:
        yield from _merge(pending.pop(0), outboxes, processes)


def _blocks(lines: Iterable[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    """The non-blank lines, numbered from 1 as in the file, in blocks of BLOCK_LINES."""
    block: list[tuple[int, bytes]] = []
    for number, raw in enumerate(lines, 1):
        if raw.strip():
            block.append((number, raw))
            if len(block) == BLOCK_LINES:
                yield block
                block = []
    if block:
        yield block


def _send(block: list[tuple[int, bytes]], inboxes: list[multiprocessing.Queue[list[tuple[int, bytes]] | None]]
          ) -> list[int]:
    """Send each line to its subject's shard (every shard gets its part of the block, even empty)."""
    jobs = len(inboxes)
    parts: list[list[tuple[int, bytes]]] = [[] for _ in range(jobs)]
    order: list[int] = []
    for item in block:
        key = shard_key(item[1])
        shard = 0 if key is None else zlib.crc32(key.encode()) % jobs
        parts[shard].append(item)
        order.append(shard)
    for inbox, part in zip(inboxes, parts, strict=True):
        inbox.put(part)
    return order


def _merge(order: list[int], outboxes: list[multiprocessing.Queue[list[Written]]],
           processes: Sequence[BaseProcess]) -> Iterator[Written]:
    """One block's outputs back in input order: each shard returns its lines in the order it was sent them."""
    parts = [iter(_receive(outbox, process)) for outbox, process in zip(outboxes, processes, strict=True)]
    for shard in order:
        yield next(parts[shard])


def _stop(processes: Sequence[BaseProcess], inboxes: list[multiprocessing.Queue[list[tuple[int, bytes]] | None]]
          ) -> None:
    for inbox in inboxes:
        inbox.put(None)
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()


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
