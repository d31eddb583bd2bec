"""`safety rules check FILE|DIR...`: validate study rules files and say, in plain words, what each enables.

The same loader as the service (``streams.rulefiles.load_ruleset``: the protocol schema, then its CTCAE terms and
test codes against the criteria it selects), so a file that passes here loads in the worker and in replay; an
invalid file raises ``RuleFileError`` naming the file, the key, the bad value and the nearest valid one
(README, "Surveillance rules"). A second study is a new YAML file: this report is how its author checks what it
will do.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import click

from safety.errors import RuleFileError, SafetyError
from safety.model.values import fmt
from safety.rules.protocol import Protocol
from streams.rulefiles import load_ruleset


@click.group("rules", short_help="validate rule files", help="Validate rule files.")
def rules_command() -> None:
    pass


@rules_command.command(
    "check",
    short_help="validate study rules files and print what each enables",
    help="Validate study rules files (rules/studies/*.yaml) against the CTCAE criteria they select and print what "
    "each enables; exit 1 if any is invalid.\n\nFILE|DIR: a study rules file, or a directory: every *.yaml in it.",
)
@click.argument("files", type=click.Path(path_type=Path), nargs=-1, required=True, metavar="FILE|DIR...")
def check_command(files: tuple[Path, ...]) -> int:
    """Check every file (a directory: its *.yaml); one line per refused file on stderr, exit 1 if any is."""
    try:
        paths = study_files(files)
    except SafetyError as exc:
        print(f"safety rules check: {exc}", file=sys.stderr)
        return 1
    failed = 0
    for index, path in enumerate(paths):
        try:
            summary = rules_check(path)
        except SafetyError as exc:
            print(f"safety rules check: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(("\n" if index else "") + summary)
    return 1 if failed else 0


def _on(enabled: bool) -> str:
    return "on " if enabled else "OFF"


def study_files(paths: Iterable[Path]) -> list[Path]:
    """The files to check: each file as given, and every ``*.yaml``/``*.yml`` of each directory (sorted)."""
    files: list[Path] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            raise RuleFileError(f"{path}: no study rules file (*.yaml) in this directory")
        files.extend(found)
    return files


def rules_check(path: Path) -> str:
    """Validate ``path`` and return the human-readable summary the CLI prints."""
    p = load_ruleset(path).protocol
    d = p.dlt
    w = p.window
    clock = {name: f"{fmt(c.hours)} h ({c.what})" for name, c in p.clocks.items()}
    lines = [
        f"{path}: valid study rules for {p.study_id}" + (f" ({p.title})" if p.title else ""),
        f"  time zone {p.time_zone}; CTCAE v{p.ctcae_version}"
        + ("; clinical criteria assumed worst case" if p.assume_worst_clinical else "; grades from numbers only"),
        f"  surveillance window: study days {w.first_day}..{w.last_day} (bounds DLT and SUSPECTED_DLT only)",
        f"  related causality: {', '.join(p.related_causality)}",
        "",
        "Alert rules:",
        f"  [on ] SAE: any seriousness criterion or a death event; recipients {', '.join(p.recipients['SAE'])}; "
        f"due {clock.get('SAE', 'no clock')}",
        f"  [on ] SUSAR: SAE, related, not expected; due {clock.get('SUSAR_FATAL', 'no clock')} if fatal or "
        f"life-threatening, else {clock.get('SUSAR', 'no clock')}",
        f"  DLT (priority {' > '.join(d.priority)}), recipients {', '.join(p.recipients['DLT'])}, "
        f"due {clock.get('DLT', 'no clock')}:",
        f"    [{_on(d.dlt1.enabled)}] DLT-1 infusion reaction: {', '.join(d.dlt1.terms)} grade >= {d.dlt1.min_grade}"
        f" within {fmt(d.dlt1.within_hours)} h after any infusion, any causality",
        f"    [{_on(d.dlt2.enabled)}] DLT-2 non-hematologic AE grade >= {d.dlt2.min_grade}, related "
        f"({len(d.dlt2.hematologic_terms)} hematologic terms excluded)",
        f"    [{_on(d.dlt3.enabled)}] DLT-3 {', '.join(d.dlt3.terms)} grade >= {d.dlt3.min_grade}, causality not "
        f"{'/'.join(d.dlt3.excluded_causality)}",
        f"    [{_on(d.dlt4.enabled)}] DLT-4 {'/'.join(d.dlt4.tests)} below {fmt(d.dlt4.fraction_of_baseline * 100)}% "
        f"of baseline and grade >= {d.dlt4.min_grade}, confirmed >= {d.dlt4.confirm_after_days} study days later",
        f"    [{_on(d.dlt5.enabled)}] DLT-5 related death or related grade 5 AE",
        f"  [{_on(p.suspected_dlt.enabled)}] SUSPECTED_DLT: treatment-emergent non-hematologic "
        f"{'/'.join(p.suspected_dlt.event_types)} grade >= {p.suspected_dlt.min_grade} (once per episode), and AE "
        f"grade >= {p.suspected_dlt.min_grade} without causality; due {clock.get('SUSPECTED_DLT', 'no clock')}",
        f"  [{_on(p.potential_sae.enabled)}] POTENTIAL_SAE: treatment-emergent {'/'.join(p.potential_sae.event_types)}"
        f" grade >= {p.potential_sae.min_grade} (once per episode), unless a same-day SAE; "
        f"due {clock.get('POTENTIAL_SAE', 'no clock')}",
        f"  [{_on(p.hys_law.enabled)}] HYS_LAW: {'/'.join(p.hys_law.transaminase_tests)} >= "
        f"{fmt(p.hys_law.transaminase_x_uln)} x ULN and {p.hys_law.bilirubin_test} >= "
        f"{fmt(p.hys_law.bilirubin_x_uln)} x ULN 0..{p.hys_law.max_days_after} days later, {p.hys_law.alp_test} < "
        f"{fmt(p.hys_law.alp_x_uln_below)} x ULN; due {clock.get('HYS_LAW', 'no clock')}",
        f"  [{_on(p.stopping.enabled)}] STOPPING_BOUNDARY: Beta({fmt(p.stopping.prior_a)}, {fmt(p.stopping.prior_b)})"
        f" prior, P(DLT rate > {fmt(p.stopping.threshold)}) > {fmt(p.stopping.probability)} once n >= "
        f"{p.stopping.min_n}, first crossing only; recipients {', '.join(p.recipients['STOPPING_BOUNDARY'])}",
        "",
        "Escalation: unacknowledged "
        f"{'/'.join(p.escalation.unacknowledged_kinds)} after {fmt(p.escalation.ack_within_hours)} h, and "
        f"{'/'.join(p.escalation.ethics_report_kinds)} ethics reports not submitted "
        f"{fmt(p.escalation.ethics_margin_hours)} h before due, are re-sent to {', '.join(p.escalation.resend_to)}",
        "",
        *schedule_lines(p),
    ]
    return "\n".join(lines)


def schedule_lines(p: Protocol) -> list[str]:
    """The expected assessments: per group its tests and visit days, the windows, the grace and silence limits."""
    s = p.schedule
    windows = "; ".join(
        f"+-{band.days} day{'s' if band.days != 1 else ''} up to day {band.through_day}" for band in s.windows
    )
    return [
        "Expected data"
        + (
            " (default schedule: the study file has no schedule section)"
            if "schedule" not in p.model_fields_set
            else ""
        )
        + ":",
        *(
            f"  {name}: {', '.join(group.tests)} on days {', '.join(map(str, group.days))}"
            for name, group in s.groups.items()
        ),
        f"  windows: {windows}; DATA_OVERDUE {s.grace_days} days after a window's last day to "
        f"{', '.join(p.recipients_of('DATA_OVERDUE'))}",
        f"  FEED_SILENT after {fmt(s.silence_limit_hours)} h without events from a source to "
        f"{', '.join(p.recipients_of('FEED_SILENT'))}",
    ]
