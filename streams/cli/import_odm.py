"""`safety import odm FILE --mapping MAP.yaml --study ID --out EVENTS.jsonl`: an EDC's CDISC ODM 1.3 clinical
data -> contract events (docs/odm.md).

streams/feeds/odm.py reads the file into SDTM rows by the mapping file; from there it is the SDTM import: the same
subject codes, contract checks, ledger (default ``odm-<study>.ledger.json`` beside ``--out``), files written
(streams/cli/import_files.py), ``--watch`` and ``--produce``. Rejects name the ItemGroupOID, repeat key and ItemOID.
"""

from __future__ import annotations

from pathlib import Path

import click

from safety.errors import SafetyError
from streams.cli.import_files import Imported, write_import
from streams.cli.import_watch import import_options, run_imports, stream_sender, study_rules
from streams.feeds.import_ledger import ImportLedger
from streams.feeds.odm import check_schema, odm_listing, read_odm
from streams.feeds.odm_mapping import load_odm_mapping
from streams.feeds.sdtm import SdtmMapper
from streams.feeds.sdtm_rules import load_sdtm_rules, load_subject_table


@click.command("odm")
@click.argument("sources", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="the EDC's ItemGroupOIDs and ItemOIDs -> SDTM domains and variables (docs/odm.md)",
)
@click.option(
    "--subjects",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV usubjid,subject_code with the SubjectKey as usubjid: an explicit subject table",
)
@click.option(
    "--schema",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the ODM 1.3.2 XML schema (ODM1-3-2.xsd from CDISC): refuse a file that does not conform",
)
@import_options("odm")
def odm(
    sources: tuple[Path, ...],
    mapping: Path,
    study_id: str,
    out: Path,
    state: Path | None,
    subjects: Path | None,
    rules: Path | None,
    recorded_at: str | None,
    schema: Path | None,
    watch: Path | None,
    once: bool,
    produce: bool,
) -> None:
    """Import an EDC's CDISC ODM 1.3 clinical data (a Snapshot XML file), or each one landing in --watch DIR."""
    try:
        study = study_rules(rules, study_id)
        odm_mapping = load_odm_mapping(mapping)
        sdtm_rules = load_sdtm_rules()
        if odm_mapping.subjects is not None:
            sdtm_rules = sdtm_rules.model_copy(update={"subjects": odm_mapping.subjects})
        table = load_subject_table(subjects) if subjects else None
    except SafetyError as exc:
        raise click.ClickException(str(exc)) from exc
    ledger_path = state or out.with_name(f"odm-{study_id}.ledger.json")

    def one(paths: list[Path], append: bool) -> Imported:
        if len(paths) != 1:
            raise SafetyError("an ODM import takes one file: a Snapshot holds the whole study")
        if schema is not None:
            check_schema(paths[0], schema)
        rows = read_odm(paths[0], odm_mapping)
        ledger = ImportLedger.load(ledger_path, study_id)
        mapped = SdtmMapper(study, sdtm_rules, table, ledger).map(rows.datasets)
        for oid, count in rows.unmapped_groups.items():
            mapped.ignored[f"item group {oid} (not in the mapping)"] += count
        return write_import(
            "odm",
            study_id,
            [path.name for path in paths],
            mapped,
            odm_listing(mapped, rows),
            out,
            ledger,
            ledger_path,
            recorded_at,
            stream_sender() if produce else None,
            append,
        )

    run_imports(list(sources), watch, once, out, one)
