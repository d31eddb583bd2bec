"""The SAE report, CIOMS I and E2B(R3) documents of the demo trial's SAEs and SUSARs, read back and checked
against the alerts and the events they come from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pypdf import PdfReader

from streams.cli import main
from streams.documents.e2b_xml import NS

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "examples" / "demo_events.jsonl"


def _replay(events: Path, out: Path) -> Path:
    assert main(["replay", str(events), "--out", str(out)]) == 0
    return out


def _documents(replay: Path, out: Path) -> dict[str, Any]:
    assert main(["documents", "--from-replay", str(replay), "--out", str(out), "--quiet"]) == 0
    index: dict[str, Any] = json.loads((out / "documents.json").read_text(encoding="utf-8"))
    return index


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def _alerts(replay: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (replay / "alerts.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("demo")
    replay = _replay(DEMO, base / "replay")
    return replay, base / "docs", _documents(replay, base / "docs")


def test_every_sae_and_susar_alert_has_a_case_with_its_documents(demo: tuple[Path, Path, dict[str, Any]]) -> None:
    replay, docs, index = demo
    covered = {a for case in index["cases"] for a in case["alert_ids"]}
    wanted = {a["alert_id"] for a in _alerts(replay) if a["kind"] in ("SAE", "SUSAR")}
    assert wanted == covered
    for case in index["cases"]:
        for version in case["versions"]:
            names = {Path(f).name for f in version["files"]}
            assert {"sae-report.pdf", "sae-report.html", "cioms-i.pdf"} <= names
            assert ("e2b-r3.xml" in names) == version["susar"]
            assert all((docs / f).stat().st_size > 0 for f in version["files"])


def test_the_sae_report_pdf_carries_the_alerts_fields_in_chinese_and_english(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    replay, docs, index = demo
    sae = next(a for a in _alerts(replay) if a["kind"] == "SAE" and a["subject_id"] == "AA-007")
    case = next(c for c in index["cases"] if sae["alert_id"] in c["alert_ids"])
    text = _pdf_text(docs / case["versions"][0]["files"][0])
    for label in (
        "严重不良事件报告表",
        "Serious Adverse Event Report",
        "首次报告",
        "Initial report",
        "受试者编号",
        "Subject code",
        "伦理批件号",
        "Ethics approval number",
        "严重性标准",
        "Seriousness criteria",
        "危及生命",
        "Life-threatening",
        "导致住院或住院时间延长",
        "可能无关",
        "Unlikely related",
        "非预期",
        "Unexpected",
        "痊愈",
        "主要研究者",
        "Principal investigator",
    ):
        assert label in text, label
    assert sae["subject_id"] in text and sae["ctcae_term"] in text and "ChiCTR2600125907" in text
    assert "2026-09-05 03:00" in text  # onset, study time zone
    assert f"CTCAE 分级\nCTCAE grade {sae['grade']}" in text


def test_the_cioms_form_ticks_the_seriousness_of_the_event_and_fits_one_page(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    replay, docs, index = demo
    death = next(a for a in _alerts(replay) if a["kind"] == "SAE" and a["rule_id"] == "SAE-DEATH")
    case = next(c for c in index["cases"] if death["alert_id"] in c["alert_ids"])
    cioms = docs / case["case_id"] / "v1" / "cioms-i.pdf"
    assert len(PdfReader(cioms).pages) == 1
    text = _pdf_text(cioms)
    for label in (
        "SUSPECT ADVERSE REACTION REPORT",
        "PATIENT DIED",
        "14. SUSPECT DRUG(S)",
        "UC-MSC",
        "24b. MFR CONTROL NO.",
        "Death NOS",
        death["subject_id"],
        "Initial",
    ):
        assert label in text, label


def test_the_e2b_report_of_a_susar_has_its_mandatory_elements_and_names_the_missing_meddra_code(
    demo: tuple[Path, Path, dict[str, Any]],
) -> None:
    replay, docs, index = demo
    susar = next(a for a in _alerts(replay) if a["kind"] == "SUSAR" and a["subject_id"] == "AA-009")
    case = next(c for c in index["cases"] if susar["alert_id"] in c["alert_ids"])
    version = case["versions"][0]
    xml = etree.parse(str(docs / case["case_id"] / "v1" / "e2b-r3.xml"))
    first = xml.xpath
    assert first("//h:investigationCharacteristic[h:code/@code='1']/h:value/@code", namespaces=NS) == ["2"]
    assert first("//h:researchStudy/h:authorization/h:studyRegistration/h:id/@extension", namespaces=NS) == [
        "ChiCTR2600125907"
    ]
    assert first("//h:primaryRole/h:player1/h:name/@nullFlavor", namespaces=NS) == ["MSK"]
    assert first("//h:observation[h:code/@code='33']/h:value/@value", namespaces=NS) == ["true"]  # hospitalised
    assert first("//h:observation[h:code/@code='34']/h:value/@value", namespaces=NS) == ["false"]
    assert first("//h:kindOfProduct/h:name/text()", namespaces=NS) == [
        "Human umbilical cord mesenchymal stem cells (UC-MSC)"
    ]
    assert first("//h:causalityAssessment[h:code/@code='39']/h:value/text()", namespaces=NS) == ["Possibly related"]
    assert first("//h:observation[h:code/@code='29']/h:value/h:originalText/text()", namespaces=NS) == [
        "Pneumonitis (CTCAE v5.0, grade 2)"
    ]
    # The demo sends no MedDRA code: the report says so instead of inventing one, and nothing else is missing.
    assert len(version["e2b_missing"]) == 1 and version["e2b_missing"][0].startswith("E.i.2.1b")
    assert not first("//h:value[@codeSystem='2.16.840.1.113883.6.163']", namespaces=NS)


def test_an_ae_revision_makes_a_follow_up_with_the_same_case_id(demo: tuple[Path, Path, dict[str, Any]]) -> None:
    _, docs, index = demo
    case = next(c for c in index["cases"] if c["event_id"] == "AA-024-AE0001")
    initial, follow_up = case["versions"]
    assert (initial["version"], initial["report_type"], follow_up["version"], follow_up["report_type"]) == (
        1,
        "initial",
        2,
        "summary (follow-up 1)",  # recovered and ended: the event is over
    )
    assert not initial["susar"] and follow_up["susar"]  # revision 2 added causality "possible": now a SUSAR
    text = _pdf_text(docs / case["case_id"] / "v2" / "sae-report.pdf")
    assert "总结报告（第1次随访）" in text and "Summary report (follow-up no. 1)" in text
    assert f"{case['case_id']} (initial report of 2026-11-24)" in text
    assert "可能有关" in text
    xml = etree.parse(str(docs / case["case_id"] / "v2" / "e2b-r3.xml"))
    report_id = xml.xpath("//h:investigationEvent/h:id/@extension", namespaces=NS)[0]
    assert report_id.endswith(case["case_id"])
    assert xml.xpath("//h:investigationEvent/h:effectiveTime/h:low/@value", namespaces=NS) == ["20261124090000+0800"]


def test_the_same_replay_gives_the_same_bytes(demo: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    replay, docs, index = demo
    _documents(replay, tmp_path / "again")
    for f in ["documents.json", *[f for c in index["cases"] for v in c["versions"] for f in v["files"]]]:
        assert (tmp_path / "again" / f).read_bytes() == (docs / f).read_bytes(), f


IDENTIFIERS = ("张伟", "Zhang Wei", "13812345678", "住院号 20260917", "20260917")


def test_no_name_phone_or_record_number_in_free_text_reaches_a_document(tmp_path: Path) -> None:
    base = {"study_id": "ChiCTR2600125907", "subject_id": "AA-901", "source": "EDC"}
    events = [
        {
            **base,
            "type": "enrollment",
            "event_id": "E1",
            "occurred_at": "2026-07-01T08:00:00+08:00",
            "sex": "F",
            "age": 40,
        },
        {
            **base,
            "type": "infusion",
            "event_id": "I1",
            "occurred_at": "2026-07-02T08:00:00+08:00",
            "infusion_number": 1,
            "dose_per_kg": 1000000,
            "lot": "张伟 13812345678",
        },
        {
            **base,
            "type": "adverse_event",
            "event_id": "AE1",
            "occurred_at": "2026-07-03T08:00:00+08:00",
            "recorded_at": "2026-07-03T10:00:00+08:00",
            "term": "张伟 (Zhang Wei) 13812345678 住院号 20260917 fever",
            "ctcae_term": "Fever",
            "meddra_code": "20260917",
            "grade": 3,
            "serious": ["hospitalization"],
            "causality": "possible",
            "expected": False,
            "outcome": "Zhang Wei discharged, call 13812345678",
        },
        {
            **base,
            "type": "death",
            "event_id": "D1",
            "occurred_at": "2026-07-09T08:00:00+08:00",
            "recorded_at": "2026-07-09T09:00:00+08:00",
            "cause": "张伟 住院号 20260917 13812345678",
            "causality": "unassessable",
        },
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    index = _documents(_replay(source, tmp_path / "replay"), tmp_path / "docs")
    files = [f for c in index["cases"] for v in c["versions"] for f in v["files"]]
    assert {Path(f).name for f in files} >= {"sae-report.pdf", "cioms-i.pdf", "sae-report.html", "e2b-r3.xml"}
    for f in files:
        path = tmp_path / "docs" / f
        text = _pdf_text(path) if path.suffix == ".pdf" else path.read_text(encoding="utf-8")
        for identifier in IDENTIFIERS:
            assert identifier not in text, (f, identifier)
    assert "20260917" not in (tmp_path / "docs" / "documents.json").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) renders the PDFs to PNG")
def test_each_document_renders_to_png(demo: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    """Writes PNGs of the follow-up's SAE report and CIOMS form to SAFETY_DOCUMENT_PNGS (default: tmp) to look at."""
    _, docs, index = demo
    case = next(c for c in index["cases"] if c["event_id"] == "AA-024-AE0001")
    for name in ("sae-report.pdf", "cioms-i.pdf"):
        prefix = tmp_path / name.removesuffix(".pdf")
        subprocess.run(
            ["pdftoppm", "-r", "60", "-png", str(docs / case["case_id"] / "v2" / name), str(prefix)], check=True
        )
        pngs = sorted(tmp_path.glob(f"{prefix.name}*.png"))
        assert pngs and all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_the_e2b_schemas_setting_reaches_the_check_and_a_wrong_folder_says_what_to_give(
    demo: tuple[Path, Path, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay, _, _ = demo
    monkeypatch.setenv("SAFETY_E2B_SCHEMAS", str(tmp_path / "not-the-ich-package"))
    assert main(["documents", "--from-replay", str(replay), "--out", str(tmp_path / "docs"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "SAFETY_E2B_SCHEMAS=" in err and "multicacheschemas" in err
