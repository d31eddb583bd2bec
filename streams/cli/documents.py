"""`safety documents --from-replay DIR --out DOCDIR`: every SAE and SUSAR document of a replay, offline.

Reads the replay's events.jsonl (every revision: a follow-up is built from each), alerts.jsonl and, when present,
pi_entries.jsonl (what the investigator wrote for the reports: verbatim term, narrative, treatment, action taken;
safety.documents.PiEntry), and writes the documents of streams/documents/write.py. The study's document constants
come from the ``documents:`` section of its rules file, else from rules/documents/<study_id>.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from pydantic import TypeAdapter, ValidationError

from safety.documents import Case, build_cases, pi_entries_from
from safety.errors import SafetyError
from safety.model.events import Event
from safety.reports import read_alerts
from safety.rules.ruleset import RuleSet
from streams.cli.report import DEFAULT_STUDY_FILE, _jsonl
from streams.documents import DocumentIndex, write_documents
from streams.rulefiles import document_constants, load_ruleset
from streams.settings import Settings

_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def cases_of(source: Path, rules_file: Path | None = None) -> tuple[list[Case], RuleSet]:
    """Every case of a replay folder, with the investigator's entries of its pi_entries.jsonl, and the rules."""
    rules = load_ruleset(rules_file or DEFAULT_STUDY_FILE)
    events = []
    for raw in _jsonl(source / "events.jsonl", required=True):
        try:
            events.append(_EVENTS.validate_python(raw, context={"tz": rules.tz}))
        except ValidationError:
            continue  # replay wrote it to rejected.jsonl: no alert stands on it
    alerts = read_alerts(_jsonl(source / "alerts.jsonl", required=True))
    try:
        entries = pi_entries_from(_jsonl(source / "pi_entries.jsonl", required=False))
    except ValidationError as exc:
        raise SafetyError(
            f"{source / 'pi_entries.jsonl'}: {exc.errors()[0]['msg']} at {'.'.join(map(str, exc.errors()[0]['loc']))}"
        ) from None
    cases = build_cases(
        alerts,
        events,
        constants=document_constants(rules),
        protocol=rules.protocol,
        criteria=rules.criteria,
        pi_entries=entries,
    )
    return cases, rules


def generate(source: Path, out: Path, rules_file: Path | None = None, schemas: Path | None = None) -> DocumentIndex:
    cases, rules = cases_of(source, rules_file)
    return write_documents(cases, out, rules.tz, schemas)


@click.command(
    "documents",
    short_help="build the SAE report, CIOMS I and E2B(R3) documents from a replay folder",
    help="Build every SAE and SUSAR document (the site's bilingual SAE report as PDF and HTML, CIOMS I as PDF, "
    "the E2B(R3) ICSR XML of each SUSAR), initial and follow-up versions, from the output folder of "
    "`safety replay`. Set SAFETY_E2B_SCHEMAS to the unpacked ICH E2B(R3) package to validate the XML too.",
)
@click.option(
    "--from-replay",
    "source",
    type=click.Path(path_type=Path),
    required=True,
    metavar="DIR",
    help="folder written by `safety replay --out DIR`; may hold pi_entries.jsonl",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, metavar="DOCDIR", help="output folder")
@click.option("--rules", type=click.Path(path_type=Path), default=None, help="study rules file")
@click.option("--quiet", is_flag=True, help="print no summary")
def documents_command(source: Path, out: Path, rules: Path | None, quiet: bool) -> int:
    try:
        index = generate(source, out, rules, Settings.load().documents.e2b_schemas)
    except SafetyError as exc:
        print(f"safety documents: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        versions = sum(len(case["versions"]) for case in index.cases)
        missing = sum(1 for case in index.cases for v in case["versions"] if v["e2b_missing"])
        print(
            f"safety documents: {len(index.cases)} case(s), {versions} version(s), {len(index.files())} file(s) "
            f"in {out} (index: documents.json); {missing} E2B report(s) with missing elements",
            file=sys.stderr,
        )
    return 0
