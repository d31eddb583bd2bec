"""`safety import sdtm DIR|FILES --study ID --out EVENTS.jsonl`: an EDC's SDTM export -> contract events.

File I/O around streams/feeds/sdtm.py (mapping) and streams/feeds/import_ledger.py (re-imports). Writes, beside
``--out``: ``<out>.rejects.jsonl`` (every record that gave no event: domain, row, variable, reason) and
``<out>.report.json`` (the counts, and the event ids of records missing from this export); the ledger is
``--state FILE``, by default ``sdtm-<study>.ledger.json`` in the folder of ``--out``. Publishing to the stream is
``safety produce EVENTS.jsonl`` afterwards.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from safety.errors import SafetyError
from safety.rules.ruleset import load_rulebook
from streams.feeds.datasets import dataset_files, read_dataset
from streams.feeds.import_ledger import ImportLedger
from streams.feeds.sdtm import SdtmMapper
from streams.feeds.sdtm_rules import load_sdtm_rules, load_subject_table


def _beside(out: Path, suffix: str) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def _recorded_at(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date-time such as 2026-08-05T09:00:00+08:00") from exc
    return value


@click.command("sdtm")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--study", "study_id", required=True, help="the study the export belongs to (rules/studies/<ID>.yaml)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSON-lines file of the events this import emits (new or changed records only)")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the import ledger (default: sdtm-<study>.ledger.json beside --out)")
@click.option("--subjects", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV usubjid,subject_code: an explicit subject table instead of subjects.pattern")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the SDTM mapping (default: rules/feeds/sdtm.yaml)")
@click.option("--rules", type=click.Path(exists=True, path_type=Path), default=None,
              help="a study rules file or directory (default: rules/studies)")
@click.option("--recorded-at", callback=lambda _c, _p, v: _recorded_at(v), default=None,
              help="when the export was taken (ISO 8601): recorded_at of every emitted event; it starts the "
                   "reporting clocks (without it they start at occurred_at)")
def sdtm(sources: tuple[Path, ...], study_id: str, out: Path, state: Path | None, subjects: Path | None,
         mapping: Path | None, rules: Path | None, recorded_at: str | None) -> None:
    """Import an EDC's CDISC SDTM export (DM, EX, LB, VS, EG, AE, DS as .xpt, Dataset-JSON .json/.ndjson or .csv):
    a directory or files."""
    try:
        study = load_rulebook(rules).get(study_id)
        if study is None:
            raise SafetyError(f"--study {study_id}: no rules for this study; add rules/studies/{study_id}.yaml or "
                              "pass --rules")
        mapper = SdtmMapper(study, load_sdtm_rules(mapping), load_subject_table(subjects) if subjects else None)
        files = dataset_files(list(sources))
        if not files:
            raise SafetyError(f"{', '.join(map(str, sources))}: no .xpt, .json, .ndjson or .csv dataset")
        mapped = mapper.map([read_dataset(path) for path in files])
        ledger_path = state or out.with_name(f"sdtm-{study_id}.ledger.json")
        ledger = ImportLedger.load(ledger_path, study_id)
        changes = ledger.apply(mapped.events, mapped.digests, recorded_at)
    except SafetyError as exc:
        raise click.ClickException(str(exc)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(event, ensure_ascii=False) + "\n" for event in changes.emitted)
    rejects = _beside(out, ".rejects.jsonl")
    with rejects.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(item.as_dict(), ensure_ascii=False) + "\n" for item in mapped.listed)
    rejected = sum(item.kind == "rejected" for item in mapped.listed)
    report = {"study_id": study_id, "files": [path.name for path in files], "events": len(mapped.events),
              "new": changes.new, "changed": changes.changed, "unchanged": changes.unchanged,
              "rejected": rejected, "not_mapped": len(mapped.listed) - rejected,
              "ignored": dict(sorted(mapped.ignored.items())), "missing": changes.missing}
    _beside(out, ".report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    ledger.save(ledger_path)  # last: a failed write above leaves the ledger as it was, so the next import redoes it
    click.echo(f"sdtm {study_id}: {len(files)} files, {len(mapped.events)} events: {changes.new} new, "
               f"{changes.changed} changed (higher revision), {changes.unchanged} unchanged -> {out}")
    click.echo(f"  {rejected} records rejected, {len(mapped.listed) - rejected} not mapped -> {rejects}")
    if changes.missing:
        click.echo(f"  {len(changes.missing)} records of earlier imports are missing from this export "
                   f"(listed in {_beside(out, '.report.json')}):")
        for event_id in changes.missing:
            click.echo(f"    {event_id}")
