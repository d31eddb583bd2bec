"""`safety import odm` and `--watch`: a public ODM 1.3.2 snapshot (tests/fixtures/odm/README.md) -> contract events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from click.testing import CliRunner

from safety.errors import RuleFileError
from streams.cli.import_odm import odm
from streams.cli.import_sdtm import sdtm
from streams.feeds.odm_mapping import load_odm_mapping

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAPSHOT = FIXTURES / "odm" / "odm-data-snapshot.xml"
MAPPING = FIXTURES / "odm" / "virus-mapping.yaml"
STUDY = "ChiCTR2600125907"


def _run(*args: str) -> str:
    result = CliRunner().invoke(odm, ["--mapping", str(MAPPING), "--study", STUDY, *args])
    assert result.exit_code == 0, result.output
    return result.output


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_public_snapshot_conforms_to_odm_1_3_2_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    schema = FIXTURES / "odm" / "schema" / "ODM1-3-2.xsd"
    assert xmlschema.XMLSchema(str(schema)).is_valid(str(SNAPSHOT))
    broken = tmp_path / "broken.xml"
    broken.write_text(SNAPSHOT.read_text().replace('<ItemData ItemOID="IT.AGE"', '<ItemData Item="IT.AGE"', 1))
    result = CliRunner().invoke(
        odm,
        [
            str(broken),
            "--mapping",
            str(MAPPING),
            "--study",
            STUDY,
            "--schema",
            str(schema),
            "--out",
            str(tmp_path / "events.jsonl"),
        ],
    )
    assert result.exit_code == 1 and "departures from ODM1-3-2.xsd" in result.output
    assert not (tmp_path / "events.jsonl").exists()


def test_the_snapshot_gives_events_of_each_mapped_group_and_lists_the_rest_by_item(tmp_path: Path) -> None:
    _run(str(SNAPSHOT), "--out", str(tmp_path / "events.jsonl"))
    events = _lines(tmp_path / "events.jsonl")
    assert {e["type"] for e in events} == {"enrollment", "vital", "adverse_event", "end_of_study"}
    enrollment = next(e for e in events if e["type"] == "enrollment")
    assert (enrollment["subject_id"], enrollment["sex"], enrollment["age"]) == ("AA-0001", "M", 56)
    dysuria = next(e for e in events if e.get("term") == "Dysuria")
    assert dysuria["grade"] == 4 and "IT.DSSTDTC of the same study event" in dysuria["imputed"]
    assert {e["test"] for e in events if e["type"] == "vital"} == {"PULSE", "TEMP", "WEIGHT"}
    listed = _lines(tmp_path / "events.rejects.jsonl")
    graded_no = next(item for item in listed if item["item"] == "IT.AETOXGR" and "'No'" in item["reason"])
    assert graded_no == {
        "kind": "rejected",
        "file": SNAPSHOT.name,
        "item_group": "IG.AE.AE_ARRAY1",
        "repeat_key": "SE.VISIT 1/1/1/1",
        "item": "IT.AETOXGR",
        "variable": "AETOXGR",
        "reason": "AETOXGR 'No' is not a grade 1-5",
        "subject_id": "AA-0001",
    }
    assert any(item["item"] == "IT.PT_SBP" and item["kind"] == "not_mapped" for item in listed)
    assert all(item["item_group"] and item["repeat_key"] for item in listed)
    text = "".join(path.read_text() for path in tmp_path.iterdir())
    assert "SS_000" not in text  # the EDC's subject key never leaves the import


def test_the_same_snapshot_again_emits_nothing_and_a_changed_grade_is_a_new_revision(tmp_path: Path) -> None:
    _run(str(SNAPSHOT), "--out", str(tmp_path / "first.jsonl"))
    output = _run(str(SNAPSHOT), "--out", str(tmp_path / "second.jsonl"))
    assert _lines(tmp_path / "second.jsonl") == [] and "0 new, 0 changed" in output
    changed = tmp_path / "next.xml"
    text = SNAPSHOT.read_text()
    # Dysuria (repeat key 4 of the first subject's AE form) corrected from grade 4 to 3; the vitals of visit 3 removed
    text = text.replace(
        'Value="Dysuria">\n                        </ItemData>\n'
        '                        <ItemData ItemOID="IT.AETOXGR" Value="4">',
        'Value="Dysuria">\n                        </ItemData>\n'
        '                        <ItemData ItemOID="IT.AETOXGR" Value="3">',
        1,
    )
    start = text.index('<FormData FormOID="VS">', text.index('<StudyEventData StudyEventOID="SE.VISIT 3"'))
    changed.write_text(text[:start] + text[text.index("</FormData>", start) + len("</FormData>") :])
    _run(str(changed), "--out", str(tmp_path / "third.jsonl"))
    third = _lines(tmp_path / "third.jsonl")
    assert [(e["term"], e["grade"], e["revision"]) for e in third] == [("Dysuria", 3, 2)]
    report = json.loads((tmp_path / "third.report.json").read_text())
    assert report["missing"] == [
        f"AA-0001-VS-SE.VISIT_3.1.VS.1.IG.VS.1.IT.PT_{test}" for test in ("PULSE", "TEMP", "WEIGHT")
    ]


def test_the_mapping_file_refuses_an_unknown_key_and_tests_outside_findings(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(MAPPING.read_text() + "  IG.X:\n    domain: AE\n    item: {IT.A: AETERM}\n")
    with pytest.raises(RuleFileError, match="item"):
        load_odm_mapping(path)
    path.write_text(MAPPING.read_text() + "  IG.X:\n    domain: AE\n    tests: {IT.A: {test: X}}\n")
    with pytest.raises(RuleFileError, match="only LB, VS and EG"):
        load_odm_mapping(path)


def test_watch_once_imports_each_ready_export_once_and_moves_it_with_a_report(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SNAPSHOT, inbox / "export-1.xml")
    shutil.copy(SNAPSHOT, inbox / "export-2.xml.part")  # still being written
    (inbox / "broken.xml").write_text("<ODM")
    out = tmp_path / "events.jsonl"
    _run("--watch", str(inbox), "--once", "--out", str(out))
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["export-1.xml", "export-1.xml.report.json"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["broken.xml", "broken.xml.report.json"]
    assert "not readable XML" in json.loads((inbox / "failed" / "broken.xml.report.json").read_text())["error"]
    assert json.loads((inbox / "done" / "export-1.xml.report.json").read_text())["new"] == 15
    assert len(_lines(out)) == 15 and (inbox / "export-2.xml.part").exists()

    (inbox / "export-2.xml.part").rename(inbox / "export-2.xml")  # the same content, landed under another name
    _run("--watch", str(inbox), "--once", "--out", str(out))
    assert len(_lines(out)) == 15  # not imported twice
    assert (inbox / "done" / "export-2.xml").exists() and not (inbox / "done" / "export-2.xml.report.json").exists()


def test_watch_after_a_crash_before_the_move_does_not_emit_again(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    out = tmp_path / "events.jsonl"
    _run(str(SNAPSHOT), "--out", str(out))  # imported; the ledger beside --out holds it, the move never happened
    shutil.copy(SNAPSHOT, inbox / "export.xml")
    _run("--watch", str(inbox), "--once", "--out", str(out))
    assert len(_lines(out)) == 15  # the first import's events only: the re-run appended nothing
    assert json.loads((inbox / "done" / "export.xml.report.json").read_text())["unchanged"] == 15


def test_watch_takes_an_sdtm_folder_only_once_it_holds_ready(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    export = inbox / "2026-08-05"
    shutil.copytree(FIXTURES / "sdtm" / "pharmaversesdtm", export, ignore=shutil.ignore_patterns("LICENSE*"))
    out = tmp_path / "events.jsonl"

    def watch() -> None:
        result = CliRunner().invoke(sdtm, ["--watch", str(inbox), "--once", "--study", STUDY, "--out", str(out)])
        assert result.exit_code == 0, result.output

    watch()
    assert export.exists() and not out.exists()
    (export / "READY").write_text("")
    watch()
    assert not export.exists() and (inbox / "done" / "2026-08-05" / "dm.csv").exists()
    report = json.loads((inbox / "done" / "2026-08-05.report.json").read_text())
    assert _lines(out) and report["new"] == len(_lines(out))
