"""`safety import sdtm DIR|FILES --study ID --out EVENTS.jsonl`: an EDC's SDTM export -> contract events.

File I/O around streams/feeds/sdtm.py (mapping) and streams/feeds/import_ledger.py (re-imports); what is written
and in which order: streams/cli/import_files.py. The ledger is ``--state FILE``, by default
``sdtm-<study>.ledger.json`` in the folder of ``--out``. ``--watch DIR`` takes exports as they land
(streams/cli/import_watch.py); ``--produce`` also sends the emitted events to the stream.
"""

from __future__ import annotations

from pathlib import Path

import click

from safety.errors import SafetyError
from streams.cli.import_files import Imported, write_import
from streams.cli.import_watch import import_options, run_imports, stream_sender, study_rules
from streams.feeds.datasets import dataset_files, read_dataset
from streams.feeds.import_ledger import ImportLedger
from streams.feeds.sdtm import SdtmMapper
from streams.feeds.sdtm_rules import load_sdtm_rules, load_subject_table


@click.command("sdtm")
@click.argument("sources", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--subjects",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV usubjid,subject_code: an explicit subject table instead of subjects.pattern",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the SDTM mapping (default: rules/feeds/sdtm.yaml)",
)
@import_options("sdtm")
def sdtm(
    sources: tuple[Path, ...],
    study_id: str,
    out: Path,
    state: Path | None,
    subjects: Path | None,
    mapping: Path | None,
    rules: Path | None,
    recorded_at: str | None,
    watch: Path | None,
    once: bool,
    produce: bool,
) -> None:
    """Import an EDC's CDISC SDTM export (DM, EX, LB, VS, EG, AE, DS as .xpt, Dataset-JSON .json/.ndjson or .csv):
    a directory or files, or each export landing in --watch DIR."""
    try:
        study = study_rules(rules, study_id)
        sdtm_rules = load_sdtm_rules(mapping)
        table = load_subject_table(subjects) if subjects else None
    except SafetyError as exc:
        raise click.ClickException(str(exc)) from exc
    ledger_path = state or out.with_name(f"sdtm-{study_id}.ledger.json")

    def one(paths: list[Path], append: bool) -> Imported:
        files = dataset_files(paths)
        if not files:
            raise SafetyError(f"{', '.join(map(str, paths))}: no .xpt, .json, .ndjson or .csv dataset")
        datasets = [read_dataset(path) for path in files]
        ledger = ImportLedger.load(ledger_path, study_id)
        mapped = SdtmMapper(study, sdtm_rules, table, ledger).map(datasets)
        return write_import(
            "sdtm",
            study_id,
            [path.name for path in files],
            mapped,
            [item.as_dict() for item in mapped.listed],
            out,
            ledger,
            ledger_path,
            recorded_at,
            stream_sender() if produce else None,
            append,
        )

    run_imports(list(sources), watch, once, out, one)
