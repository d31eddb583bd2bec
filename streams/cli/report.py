"""`safety report --from-replay DIR --out REPORTDIR [--pdf FILE]`: ethics committee documents and safety pages, offline.

Reads a replay's output folder (events.jsonl, graded.jsonl, alerts.jsonl and, when present, acks.jsonl) and
writes safety-summary.json/.csv/.html/.pdf, ethics.atom and the pages as static HTML (overview.html, alerts.html,
alert-<alert_id>.html, overdue.html, ae-listing.html, lab-listing.html, ethics.html, ethics-feed.html,
subject-<code>.html, edish.html) with the lists' CSV; ``--pdf FILE`` writes the safety summary as an A4 PDF to
print and file (streams/documents/summary_pdf.py), with or without ``--out``. The worker serves the same documents
from the stream (streams/web/pages.py); both are built by the pure functions of safety.reports / streams.web.ethics /
streams.web.views, with the one template environment of streams/web/templating.py.

``generated_at`` defaults to the latest time found in the inputs, so the same folder always gives the same
files (byte for byte); pass ``--generated-at now`` for the wall clock or an ISO 8601 time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from safety.errors import SafetyError
from safety.reports import (
    Report,
    StoppingParams,
    ae_listing,
    alert_detail,
    build_report,
    edish_points,
    lab_listing,
    read_acks,
    read_alerts,
    read_events,
    read_graded,
    subject_timeline,
)
from safety.rules.protocol import Protocol
from safety.rules.ruleset import RuleSet
from streams.cli.listing import listing_command
from streams.documents.summary_pdf import summary_pdf
from streams.rulefiles import load_ruleset
from streams.web import ethics
from streams.web import views as pages

DEFAULT_STUDY_FILE = Path(__file__).resolve().parents[2] / "rules" / "studies" / "ChiCTR2600125907.yaml"


def _jsonl(path: Path, required: bool) -> Iterator[dict[str, Any]]:
    if not path.exists():
        if required:
            raise SafetyError(f"{path}: not found; point --from-replay at the --out folder of `safety replay`")
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise SafetyError(f"{path}:{number}: not valid JSON ({exc.msg}); was the file truncated?") from None


def _latest_time(events: Sequence[Any], alerts: Sequence[Any], acks: Sequence[Any]) -> datetime:
    times = [e.recorded_at or e.occurred_at for e in events] + [a.raised_at for a in alerts] + [a.at for a in acks]
    return max(times) if times else datetime(1970, 1, 1, tzinfo=UTC)


def _study_id(events: Sequence[Any], protocol: Protocol | None, wanted: str | None) -> str:
    if wanted:
        return wanted
    if protocol is not None and any(e.study_id == protocol.study_id for e in events):
        return protocol.study_id
    ids = sorted({e.study_id for e in events})
    if len(ids) > 1:
        raise SafetyError(f"the replay holds several studies ({', '.join(ids)}); choose one with --study")
    return ids[0] if ids else (protocol.study_id if protocol else "unknown")


def read_report(
    source: Path, *, generated_at: datetime | None = None, study: str | None = None, rules_file: Path | None = None
) -> tuple[Report, RuleSet, list[Any], list[Any]]:
    """The report of a replay folder with what the pages need besides it: (report, rules, study events, graded)."""
    rules = load_ruleset(rules_file or DEFAULT_STUDY_FILE)
    protocol, tz = rules.protocol, rules.tz
    events = read_events(_jsonl(source / "events.jsonl", required=True), tz)
    graded = read_graded(_jsonl(source / "graded.jsonl", required=False))
    alerts = read_alerts(_jsonl(source / "alerts.jsonl", required=True))
    acks = read_acks(_jsonl(source / "acks.jsonl", required=False))
    study_id = _study_id(events, protocol, study)
    stopping = StoppingParams.of(protocol) if protocol.study_id == study_id else StoppingParams()
    when = generated_at or _latest_time(events, alerts, acks)
    schedule = protocol.schedule if protocol.study_id == study_id else None
    report = build_report(
        events, alerts, acks, study_id=study_id, generated_at=when, stopping=stopping, tz=tz, schedule=schedule
    )
    return report, rules, [e for e in events if e.study_id == study_id], graded


def write_report(
    source: Path,
    out: Path,
    *,
    generated_at: datetime | None = None,
    study: str | None = None,
    rules_file: Path | None = None,
) -> Report:
    """Build every document from ``source`` into ``out``; return the report (for the summary line).

    The study file selects the protocol (stopping rule, Hy's law lines, time zone) and the CTCAE version whose
    criteria and units draw the timelines' grade bands and convert values (rules/, never constants here).
    """
    report, rules, study_events, graded = read_report(
        source, generated_at=generated_at, study=study, rules_file=rules_file
    )
    protocol, tz, study_id = rules.protocol, rules.tz, report.overview.study_id
    links = pages.Links.static()
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "safety-summary.json": ethics.summary_json(report),
        "safety-summary.csv": ethics.summary_csv(report),
        "safety-summary.html": ethics.summary_html(report),
        "ethics.atom": ethics.atom_feed(report),
        "overview.html": pages.overview_page(report, links),
        "alerts.html": pages.alerts_page(report, links),
        "edish.html": pages.edish_page(
            edish_points(
                study_events,
                criteria=rules.criteria,
                hys_law=protocol.hys_law,
                graded=graded,
                statuses=report.statuses,
            ),
            links,
            study_id,
            hys_law=protocol.hys_law,
        ),
    }
    by_subject: dict[str, list[Any]] = {}
    for event in study_events:
        by_subject.setdefault(event.subject_id, []).append(event)
    graded_by_subject: dict[str, list[Any]] = {}
    for row in graded:
        graded_by_subject.setdefault(row.subject_id, []).append(row)
    for code in report.subjects:
        timeline = subject_timeline(
            code,
            by_subject.get(code, []),
            graded_by_subject.get(code, []),
            report.statuses,
            criteria=rules.criteria,
            tz=tz,
        )
        files[f"subject-{code}.html"] = pages.subject_page(timeline, links)
    files.update(_lists(report, study_events, graded, links, tz, rules.criteria))
    for st in report.statuses:
        detail = alert_detail(st, study_events, graded_by_subject.get(st.alert.subject_id, []))
        files[f"alert-{st.alert.alert_id}.html"] = pages.alert_page(
            detail, links, report.overview.generated_at.tzinfo, report.overview.generated_at
        )
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
    (out / "safety-summary.pdf").write_bytes(summary_pdf(report))
    return report


def _lists(
    report: Report, events: list[Any], graded: list[Any], links: pages.Links, tz: Any, criteria: Any
) -> dict[str, str]:
    """The lists and the committee's pages, as the worker serves them unfiltered (a static page cannot filter)."""
    ae_rows = ae_listing(events, tz, criteria)
    labs = lab_listing([g for g in graded if g.study_id == report.overview.study_id])
    shown_tz = report.overview.generated_at.tzinfo
    return {
        "alerts.csv": pages.alerts_csv(report),
        "overdue.html": pages.overdue_page(report, links),
        "overdue.csv": pages.overdue_csv(report),
        "ae-listing.html": pages.ae_listing_page(ae_rows, links, report.overview.study_id, shown_tz),
        "ae-listing.csv": pages.ae_csv(ae_rows, shown_tz),
        "lab-listing.html": pages.lab_listing_page(labs, links, report.overview.study_id, shown_tz, 1, None),
        "lab-listing.csv": pages.lab_csv(labs, shown_tz),
        "ethics.html": pages.ethics_page(report, links),
        "ethics-feed.html": pages.feed_page(report, links),
    }


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text == "now":
        return datetime.now(UTC).astimezone()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SafetyError(f"--generated-at: expected 'now' or an ISO 8601 time with offset, got {text!r}") from None
    if value.tzinfo is None:
        raise SafetyError(f"--generated-at: {text!r} has no UTC offset; add one, e.g. {text}+08:00")
    return value


@click.group(
    "report",
    invoke_without_command=True,
    short_help="build the ethics committee reports from a replay folder",
    help="Build the ethics committee reports (safety-summary.json/.csv/.html/.pdf, ethics.atom) and the safety pages "
    "as static HTML from the output folder of `safety replay`; --pdf writes the safety summary as an A4 PDF; "
    "`safety report listing` writes the cumulative SAE/SUSAR line listing of a period.",
)
@click.option(
    "--from-replay",
    "source",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="folder written by `safety replay --out DIR` (events.jsonl, alerts.jsonl, ...); required",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, metavar="REPORTDIR", help="output folder of every document"
)
@click.option(
    "--pdf",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="FILE",
    help="write the safety summary as an A4 PDF (Chinese and English, page numbers) to FILE",
)
@click.option(
    "--generated-at",
    default=None,
    help="report time: ISO 8601 with offset, or 'now' (default: latest time in the inputs)",
)
@click.option("--study", default=None, help="study_id when the replay holds several")
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    default=None,
    help="study rules file (stopping rule, Hy's law lines, CTCAE version of the timeline bands)",
)
@click.option("--quiet", is_flag=True, help="print no summary")
@click.pass_context
def report_command(
    ctx: click.Context,
    source: Path | None,
    out: Path | None,
    pdf: Path | None,
    generated_at: str | None,
    study: str | None,
    rules: Path | None,
    quiet: bool,
) -> int | None:
    if ctx.invoked_subcommand is not None:
        return None
    if source is None:  # required unless a subcommand runs
        raise click.MissingParameter(ctx=ctx, param=next(p for p in ctx.command.params if p.name == "source"))
    if out is None and pdf is None:
        print(
            "safety report: say where to write: --out REPORTDIR (every document), --pdf FILE, or both", file=sys.stderr
        )
        return 2
    try:
        when = _when(generated_at)
        if out is not None:
            report = write_report(source, out, generated_at=when, study=study, rules_file=rules)
        else:
            report = read_report(source, generated_at=when, study=study, rules_file=rules)[0]
        if pdf is not None:
            pdf.parent.mkdir(parents=True, exist_ok=True)
            pdf.write_bytes(summary_pdf(report))
    except SafetyError as exc:
        print(f"safety report: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        ov = report.overview
        p = "n/a" if ov.stopping_probability is None else f"{ov.stopping_probability:.3f}"
        print(
            f"safety report: {ov.study_id}: {ov.subjects_infused} infused, {ov.subjects_with_dlt} with DLT, "
            f"{ov.subjects_with_sae} with SAE, P(rate > {ov.stopping.threshold:g}) = {p}, "
            f"boundary {'CROSSED' if ov.stopping_boundary_crossed else 'not crossed'}; "
            f"{len(report.listing)} SAE/SUSAR listed; wrote "
            + "; ".join(
                ([f"{out}/overview.html, ethics.atom, safety-summary.{{json,csv,html,pdf}}"] if out is not None else [])
                + ([str(pdf)] if pdf is not None else [])
            ),
            file=sys.stderr,
        )
    return 0


report_command.add_command(listing_command)
