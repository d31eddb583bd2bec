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


@dataclass(frozen=True)
class Dataset:
    """One domain's rows, in file order (a row's position is its 1-based index, used in reject listings)."""

    domain: str
    path: Path
    rows: list[dict[str, Cell]]


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


def _read_xpt(path: Path) -> tuple[str | None, list[dict[str, Cell]]]:
    import pyreadstat

    data, meta = pyreadstat.read_xport(str(path), output_format="dict")
    names = list(data)
    count = len(data[names[0]]) if names else 0
    rows = [{name: _cell(data[name][i]) for name in names} for i in range(count)]
    return meta.table_name, rows


def _json_rows(columns: list[Any], records: list[Any], path: Path) -> list[dict[str, Cell]]:
    try:
        names = [str(column["name"]) for column in columns]
    except (TypeError, KeyError) as exc:
        raise DatasetError(
            f"{path}: a column without a name; expected Dataset-JSON 1.1 `columns` of objects with `name`"
        ) from exc
    rows = []
    for index, record in enumerate(records, 1):
        if not isinstance(record, list) or len(record) != len(names):
            raise DatasetError(
                f"{path}: row {index} has {len(record) if isinstance(record, list) else 'no'} values "
                f"for {len(names)} columns; re-export the dataset"
            )
        # text, most cells, inline: a function call per cell is a third of reading a large export
        rows.append(
            {
                name: (value.strip() or None) if type(value) is str else _cell(value)
                for name, value in zip(names, record, strict=True)
            }
        )
    return rows


def _read_json(path: Path) -> tuple[str | None, list[dict[str, Cell]]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not JSON ({exc}); expected a CDISC Dataset-JSON 1.1 file") from exc
    if not isinstance(document, dict) or "columns" not in document or "rows" not in document:
        raise DatasetError(
            f"{path}: no `columns` and `rows`; expected CDISC Dataset-JSON 1.1 (version 1.0 files "
            "are not read: convert them with the CDISC Dataset-JSON tools)"
        )
    return document.get("name"), _json_rows(document["columns"], document["rows"], path)


def _read_ndjson(path: Path) -> tuple[str | None, list[dict[str, Cell]]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        meta = json.loads(lines[0]) if lines else None
        records = [json.loads(line) for line in lines[1:]]
    except ValueError as exc:
        raise DatasetError(f"{path}: a line is not JSON ({exc}); expected Dataset-JSON 1.1 NDJSON") from exc
    if not isinstance(meta, dict) or "columns" not in meta:
        raise DatasetError(f"{path}: the first line holds no `columns`; expected Dataset-JSON 1.1 NDJSON metadata")
    return meta.get("name"), _json_rows(meta["columns"], records, path)


def _read_csv(path: Path) -> tuple[str | None, list[dict[str, Cell]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [
            {
                name: (None if (value or "").strip() in CSV_MISSING else (value or "").strip())
                for name, value in row.items()
            }
            for row in csv.DictReader(handle)
        ]
    return None, rows


_READERS = {".xpt": _read_xpt, ".json": _read_json, ".ndjson": _read_ndjson, ".csv": _read_csv}


def read_dataset(path: Path) -> Dataset:
    """The rows of ``path``; its domain from the file's own name for it (XPORT member, Dataset-JSON ``name``), else
    the ``DOMAIN`` column, else the file name (``lb.csv``)."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unknown format; expected one of {', '.join(SUFFIXES)}")
    name, rows = reader(path)
    domain = name or (rows[0].get("DOMAIN") if rows else None) or path.stem
    return Dataset(domain=str(domain).upper(), path=path, rows=rows)


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
