"""`safety report listing`: the committee's cumulative SAE/SUSAR line listing of a period, as CSV, HTML and PDF."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pypdf import PdfReader

from streams.cli import main

BASE = {"study_id": "ChiCTR2600125907", "source": "EDC", "type": "adverse_event", "grade": 3}


def _ae(subject: str, day: str, **more: object) -> dict[str, object]:
    return {
        **BASE,
        "subject_id": subject,
        "event_id": f"{subject}-AE1",
        "occurred_at": f"{day}T08:00:00+08:00",
        "recorded_at": f"{day}T10:00:00+08:00",
        "term": "张伟 13812345678 fever",
        "ctcae_term": "Fever",
        "serious": ["hospitalization"],
        **more,
    }


def test_the_listing_of_a_period_lists_its_cases_in_csv_and_html_without_free_text(tmp_path: Path) -> None:
    events = [
        _ae("AA-901", "2026-07-03", causality="possible", expected=False, outcome="recovering"),
        _ae("AA-902", "2026-08-20", outcome="not recovered"),
        {
            **_ae("AA-901", "2026-07-03", causality="possible", expected=False, outcome="recovered"),
            "revision": 2,
            "recorded_at": "2026-07-20T10:00:00+08:00",
        },
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    assert main(["replay", str(source), "--out", str(tmp_path / "replay")]) == 0
    args = ["report", "listing", "--from-replay", str(tmp_path / "replay"), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*args, "--from", "2026-07-01", "--to", "2026-07-31"]) == 0
    stem = tmp_path / "out" / "ChiCTR2600125907-line-listing-2026-07-01-2026-07-31"
    rows = list(csv.DictReader(io.StringIO(stem.with_suffix(".csv").read_text(encoding="utf-8"))))
    assert [(r["subject_id"], r["term"], r["susar"], r["outcome"], r["versions"]) for r in rows] == [
        ("AA-901", "Fever", "yes", "Recovered / resolved", "2")
    ]
    assert (rows[0]["first_reported"], rows[0]["last_reported"]) == ("2026-07-03", "2026-07-20")
    html = stem.with_suffix(".html").read_text(encoding="utf-8")
    assert 'data-testid="case-count">1<' in html and "AA-901" in html and "AA-902" not in html
    pdf = PdfReader(stem.with_suffix(".pdf"))
    printed = "\n".join(page.extract_text() for page in pdf.pages)
    assert all(page.mediabox.width > page.mediabox.height for page in pdf.pages)  # A4 landscape
    for text in ("累计一览表", "Cumulative line listing", "AA-901", "Fever", "Recovered", "Page 1 of"):
        assert text in printed
    assert "AA-902" not in printed
    for text in (html, stem.with_suffix(".csv").read_text(encoding="utf-8"), printed):
        assert "张伟" not in text and "13812345678" not in text
    assert main([*args, "--from", "2026-09-01", "--to", "2026-08-01"]) == 1  # a period that ends before it starts
