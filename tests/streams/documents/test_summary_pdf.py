"""The safety summary as an A4 PDF to print and file (streams/documents/summary_pdf.py), read back with pypdf: what
a committee member reading the paper sees."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import report_fixtures as fx
from pypdf import PdfReader

from safety.reports import Report, build_report
from safety.reports.summary import CAUSALITY_LABELS, SERIOUSNESS_LABELS
from safety.vocab import CAUSALITIES, SERIOUSNESS
from streams.cli import main
from streams.documents.pdf import CJK_FONT
from streams.documents.summary_pdf import summary_pdf

pytestmark = pytest.mark.skipif(not CJK_FONT.exists(), reason="fonts-wqy-microhei is not installed (make browser)")

A4 = (595.28, 841.89)  # points
CODES = [c for c in (*SERIOUSNESS, *CAUSALITIES) if c != "related"]  # "related" is a word of "Possibly related"


def _report(copies: int = 1) -> Report:
    """The fixture trial; ``copies`` > 1 repeats its SAE/SUSAR alerts under new ids, for a listing of many pages."""
    alerts = fx.alerts()
    extra = [
        {**a, "alert_id": f"{a['alert_id']}-{i}"}
        for i in range(1, copies)
        for a in alerts
        if a["kind"] in ("SAE", "SUSAR")
    ]
    return build_report(fx.events(), alerts + extra, fx.acks(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT)


def _pages(report: Report) -> list[str]:
    reader = PdfReader(io.BytesIO(summary_pdf(report)))
    for page in reader.pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == A4
    return [page.extract_text() for page in reader.pages]


def test_the_summary_states_its_data_cut_off_the_latest_event_included() -> None:
    report = _report()
    latest = max(e.get("recorded_at") or e["occurred_at"] for e in fx.events())
    cutoff = report.data_cutoff
    assert cutoff is not None and cutoff.isoformat() == latest
    text = "\n".join(_pages(report))
    assert f"Data cut-off: {cutoff:%Y-%m-%d %H:%M %z}" in text
    assert f"Generated at: {fx.GENERATED_AT:%Y-%m-%d %H:%M %z}" in text


def test_beside_the_current_posterior_it_says_when_the_boundary_was_crossed_and_at_which_x_of_n() -> None:
    report = _report()
    boundary = next(s.alert for s in report.statuses if s.alert.kind == "STOPPING_BOUNDARY")
    text = " ".join(" ".join(_pages(report)).split())
    assert "Current posterior P(DLT rate > 0.3) 0.916 (2 / 3)" in text
    assert f"Crossed on {boundary.raised_at:%Y-%m-%d %H:%M %z} at 2 of 3 subjects with a DLT, P = 0.916" in text


def test_codes_are_printed_as_words_in_chinese_and_english() -> None:
    text = "\n".join(_pages(_report()))
    for code in CODES:
        assert not re.search(rf"\b{code}\b", text), code
    assert "住院或延长住院" in text and "Hospitalised" in text  # AA-001's and AA-002's SAE
    assert "可能无关" in text and "Unlikely related" in text  # AA-002's causality
    assert set(SERIOUSNESS_LABELS) == set(SERIOUSNESS) and set(CAUSALITY_LABELS) == set(CAUSALITIES)


def test_a_long_listing_is_numbered_page_i_of_n_and_keeps_every_column_on_each_page() -> None:
    pages = _pages(_report(copies=12))
    assert len(pages) >= 2
    heads = ("Kind", "Subject", "Day", "Term", "Grade", "Seriousness", "Causality", "Expected", "Outcome",
             "Report due", "Submitted", "Status")  # fmt: skip
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in text
        flat = " ".join(text.split())
        assert all(head in flat for head in heads), number  # the heading row repeats on every page
    reader = PdfReader(io.BytesIO(summary_pdf(_report(copies=12))))
    right: list[float] = []
    for page in reader.pages:
        page.extract_text(visitor_text=lambda text, cm, tm, font, size: right.append(tm[4]) if text.strip() else None)
    assert right and max(right) < A4[0] - 12 * 72 / 25.4  # every line starts inside the right margin


def test_the_same_report_gives_the_same_bytes() -> None:
    assert summary_pdf(_report()) == summary_pdf(_report())


def test_safety_report_pdf_writes_the_summary_without_the_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    out = tmp_path / "filed" / "summary.pdf"
    assert main(["report", "--from-replay", str(source), "--pdf", str(out)]) == 0
    assert str(out) in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == ["summary.pdf"]
    text = PdfReader(out).pages[0].extract_text()
    assert "Safety summary" in text and "Data cut-off" in text


def test_safety_report_with_out_files_the_pdf_beside_the_html(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    assert main(["report", "--from-replay", str(source), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    assert (tmp_path / "r" / "safety-summary.pdf").read_bytes().startswith(b"%PDF-")
    assert 'href="safety-summary.pdf"' in (tmp_path / "r" / "overview.html").read_text(encoding="utf-8")


def test_safety_report_without_out_or_pdf_says_what_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    assert main(["report", "--from-replay", str(source)]) == 2
    err = capsys.readouterr().err
    assert "--out REPORTDIR" in err and "--pdf FILE" in err


def test_the_paper_states_data_completeness_per_visit_as_the_page_does(ruleset) -> None:  # type: ignore[no-untyped-def]
    report = build_report(
        fx.events(), fx.alerts(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT, schedule=ruleset.protocol.schedule
    )
    assert report.completeness, "the fixture's subjects have visits due"
    text = " ".join(" ".join(_pages(report)).split())
    assert "Data completeness per visit" in text
    for tally in report.completeness:
        assert f"{tally.group} {tally.visit_day} {tally.due} {tally.complete}" in text


def test_without_the_schedule_the_paper_says_no_visit_is_due() -> None:
    text = " ".join(" ".join(_pages(_report())).split())
    assert "Data completeness per visit" in text and "No visit due" in text
