"""Read one SDTM dataset from the files an EDC exports: SAS XPORT (``.xpt``), CDISC Dataset-JSON 1.1 (``.json``,
``.ndjson``) or CSV, into the same rows whatever the format.

The formats spell the same value differently (a number is a double in XPORT, an integer or a string in JSON, text in
CSV; a missing value is ``""``, ``null`` or R's ``NA``), so each cell is normalised here: text stripped, a missing
value ``None``, a number a ``float``. Mapping to contract events (streams/feeds/sdtm.py) then sees one shape, which is
why an export read as ``.xpt`` and as ``.json`` gives identical events (tests/streams/feeds/test_sdtm.py).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety.errors import SafetyError

Cell = str | float | None
SUFFIXES = (".xpt", ".json", ".ndjson", ".csv")
CSV_MISSING = frozenset({"", "NA"})
"""A CSV cell read as missing: empty, or ``NA`` as R's write.csv spells it (the pharmaverse exports)."""
SIGNIFICANT_DIGITS = 15
"""XPORT stores IBM floating point: 8.55 comes back as 8.549999999999999. Fifteen significant digits (what a double
holds exactly) give back the number the EDC wrote, the same as the Dataset-JSON export of it."""
_EXACT_INT = 10**SIGNIFICANT_DIGITS


class DatasetError(SafetyError):
    """A file that is not a readable SDTM dataset; the message names the file and what to do."""


Normalise = Callable[[list[Any]], list[Cell]]
"""A format's normalisation of a column of its values (what the file gave -> ``Cell``)."""
Read = tuple[str | None, list[str], Sequence[Sequence[Any]], Normalise]
"""What a format's reader gives: the dataset's own name for itself, its variables, its rows as the file holds them
(one value per variable) and how to normalise them."""


@dataclass(frozen=True)
class Dataset:
    """One domain's rows, in file order, as the file holds them (a row's position is its 1-based index, used in
    reject listings). A mapping reads a dozen of a dataset's variables: ``records`` normalises only those, a column
    at a time, rather than every value of every row."""

    domain: str
    path: Path
    positions: dict[str, int]
    """variable -> its place in a row (a variable named twice: its last place, as a dict of the row would keep)"""
    rows: Sequence[Sequence[Any]]
    normalise: Normalise

    def records(self, names: Iterable[str]) -> list[dict[str, Cell]]:
        """Each row as the named variables the dataset has, normalised; a variable it does not have is left out."""
        present = [name for name in names if name in self.positions]
        if not present:
            return [{} for _ in self.rows]
        columns = [self.normalise([row[self.positions[name]] for row in self.rows]) for name in present]
        return [dict(zip(present, values, strict=True)) for values in zip(*columns, strict=True)]


def _cell(value: Any) -> Cell:
    if value is None:
        return None
    if type(value) is int and -_EXACT_INT < value < _EXACT_INT:
        return float(value)  # exact: formatting to 15 digits would give the same number
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    text = str(value).strip()
    return text or None


def _cells(column: list[Any]) -> list[Cell]:
    return [_cell(value) for value in column]


def _json_cells(column: list[Any]) -> list[Cell]:
    # text, most cells, inline: a function call per cell is a third of reading a large export
    return [
        (value.strip() or None) if type(value) is str else None if value is None else _cell(value) for value in column
    ]


def _csv_cells(column: list[Any]) -> list[Cell]:
    return [None if (value or "").strip() in CSV_MISSING else (value or "").strip() for value in column]


def _read_xpt(path: Path) -> Read:
    import pyreadstat

    data, meta = pyreadstat.read_xport(str(path), output_format="dict")
    names = list(data)
    return meta.table_name, names, list(zip(*(data[name] for name in names), strict=True)), _cells


def _json_rows(columns: list[Any], records: list[Any], path: Path) -> tuple[list[str], list[Any]]:
    try:
        names = [str(column["name"]) for column in columns]
    except (TypeError, KeyError) as exc:
        raise DatasetError(
            f"{path}: a column without a name; expected Dataset-JSON 1.1 `columns` of objects with `name`"
        ) from exc
    width = len(names)
    for index, record in enumerate(records, 1):
        if not isinstance(record, list) or len(record) != width:
            raise DatasetError(
                f"{path}: row {index} has {len(record) if isinstance(record, list) else 'no'} values "
                f"for {width} columns; re-export the dataset"
            )
    return names, records


def _read_json(path: Path) -> Read:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not JSON ({exc}); expected a CDISC Dataset-JSON 1.1 file") from exc
    if not isinstance(document, dict) or "columns" not in document or "rows" not in document:
        raise DatasetError(
            f"{path}: no `columns` and `rows`; expected CDISC Dataset-JSON 1.1 (version 1.0 files "
            "are not read: convert them with the CDISC Dataset-JSON tools)"
        )
    return document.get("name"), *_json_rows(document["columns"], document["rows"], path), _json_cells


def _read_ndjson(path: Path) -> Read:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        meta = json.loads(lines[0]) if lines else None
        records = [json.loads(line) for line in lines[1:]]
    except ValueError as exc:
        raise DatasetError(f"{path}: a line is not JSON ({exc}); expected Dataset-JSON 1.1 NDJSON") from exc
    if not isinstance(meta, dict) or "columns" not in meta:
        raise DatasetError(f"{path}: the first line holds no `columns`; expected Dataset-JSON 1.1 NDJSON metadata")
    return meta.get("name"), *_json_rows(meta["columns"], records, path), _json_cells


def _read_csv(path: Path) -> Read:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        names = next(reader, [])
        rows: list[list[str | None]] = []
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) > len(names):
                raise DatasetError(
                    f"{path}: line {reader.line_num} has {len(row)} values for {len(names)} columns; "
                    "re-export the dataset"
                )
            rows.append([*row, *[None] * (len(names) - len(row))])  # a short row: its last variables missing
    return None, names, rows, _csv_cells


_READERS = {".xpt": _read_xpt, ".json": _read_json, ".ndjson": _read_ndjson, ".csv": _read_csv}


def read_dataset(path: Path) -> Dataset:
    """The rows of ``path``; its domain from the file's own name for it (XPORT member, Dataset-JSON ``name``), else
    the ``DOMAIN`` column, else the file name (``lb.csv``)."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unknown format; expected one of {', '.join(SUFFIXES)}")
    name, names, rows, normalise = reader(path)
    positions = {variable: position for position, variable in enumerate(names)}
    if not name and rows and "DOMAIN" in positions:
        name = str(normalise([rows[0][positions["DOMAIN"]]])[0] or "") or None
    return Dataset(str(name or path.stem).upper(), path, positions, rows, normalise)


def dataset_files(paths: list[Path]) -> list[Path]:
    """The dataset files of the given files and directories (a directory: its files of a known format, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise DatasetError(f"{path}: no such file or directory")
    return files
