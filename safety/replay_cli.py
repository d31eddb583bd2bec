"""`safety replay EVENTS.jsonl --out DIR [--rules FILE]`: file I/O around safety.replay (contract: Replay)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from safety.alerts import Alert, GradedObservation, Rejection
from safety.errors import SafetyError
from safety.replay import replay
from safety.ruleset import load_ruleset

PROGRESS_MIN_BYTES = 5_000_000


def _lines(handle: BinaryIO, size: int) -> object:
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return handle
    from rich.progress import wrap_file

    return wrap_file(handle, total=size, description="replaying")


def run(events: Path, out: Path, rules_file: Path | None, quiet: bool = False) -> int:
    """Replay a file; the exit code is 0 even when lines were rejected (they are in rejected.jsonl)."""
    if not events.is_file():
        print(f"safety replay: {events}: no such file; give a JSON-lines file of events", file=sys.stderr)
        return 2
    try:
        rules = load_ruleset(rules_file)
    except SafetyError as exc:
        print(f"safety replay: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    # Binary files and pydantic's serializer straight to bytes: the text layer and a str round trip per row
    # cost as much as grading the row (bench/replay_bench.py); the bytes are those of model_dump_json.
    graded_bytes = GradedObservation.__pydantic_serializer__.to_json
    with (
        events.open("rb") as source,
        (out / "graded.jsonl").open("wb") as graded_out,
        (out / "alerts.jsonl").open("wb") as alerts_out,
        (out / "rejected.jsonl").open("wb") as rejected_out,
        (out / "events.jsonl").open("wb") as events_out,
    ):
        for kind, record in replay(_lines(source, os.path.getsize(events)), rules):  # type: ignore[arg-type]
            counts[kind] += 1
            if kind == "graded":
                assert isinstance(record, GradedObservation)
                grades["null" if record.grade is None else str(record.grade)] += 1
                graded_out.write(graded_bytes(record) + b"\n")
            elif kind == "event":
                assert isinstance(record, str)
                events_out.write((record if record.endswith("\n") else record + "\n").encode())
            elif kind == "alert":
                assert isinstance(record, Alert)
                kinds[str(record.kind)] += 1
                alerts_out.write((record.to_json() + "\n").encode())
            else:
                assert isinstance(record, Rejection)
                rejected_out.write((record.model_dump_json(exclude_none=True) + "\n").encode())
    if not quiet:
        _summary(events, out, rules.version, counts, kinds, grades)
    return 0


def _summary(events: Path, out: Path, version: str, counts: Counter[str], kinds: Counter[str],
             grades: Counter[str]) -> None:
    err = sys.stderr
    print(f"replayed {events} with rules {version} -> {out}/", file=err)
    print(f"  events accepted: {counts['event']}   rejected: {counts['rejected']} (see rejected.jsonl)",
          file=err)
    shown = ", ".join(f"G{g}: {grades[g]}" for g in sorted(grades))
    print(f"  graded rows: {counts['graded']}" + (f"  ({shown})" if shown else ""), file=err)
    shown = ", ".join(f"{k}: {kinds[k]}" for k in sorted(kinds))
    print(f"  alerts: {counts['alert']}" + (f"  ({shown})" if shown else ""), file=err)
