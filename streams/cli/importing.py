"""``safety import hl7|fhir FILE... --out EVENTS.jsonl``: the live adapters' conversion, offline.

The same conversion as the MLLP listener and the FHIR endpoint (streams/feeds/), over files, so ``safety replay``
can grade a site's past messages before it is connected. Rejections are listed on stderr with where they were and
why; patients the site's mapping does not hold are counted, never named.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from safety.errors import SafetyError
from streams.cli.import_odm import odm
from streams.cli.import_sdtm import sdtm
from streams.feeds.results import Converted, ResultMemory
from streams.feeds.site import Site, load_site

SITE_HELP = "site file (rules/sites/<site>.yaml): code and unit mapping, study"
SUBJECTS_HELP = "site-held CSV identifier,subject_id (default: the site file's subjects_file)"


def _run(
    files: tuple[Path, ...],
    out: Path,
    site_file: Path,
    subjects: Path | None,
    convert: Callable[[Path, Site, ResultMemory], Converted],
) -> None:
    try:
        site = load_site(site_file, subjects)
    except SafetyError as exc:
        raise click.ClickException(str(exc)) from exc
    memory = ResultMemory()
    total = Converted()
    for path in files:
        total.extend(convert(path, site, memory))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for event in total.events:
            handle.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    for rejected in total.rejected:
        click.echo(f"rejected: {rejected.where}: {rejected.reason}", err=True)
    click.echo(
        f"{len(total.events)} events -> {out}; rejected {len(total.rejected)}; not study subjects "
        f"{total.not_subjects}; skipped {len(total.skipped)} (unmapped codes, preliminary, non-results)",
        err=True,
    )
    if total.rejected:
        sys.exit(1)


def _hl7(path: Path, site: Site, memory: ResultMemory) -> Converted:
    from streams.feeds.hl7v2 import convert_text

    return convert_text(path.read_text(encoding="utf-8-sig", errors="replace"), site, memory, label=path.name)


def _fhir(path: Path, site: Site, memory: ResultMemory) -> Converted:
    from streams.feeds.fhir import convert_resource
    from streams.feeds.results import Rejected

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        return Converted(rejected=[Rejected(path.name, f"not JSON: {exc.msg} at line {exc.lineno}")])
    return convert_resource(data, site, memory, path.name)


_files = click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
_out = click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="events JSON lines")
_site = click.option("--site", "site_file", required=True, type=click.Path(exists=True, path_type=Path), help=SITE_HELP)
_subjects = click.option("--subjects", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=SUBJECTS_HELP)


@click.group(
    "import", help="Convert a site's HL7 v2 or FHIR R4 files, or an EDC's SDTM or ODM export, into contract events."
)
def import_group() -> None:
    pass


@import_group.command("hl7", help="HL7 v2 ORU^R01 files (one or more messages each) -> EVENTS.jsonl.")
@_files
@_out
@_site
@_subjects
def hl7_command(files: tuple[Path, ...], out: Path, site_file: Path, subjects: Path | None) -> None:
    _run(files, out, site_file, subjects, _hl7)


@import_group.command("fhir", help="FHIR R4 Observation, AdverseEvent or Bundle JSON files -> EVENTS.jsonl.")
@_files
@_out
@_site
@_subjects
def fhir_command(files: tuple[Path, ...], out: Path, site_file: Path, subjects: Path | None) -> None:
    _run(files, out, site_file, subjects, _fhir)


import_group.add_command(sdtm)
import_group.add_command(odm)
