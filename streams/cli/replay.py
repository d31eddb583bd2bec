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
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from heapq import merge
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

import click

from safety.errors import SafetyError
from safety.model.outputs import Alert, GradedObservation, Rejection, graded_json
from safety.model.state import SubjectState
from safety.replay import LineOutputs, fold_study, overdue_at, replay_subjects, shard_key
from safety.rules.ruleset import RuleBook
from safety.signals import StudySignal
from streams.rulefiles import load_rulebook

if TYPE_CHECKING:
    from safety.study import StudyState

PROGRESS_MIN_BYTES = 5_000_000
WRITE_BUFFER = 1 << 20  # the large files get one write call per MB instead of per 8 KB
BLOCK_LINES = 4_000  # lines read and sent to the shards at a time with --jobs > 1
BLOCKS_IN_FLIGHT = 2  # blocks sent ahead of the one being written: the shards work while this process writes
WORKER_POLL_SECONDS = 1.0  # how often a wait for a shard checks that it is still alive


class Written(NamedTuple):
    """One line's outputs as the files take them, made in the shard that stepped the line (--jobs > 1) and written
    in input order. ``signals`` wait for the study fold, which runs where the files are written."""

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

    def count_graded(self, grades: Iterable[int | None]) -> None:
        counts = self.grades
        for grade in grades:
            counts[grade] = counts.get(grade, 0) + 1
            self.graded += 1

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


def _rejection_line(rejection: Rejection) -> bytes:
    return (rejection.model_dump_json(exclude_none=True) + "\n").encode()


def written(outputs: LineOutputs) -> Written:
    """What the files take of one line's outputs (most lines have no alert and no rejection)."""
    raw, graded, alerts, rejections = outputs.raw, outputs.graded, outputs.alerts, outputs.rejections
    return Written(
        None if raw is None else _line_bytes(raw),
        raw is None and _is_duplicate(outputs),
        _graded_bytes(graded) if graded else b"",
        [row.grade for row in graded],
        [_alert_line(alert) for alert in alerts] if alerts else [],
        [_rejection_line(r) for r in rejections] if rejections else [],
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
        """A line a shard stepped, already encoded there."""
        tally = self.tally
        if line.event is not None:
            tally.events += 1
            self.events.write(line.event)
        elif line.duplicate:
            tally.duplicates += 1
        if line.graded:
            tally.count_graded(line.grades)
            self.graded.write(line.graded)
        if line.alerts or study_alerts:  # most lines raise none
            self._alerts([*line.alerts, *map(_alert_line, study_alerts)])
        for data in line.rejected:
            self._rejected(data)

    def write_outputs(self, outputs: LineOutputs, study_alerts: list[Alert]) -> None:
        """A line stepped in this process (``--jobs 1``), encoded as it is written: the same bytes as ``write`` of
        its ``written`` record, without making that record for every line."""
        tally = self.tally
        raw, graded = outputs.raw, outputs.graded
        if raw is not None:
            tally.events += 1
            self.events.write(_line_bytes(raw))
        elif _is_duplicate(outputs):
            tally.duplicates += 1
        if graded:
            tally.count_graded(row.grade for row in graded)
            self.graded.write(_graded_bytes(graded))
        if outputs.alerts or study_alerts:
            self._alerts([_alert_line(alert) for alert in (*outputs.alerts, *study_alerts)])
        for rejection in outputs.rejections:
            self._rejected(_rejection_line(rejection))

    def _alerts(self, alerts: list[tuple[str, bytes]]) -> None:
        for kind, data in alerts:
            self.tally.kinds[kind] += 1
            self.alerts.write(data)

    def _rejected(self, data: bytes) -> None:
        self.tally.rejected += 1
        self.rejected.write(data)

    def write_overdue(self, alerts: list[tuple[str, bytes]]) -> None:
        """The alerts of expected data still missing at ``--as-of``, after every line's."""
        self._alerts(alerts)


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
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, metavar="DIR", help="output folder (created if missing)"
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    default=None,
    metavar="FILE|DIR",
    help="a study rules file, or a directory of them (default: every study in rules/studies); each event "
    "is evaluated under its own study's rules",
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="TIME",
    help="evaluate the schedule of expected data at this moment (ISO 8601; without a UTC offset, in the "
    "study's time zone) and write DATA_OVERDUE alerts; without it nothing is expected, so the output "
    "does not depend on when the replay runs",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the machine's cores",
    help="processes stepping subjects (a subject's events stay in one); the files are the same for any N",
)
@click.option("--quiet", is_flag=True, help="print no summary")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="show a progress bar on stderr (default: for a file of 5 MB or more in a terminal)",
)
def replay_command(
    events: Path, out: Path, rules: Path | None, as_of: str | None, jobs: int, quiet: bool, progress: bool | None
) -> int:
    return run(events, out, rules, quiet=quiet, progress=progress, as_of=as_of, jobs=jobs)


def _moment(text: str, rules: RuleBook) -> datetime:
    """``--as-of`` as an aware moment: ISO 8601, read in the primary study's time zone when it has no offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SafetyError(f"--as-of: {text!r} is not an ISO 8601 time; give e.g. 2026-07-01T09:00:00+08:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=rules.parse_tz)


def run(
    events: Path,
    out: Path,
    rules_path: Path | None,
    quiet: bool = False,
    progress: bool | None = None,
    as_of: str | None = None,
    jobs: int = 1,
) -> int:
    """Replay a file; the exit code is 0 even when lines were rejected (they are in rejected.jsonl).

    ``progress``: None shows a bar for a file of 5 MB or more when stderr is a terminal; True or False decide.
    ``as_of``: the moment the schedule of expected data is evaluated at (none: it is not evaluated).
    ``jobs``: processes stepping subjects (1: all in this one).
    """
    if not events.is_file():
        print(f"safety replay: {events}: no such file; give a JSON-lines file of events", file=sys.stderr)
        return 2
    try:
        rules = load_rulebook(rules_path)
        moment = _moment(as_of, rules) if as_of is not None else None
    except SafetyError as exc:
        print(f"safety replay: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    studies: dict[str, StudyState] = {}
    with _batch_gc(), events.open("rb") as source, ExitStack() as stack:
        # The shards first: they start as copies of this process, before it opens a file or starts a thread.
        subjects: _Subjects = _Shards(jobs, rules_path, moment, stack) if jobs > 1 else _InProcess(rules, moment)
        files = _Files(stack, out)
        lines = _lines(stack, source, os.path.getsize(events), progress)
        subjects.write(lines, files, lambda signals: fold_study(signals, rules, studies))
        files.write_overdue(subjects.overdue())
    if not quiet:
        _summary(events, out, rules, files.tally, moment)
    return 0


# ------------------------------------------------------------------------------------------------- subjects


StudyFold = Callable[[list[StudySignal]], list[Alert]]  # a line's signals -> the study-level alerts they raise


class _Subjects(Protocol):
    """Where the subject level of the fold runs: ``write`` steps the lines and writes each non-blank line's
    outputs to the files in input order, after ``fold`` gave its study-level alerts; ``overdue``, once every line
    is written, the DATA_OVERDUE alerts still owed at ``--as-of`` (none without it), by study and subject."""

    def write(self, lines: Iterable[bytes], files: _Files, fold: StudyFold) -> None: ...

    def overdue(self) -> list[tuple[str, bytes]]: ...


class _InProcess:
    """``--jobs 1``: every subject stepped in this process."""

    def __init__(self, rules: RuleBook, as_of: datetime | None) -> None:
        self.rules = rules
        self.as_of = as_of
        self.subjects: dict[tuple[str, str], SubjectState] = {}
        self.seen: dict[tuple[str, str, str], str] = {}

    def write(self, lines: Iterable[bytes], files: _Files, fold: StudyFold) -> None:
        for outputs in replay_subjects(enumerate(lines, 1), self.rules, self.subjects, self.seen, self.as_of):
            files.write_outputs(outputs, fold(outputs.signals))

    def overdue(self) -> list[tuple[str, bytes]]:
        if self.as_of is None:
            return []
        return [_alert_line(alert) for alert in overdue_at(self.subjects, self.rules, self.as_of)]


Block = list[tuple[int, bytes]]  # (line number, line) of the lines sent to one shard
Overdue = list[tuple[tuple[str, str], tuple[str, bytes]]]  # (study, subject) and the alert, as written


def _shard_main(
    rules_path: Path | None,
    as_of: datetime | None,
    inbox: multiprocessing.Queue[Block | None],
    outbox: multiprocessing.Queue[list[Written] | Overdue],
) -> None:
    """One shard: steps the blocks of (line number, line) it is sent through its own subjects' states and sends
    back each block's outputs as written; sent None, it sends back what its subjects still owe at ``as_of`` (keyed
    for the merge by study and subject) and ends."""
    rules = load_rulebook(rules_path)
    gc.freeze()  # what the shard starts with (modules, rules; forked: its parent's objects) is never collected
    subjects: dict[tuple[str, str], SubjectState] = {}
    seen: dict[tuple[str, str, str], str] = {}
    with _batch_gc():
        while (block := inbox.get()) is not None:
            outbox.put([written(outputs) for outputs in replay_subjects(block, rules, subjects, seen, as_of)])
    owed = [] if as_of is None else overdue_at(subjects, rules, as_of)
    outbox.put([((alert.study_id, alert.subject_id), _alert_line(alert)) for alert in owed])


class _Shards:
    """``--jobs N``: this process reads the file in blocks and sends each line to its subject's shard process;
    each shard returns its lines' outputs as written, merged back here in input order."""

    def __init__(self, jobs: int, rules_path: Path | None, as_of: datetime | None, stack: ExitStack) -> None:
        context = multiprocessing.get_context("fork") if _forks() else multiprocessing.get_context("spawn")
        self.inboxes: list[multiprocessing.Queue[Block | None]] = [context.Queue() for _ in range(jobs)]
        self.outboxes: list[multiprocessing.Queue[list[Written] | Overdue]] = [context.Queue() for _ in range(jobs)]
        self.processes = [
            context.Process(target=_shard_main, args=(rules_path, as_of, inbox, outbox), daemon=True)
            for inbox, outbox in zip(self.inboxes, self.outboxes, strict=True)
        ]
        for process in self.processes:
            process.start()
        stack.callback(self._stop)

    def write(self, lines: Iterable[bytes], files: _Files, fold: StudyFold) -> None:
        for line in self._step(lines):
            files.write(line, fold(line.signals))

    def _step(self, lines: Iterable[bytes]) -> Iterator[Written]:
        """Each non-blank line's outputs, as its shard returned them, in input order."""
        pending: list[list[int]] = []  # per block sent and not yet written: the shard of each line, in input order
        for block in _blocks(lines):
            pending.append(self._send(block))
            if len(pending) > BLOCKS_IN_FLIGHT:
                yield from self._merge(pending.pop(0))
        while pending:
            yield from self._merge(pending.pop(0))

    def overdue(self) -> list[tuple[str, bytes]]:
        """Each shard's owed alerts, ordered by study and subject, merged by that key: a subject is in one shard
        only, so the order is that of one pass over all subjects."""
        for inbox in self.inboxes:
            inbox.put(None)
        owed = [self._receive(shard) for shard in range(len(self.processes))]
        return [alert for _, alert in merge(*owed, key=lambda item: item[0])]

    def _send(self, block: Block) -> list[int]:
        """Send each line to its subject's shard (every shard gets its part of the block, even empty)."""
        jobs = len(self.inboxes)
        parts: list[Block] = [[] for _ in range(jobs)]
        order: list[int] = []
        for item in block:
            key = shard_key(item[1])
            shard = 0 if key is None else zlib.crc32(key) % jobs
            parts[shard].append(item)
            order.append(shard)
        for inbox, part in zip(self.inboxes, parts, strict=True):
            inbox.put(part)
        return order

    def _merge(self, order: list[int]) -> Iterator[Written]:
        """One block's outputs back in input order: each shard returns its lines in the order it was sent them."""
        parts = [iter(self._receive(shard)) for shard in range(len(self.processes))]
        for shard in order:
            yield next(parts[shard])

    def _receive(self, shard: int) -> list[Any]:
        """The shard's next message: a block's ``Written`` lines, or at the end its ``Overdue``."""
        process = self.processes[shard]
        while True:
            try:
                return self.outboxes[shard].get(timeout=WORKER_POLL_SECONDS)
            except queue.Empty:
                if not process.is_alive():
                    raise SystemExit(
                        f"safety replay: a replay process stopped (exit code {process.exitcode}); "
                        "run again with --jobs 1 to see the error"
                    ) from None

    def _stop(self) -> None:
        """End the shards still running (after an error: normally each has ended after sending what is owed)."""
        for inbox, process in zip(self.inboxes, self.processes, strict=True):
            if process.is_alive():
                inbox.put(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        for inbox in self.inboxes:  # a shard that stopped reads no more: drop what it was sent, do not wait at exit
            inbox.cancel_join_thread()


def _forks() -> bool:
    """Whether a shard starts forked, as on Linux, so it begins with the modules this process imported instead of
    importing them again (about a second of CPU per shard, a tenth of a 100,000-line replay). The shards are forked
    before the replay opens its output files or starts the progress bar's thread (see ``run``) and end with
    ``os._exit``, so nothing buffered here is written twice. Elsewhere a fresh interpreter."""
    return "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin"


def _blocks(lines: Iterable[bytes]) -> Iterator[Block]:
    """The non-blank lines, numbered from 1 as in the file, in blocks of BLOCK_LINES."""
    block: Block = []
    for number, raw in enumerate(lines, 1):
        if raw.strip():
            block.append((number, raw))
            if len(block) == BLOCK_LINES:
                yield block
                block = []
    if block:
        yield block


def _summary(events: Path, out: Path, rules: RuleBook, tally: _Tally, as_of: datetime | None = None) -> None:
    err = sys.stderr
    grades = tally.grade_names()
    kinds = tally.kinds
    versions = ", ".join(f"{study} {study_rules.version}" for study, study_rules in rules.studies.items())
    print(f"replayed {events} with rules {versions} -> {out}/", file=err)
    print(
        f"  events accepted: {tally.events}   duplicates: {tally.duplicates} (no effect)   "
        f"rejected: {tally.rejected} (see rejected.jsonl)",
        file=err,
    )
    shown = ", ".join(f"G{g}: {grades[g]}" for g in sorted(grades))
    print(f"  graded rows: {tally.graded}" + (f"  ({shown})" if shown else ""), file=err)
    shown = ", ".join(f"{k}: {kinds[k]}" for k in sorted(kinds))
    print(f"  alerts: {sum(kinds.values())}" + (f"  ({shown})" if shown else ""), file=err)
    if as_of is not None:
        print(f"  expected data evaluated as of {as_of.isoformat()}: {kinds['DATA_OVERDUE']} DATA_OVERDUE", file=err)
