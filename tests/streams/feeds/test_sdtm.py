"""`safety import sdtm`: public SDTM exports (tests/fixtures/sdtm/README.md) -> contract events -> replay."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from safety.errors import RuleFileError
from safety.model.outputs import Alert, GradedObservation
from safety.replay import replay
from streams.cli.import_sdtm import sdtm
from streams.feeds.datasets import DatasetError, read_dataset
from streams.feeds.sdtm import SdtmMapper
from streams.feeds.sdtm_dates import onset_of, parse_sdtm_date, start_of
from streams.feeds.sdtm_rules import default_path, load_sdtm_rules
from streams.rulefiles import load_rulebook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdtm"
STUDY = "ChiCTR2600125907"
DOMAINS = ("dm", "ae", "ds", "ex", "lb", "vs")


def _unzip(tmp_path: Path, suffix: str) -> Path:
    folder = tmp_path / suffix
    folder.mkdir()
    for domain in DOMAINS:
        packed = FIXTURES / "datasetjson" / f"{domain}.{suffix}.gz"
        (folder / f"{domain}.{suffix}").write_bytes(gzip.decompress(packed.read_bytes()))
    return folder


def _import(source: Path, out: Path, *extra: str) -> tuple[str, list[dict[str, Any]]]:
    result = CliRunner().invoke(sdtm, [str(source), "--study", STUDY, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output, [json.loads(line) for line in out.read_text().splitlines()]


def _alerts(*event_files: Path) -> list[dict[str, Any]]:
    lines = [line for path in event_files for line in path.read_text().splitlines()]
    return [item.model_dump(mode="json") for _, item in replay(lines, load_rulebook()) if isinstance(item, Alert)]


def _pharmaverse(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(FIXTURES / "pharmaversesdtm", folder, ignore=shutil.ignore_patterns("LICENSE*"))
    return folder


def test_the_xpt_and_the_dataset_json_of_one_export_give_identical_events(tmp_path: Path) -> None:
    _, from_xpt = _import(_unzip(tmp_path, "xpt"), tmp_path / "x" / "events.jsonl")
    _, from_json = _import(_unzip(tmp_path, "json"), tmp_path / "j" / "events.jsonl")
    assert len(from_xpt) > 5000
    assert from_xpt == from_json
    kinds = {event["type"] for event in from_xpt}
    assert kinds == {"enrollment", "infusion", "lab", "vital", "adverse_event", "death", "end_of_study"}


def test_ndjson_rows_equal_the_json_rows(tmp_path: Path) -> None:
    folder = _unzip(tmp_path, "json")
    for domain in ("dm", "ae"):
        ndjson, whole = (
            read_dataset(FIXTURES / "datasetjson" / f"{domain}.ndjson"),
            read_dataset(folder / f"{domain}.json"),
        )
        assert ndjson.positions == whole.positions
        assert ndjson.records(ndjson.positions) == whole.records(whole.positions)


def test_units_and_comparators_of_the_pharmaverse_export_reach_grading(tmp_path: Path) -> None:
    _, events = _import(_pharmaverse(tmp_path), tmp_path / "out" / "events.jsonl")
    labs = [event for event in events if event["type"] == "lab"]
    hemoglobin = next(event for event in labs if event["test"] == "HGB")
    assert hemoglobin["unit"] == "mmol/L" and hemoglobin["ref_low"] is not None
    assert {event["unit"] for event in labs if event["test"] == "PLAT"} == {"10^9/L"}  # reported GI/L
    glucose = next(event for event in labs if event["test"] == "GLUC" and isinstance(event["value"], str))
    assert glucose["value"] == "<40" and glucose["unit"] == "mg/dL"
    assert "LBORRES" in glucose["imputed"]
    graded = [item for kind, item in replay([json.dumps(e) for e in events], load_rulebook()) if kind == "graded"]
    by_id = {row.event_id: row for row in graded if isinstance(row, GradedObservation)}
    assert by_id[hemoglobin["event_id"]].grade is not None  # mmol/L is graded, not "unit unknown"
    assert by_id[glucose["event_id"]].ctcae_term == "Hypoglycemia"


def test_every_record_without_an_event_is_listed_with_domain_row_variable_and_reason(tmp_path: Path) -> None:
    output, _ = _import(_pharmaverse(tmp_path), tmp_path / "out" / "events.jsonl")
    listed = [json.loads(line) for line in (tmp_path / "out" / "events.rejects.jsonl").read_text().splitlines()]
    rejected = [item for item in listed if item["kind"] == "rejected"]
    assert {(item["domain"], item["variable"]) for item in rejected} == {("AE", "AESTDTC")}  # onsets before 2000
    assert all(item["row"] >= 1 and item["reason"] and item["file"] == "ae.csv" for item in rejected)
    assert any(
        item["domain"] == "EG" and item["variable"] == "EGTESTCD" for item in listed if item["kind"] == "not_mapped"
    )
    assert "2 records rejected" in output
    assert not any("01-7" in line for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines())


def test_the_same_export_again_emits_nothing_and_raises_no_alert(tmp_path: Path) -> None:
    export = _pharmaverse(tmp_path)
    _, first = _import(export, tmp_path / "out" / "first.jsonl")
    ledger = tmp_path / "out" / f"sdtm-{STUDY}.ledger.json"
    written = ledger.stat().st_mtime_ns
    output, second = _import(export, tmp_path / "out" / "second.jsonl")
    assert first and second == []
    assert "0 new, 0 changed" in output
    assert ledger.stat().st_mtime_ns == written  # nothing changed: the ledger is not written again
    assert _alerts(tmp_path / "out" / "first.jsonl", tmp_path / "out" / "second.jsonl") == _alerts(
        tmp_path / "out" / "first.jsonl"
    )


def _edit_ae(export: Path, change: Any) -> None:
    path = export / "ae.csv"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    body = change(header, body)
    with path.open("w", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC).writerows([header, *body])


def test_a_record_made_serious_in_the_next_export_raises_the_sae_then(tmp_path: Path) -> None:
    export = _pharmaverse(tmp_path)
    _, first = _import(export, tmp_path / "out" / "first.jsonl", "--recorded-at", "2026-08-01T09:00:00+08:00")
    target = next(e for e in first if e["type"] == "adverse_event" and not e["serious"] and e["grade"] >= 2)
    seq = target["event_id"].rsplit("-", 1)[1]

    def serious(header: list[str], body: list[list[str]]) -> list[list[str]]:
        for row in body:
            if row[header.index("AESEQ")] == seq and row[header.index("USUBJID")].endswith(target["subject_id"][3:]):
                row[header.index("AESER")], row[header.index("AESHOSP")] = "Y", "Y"
        return body

    _edit_ae(export, serious)
    _, second = _import(export, tmp_path / "out" / "second.jsonl", "--recorded-at", "2026-08-08T09:00:00+08:00")
    assert [(e["event_id"], e["revision"], e["serious"]) for e in second] == [
        (target["event_id"], 2, ["hospitalization"])
    ]
    before = _alerts(tmp_path / "out" / "first.jsonl")
    after = _alerts(tmp_path / "out" / "first.jsonl", tmp_path / "out" / "second.jsonl")
    new = [alert for alert in after if alert not in before]
    assert [(a["kind"], a["event_ids"], a["raised_at"]) for a in new if a["kind"] == "SAE"] == [
        ("SAE", [target["event_id"]], "2026-08-08T09:00:00+08:00")
    ]


def test_a_record_missing_from_the_next_export_is_reported(tmp_path: Path) -> None:
    export = _pharmaverse(tmp_path)
    _, first = _import(export, tmp_path / "out" / "first.jsonl")
    _edit_ae(export, lambda header, body: body[1:])
    output, second = _import(export, tmp_path / "out" / "second.jsonl")
    report = json.loads((tmp_path / "out" / "second.report.json").read_text())
    assert second == [] and len(report["missing"]) == 1
    assert report["missing"][0] in output and report["missing"][0].split("-AE-")[0] in {e["subject_id"] for e in first}


def test_partial_dates_take_the_earliest_moment_and_say_so() -> None:
    month = parse_sdtm_date("2026-08")
    assert month is not None
    moment, note = start_of(month, "AESTDTC")
    assert moment.isoformat() == "2026-08-01T00:00:00" and note is not None and "month precision" in note
    full = parse_sdtm_date("2026-08-05T10:30")
    assert full is not None and start_of(full, "LBDTC")[1] is None
    infusion = parse_sdtm_date("2026-08-05T10:30")
    assert infusion is not None
    onset, said = onset_of(parse_sdtm_date("2026-08-05"), "AESTDTC", infusion.earliest)  # type: ignore[arg-type]
    assert onset == infusion.earliest and said is not None and "first infusion" in said
    assert parse_sdtm_date("2026---05") is None and parse_sdtm_date("2026-02-30") is None


def test_two_usubjids_of_one_subject_code_are_refused(tmp_path: Path) -> None:
    study = load_rulebook().get(STUDY)
    assert study is not None
    path = tmp_path / "dm.csv"
    path.write_text(
        '"USUBJID","DOMAIN","RFICDTC","SEX","AGE"\n"01-701-1015","DM","2026-08-01","F",40\n'
        '"01-702-1015","DM","2026-08-02","M",50\n'
    )
    mapped = SdtmMapper(study, load_sdtm_rules()).map([read_dataset(path)])
    assert [e["subject_id"] for e in mapped.events] == ["AA-1015"]
    assert [(item.row, item.variable) for item in mapped.listed] == [(2, "USUBJID")]


def test_a_repeated_seq_is_rejected_rather_than_overwriting_the_other_record(tmp_path: Path) -> None:
    study = load_rulebook().get(STUDY)
    assert study is not None
    path = tmp_path / "ae.csv"
    path.write_text(
        '"USUBJID","DOMAIN","AESEQ","AETERM","AETOXGR","AESTDTC"\n'
        '"01-701-1015","AE","1","Nausea","1","2026-08-03T10:00"\n'
        '"01-701-1015","AE","1","Fever","2","2026-08-04T10:00"\n'
    )
    mapped = SdtmMapper(study, load_sdtm_rules()).map([read_dataset(path)])
    assert [e["term"] for e in mapped.events] == ["Nausea"]
    assert [(item.row, item.variable) for item in mapped.listed] == [(2, "AESEQ")]
    assert "AA-1015-AE-1" in mapped.listed[0].reason


def test_the_mapping_file_refuses_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "sdtm.yaml"
    path.write_text(default_path().read_text() + "lab_test: {HB: HGB}\n")
    with pytest.raises(RuleFileError, match="lab_test"):
        load_sdtm_rules(path)


def test_a_csv_row_with_more_values_than_columns_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "dm.csv"
    path.write_text(
        '"USUBJID","DOMAIN","RFICDTC"\n"01-701-1015","DM","2026-08-01"\n"01-701-1016","DM","2026-08-01","F"\n'
    )
    with pytest.raises(DatasetError, match="line 3 has 4 values for 3 columns"):
        read_dataset(path)
