"""`safety report listing --from-replay DIR --from DATE --to DATE --out DIR`: the cumulative SAE/SUSAR line listing
of a period for the ethics committee, as CSV, printable HTML and an A4 PDF (streams/documents/listing_pdf.py).

The cases are those of `safety documents` (safety/documents/build_cases, with the investigator's notes of
pi_entries.jsonl when present), so the listing and the documents never disagree; the rows are
safety/documents/listing.py's. Dates are calendar days in the study's time zone, both included.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from safety.documents import LISTING_COLUMNS, LISTING_HEADINGS, ListingRow, line_listing
from safety.errors import SafetyError
from streams.web.templating import csv_text, render


def write_listing(source: Path, out: Path, start: date, end: date, rules_file: Path | None = None) -> list[ListingRow]:
    if end < start:
        raise SafetyError(f"--to {end} is before --from {start}; give the period's first day, then its last")
    from streams.cli.documents import cases_of  # it reads replay folders as streams/cli/report.py, which imports this

    cases, rules = cases_of(source, rules_file)
    rows = line_listing(cases, start, end, rules.tz)
    study_id = rules.protocol.study_id
    stem = f"{study_id}-line-listing-{start}-{end}"
    out.mkdir(parents=True, exist_ok=True)
    cells = [[row.values[c] for c in LISTING_COLUMNS] for row in rows]
    (out / f"{stem}.csv").write_text(csv_text(LISTING_COLUMNS, cells), encoding="utf-8", newline="")
    html = render(
        "line_listing.html",
        study_id=study_id,
        start=start,
        end=end,
        zone=rules.protocol.time_zone,
        heads=[LISTING_HEADINGS[c] for c in LISTING_COLUMNS],
        rows=cells,
    )
    (out / f"{stem}.html").write_text(html, encoding="utf-8", newline="")
    from streams.documents.listing_pdf import listing_pdf  # fpdf2 loads only when a listing is written

    (out / f"{stem}.pdf").write_bytes(listing_pdf(rows, study_id, start, end, rules.protocol.time_zone))
    return rows


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date: write it as YYYY-MM-DD", param_hint=option) from None


@click.command(
    "listing",
    short_help="the cumulative SAE/SUSAR line listing of a period (CSV, HTML and PDF)",
    help="Write the cumulative line listing of the SAEs and SUSARs reported in a period (subject, term, onset, "
    "grade, seriousness, causality, expectedness, outcome, report dates) from the output folder of `safety replay`, "
    "as <study>-line-listing-<from>-<to>.csv, .html and .pdf.",
)
@click.option("--from-replay", "source", type=click.Path(path_type=Path), required=True, metavar="DIR")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="first day of the period")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD", help="last day of the period (included)")
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="DIR", help="output folder")
@click.option("--rules", type=click.Path(path_type=Path), default=None, help="study rules file")
@click.option("--quiet", is_flag=True, help="print no summary")
def listing_command(source: Path, start: str, end: str, out: Path, rules: Path | None, quiet: bool) -> int:
    first, last = _day(start, "--from"), _day(end, "--to")
    try:
        rows = write_listing(source, out, first, last, rules)
    except SafetyError as exc:
        print(f"safety report listing: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        print(f"safety report listing: {len(rows)} case(s) reported {first} to {last}, in {out}", file=sys.stderr)
    return 0
