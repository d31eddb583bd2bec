"""Time of `safety import sdtm` and of the replay of what it emits, for a 250-subject export.

    .venv/bin/python bench/import_bench.py [--subjects 250]

1. Builds the export (not timed): the public CDISC Dataset-JSON sample (tests/fixtures/sdtm/datasetjson, 18
   subjects) copied subject by subject, round robin, under new USUBJIDs SYN-0001... until there are N subjects,
   written as Dataset-JSON 1.1 (dm, ae, ds, ex, lb, vs).
2. Import: read, map, check every event with the contract's parser, ledger, write (timed).
3. Re-import of the same export: nothing emitted (timed; the ledger comparison).
4. Replay of the emitted events, the full `safety replay` path with its default ``--jobs`` (the machine's cores)
   (timed; the CPU seconds include those of its processes).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from streams.cli.import_sdtm import sdtm
from streams.cli.replay import run as replay_file

SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sdtm" / "datasetjson"
DOMAINS = ("dm", "ae", "ds", "ex", "lb", "vs")
STUDY = "ChiCTR2600125907"


def build_export(folder: Path, subjects: int) -> int:
    """Write the N-subject export; return its number of records."""
    records = 0
    for domain in DOMAINS:
        document: dict[str, Any] = json.loads(gzip.decompress((SAMPLE / f"{domain}.json.gz").read_bytes()))
        column = [c["name"] for c in document["columns"]].index("USUBJID")
        by_subject: dict[str, list[list[Any]]] = {}
        for row in document["rows"]:
            by_subject.setdefault(row[column], []).append(row)
        sources = sorted(by_subject)
        rows = []
        for number in range(1, subjects + 1):
            for row in by_subject[sources[(number - 1) % len(sources)]]:
                rows.append([*row[:column], f"SYN-{number:04d}", *row[column + 1 :]])
        document["rows"], document["records"] = rows, len(rows)
        (folder / f"{domain}.json").write_text(json.dumps(document), encoding="utf-8")
        records += len(rows)
    return records


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the replay's processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Timed:
    """Wall-clock and CPU seconds of a block: on a shared machine the CPU time is the figure that repeats."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.1f} s (cpu {self.cpu:.1f} s)"


def _timed_import(export: Path, out: Path) -> Timed:
    with Timed() as timed:
        result = CliRunner().invoke(sdtm, [str(export), "--study", STUDY, "--out", str(out)])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    print(result.output.rstrip())
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export = folder / "export"
        export.mkdir()
        records = build_export(export, args.subjects)
        first = _timed_import(export, folder / "first.jsonl")
        again = _timed_import(export, folder / "again.jsonl")
        with Timed() as replayed:
            replay_file(
                folder / "first.jsonl", folder / "replay", None, quiet=True, progress=False, jobs=os.cpu_count() or 1
            )
        events = sum(1 for _ in (folder / "first.jsonl").open())
    print(
        f"{args.subjects} subjects, {records} SDTM records -> {events} events: import {first}, re-import {again}, "
        f"replay {replayed}; import + replay {first.wall + replayed.wall:.1f} s "
        f"(cpu {first.cpu + replayed.cpu:.1f} s)"
    )


if __name__ == "__main__":
    main()
