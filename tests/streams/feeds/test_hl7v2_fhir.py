"""The HL7 v2 and FHIR adapters on public sample messages (tests/fixtures/feeds/README.md), offline and replayed."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from safety.errors import SafetyError
from streams.cli.importing import import_group
from streams.feeds.fhir import convert_resource
from streams.feeds.hl7v2 import convert_text, reference_range
from streams.feeds.results import RETRACTED_REVISION, ResultMemory
from streams.feeds.site import Site, load_site

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
SITE_FILE = ROOT / "rules" / "sites" / "example-lis.yaml"
SUBJECTS = FIXTURES / "subjects.csv"
IDENTIFIERS = (
    "10006579",
    "DUCK",
    "DONALD",
    "555-44-4444",
    "EVERYWOMAN",
    "PATID1234",
    "Jones",
    "William",
    "Heuvel",
    "Roel",
    "8885551212",
    "FERNWOOD",
)
LRI = (FIXTURES / "LRI_2.0-NG_CBC_Typ_Message.hl7").read_text(encoding="utf-8")
NEUT_OBX = "OBX|18|NM|26499-4^Neutrophils [#/volume] in Blood^LN^^^^^^Neutrophils [#/volume] in Blood||58|"
START = [
    {
        "type": "enrollment",
        "event_id": "E-103",
        "study_id": "ChiCTR2600125907",
        "subject_id": "AA-103",
        "occurred_at": "2010-12-20T08:00:00-08:00",
        "sex": "M",
        "age": 49,
    },
    {
        "type": "infusion",
        "event_id": "I-103",
        "study_id": "ChiCTR2600125907",
        "subject_id": "AA-103",
        "occurred_at": "2010-12-21T08:00:00-08:00",
        "infusion_number": 1,
    },
]


@pytest.fixture
def site() -> Site:
    return load_site(SITE_FILE, SUBJECTS)


def neutrophils(value: str, status: str, control_id: str) -> str:
    """The LRI sample with its neutrophil count and status replaced, resent under a new message id."""
    text = LRI.replace("NIST-LRI-NG-002.00", control_id).replace(NEUT_OBX, NEUT_OBX.replace("||58|", f"||{value}|"))
    lines = text.splitlines()
    out = []
    for line in lines:
        if line.startswith("OBX|18|"):
            fields = line.split("|")
            fields[11] = status
            line = "|".join(fields)
        out.append(line)
    return "\r".join(out)


def replay(tmp_path: Path, events: list[dict[str, object]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in START + events), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(source), "--out", str(tmp_path / "out")],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return _rows(tmp_path / "out" / "graded.jsonl"), _rows(tmp_path / "out" / "alerts.jsonl")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def test_every_loinc_code_of_the_site_file_carries_its_name_and_molar_codes_are_mapped(site: Site) -> None:
    loinc = site.spec.codes["LN"]
    assert all(entry.name for entry in loinc.values())
    assert {c: loinc[c].test for c in ("14631-6", "14682-9", "2000-8", "14749-6")} == {
        "14631-6": "BILI",
        "14682-9": "CREAT",
        "2000-8": "CA",
        "14749-6": "GLUC",
    }
    assert all("Moles" in loinc[c].name for c in ("14631-6", "14682-9", "2000-8", "14749-6"))  # type: ignore[operator]
    assert "11125-2" not in loinc  # a morphology finding, sent as a count by a sample


def test_a_site_file_with_an_unknown_key_or_unit_is_refused(tmp_path: Path) -> None:
    text = SITE_FILE.read_text(encoding="utf-8")
    (tmp_path / "extra.yaml").write_text(text + "colour: blue\n", encoding="utf-8")
    with pytest.raises(SafetyError, match="colour"):
        load_site(tmp_path / "extra.yaml", SUBJECTS)
    (tmp_path / "unit.yaml").write_text(text.replace('giga.l-1: "10^9/L"', 'giga.l-1: "gigas"'), encoding="utf-8")
    with pytest.raises(SafetyError, match="gigas"):
        load_site(tmp_path / "unit.yaml", SUBJECTS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5-5.5", (3.5, 5.5)),
        ("4.3 to 6.2", (4.3, 6.2)),
        ("70_105", (70.0, 105.0)),
        ("<40", (None, 40.0)),
        (">60", (60.0, None)),
        ("", (None, None)),
    ],
)
def test_reference_ranges_as_laboratories_write_them(text: str, expected: tuple[float | None, float | None]) -> None:
    assert reference_range(text) == expected


def test_the_lri_sample_gives_the_mapped_counts_of_the_mapped_subject(site: Site) -> None:
    converted = convert_text(LRI, site, ResultMemory())
    by_test = {e["test"]: e for e in converted.events}
    assert set(by_test) == {"HGB", "WBC", "PLAT", "LYM", "NEUT"}
    assert by_test["NEUT"] == {
        "type": "lab",
        "event_id": "example-lis-R-991133-NEUT",
        "revision": 1,
        "study_id": "ChiCTR2600125907",
        "subject_id": "AA-103",
        "occurred_at": "2011-01-03T14:34:28-08:00",
        "recorded_at": "2011-01-04T17:00:28-08:00",
        "source": "LIS",
        "test": "NEUT",
        "value": 58.0,
        "unit": "10^3/uL",
        "ref_low": 1.5,
        "ref_high": 7.0,
        "status": "final",
        "loinc": "26499-4",
    }
    assert by_test["PLAT"]["unit"] == "cells/uL"  # UCUM {cells}/uL, spelled as the grader knows it


def test_a_bom_prefixed_file_and_a_glucose_without_coding_system_are_read(site: Site) -> None:
    assert (FIXTURES / "LAB-ORU-2.hl7").read_bytes().startswith(b"\xef\xbb\xbf")
    sample = (FIXTURES / "ORU-R01-RMGEAD.hl7").read_text(encoding="utf-8")
    [event] = convert_text(sample, site, ResultMemory()).events
    assert (event["test"], event["value"], event["unit"], event["ref_low"], event["ref_high"]) == (
        "GLUC",
        182.0,
        "mg/dL",
        70.0,
        105.0,
    )


def test_a_patient_not_in_the_mapping_is_counted_and_dropped(site: Site) -> None:
    converted = convert_text(LRI.replace("PATID1234", "PATID9999"), site, ResultMemory())
    assert (converted.events, converted.rejected, converted.not_subjects) == ([], [], 1)


def test_a_preliminary_is_held_never_graded_and_u_promotes_it(site: Site, tmp_path: Path) -> None:
    memory = ResultMemory()
    held = convert_text(neutrophils("0.3", "P", "M-1"), site, memory)
    assert "NEUT" not in {e["test"] for e in held.events}
    graded, alerts = replay(tmp_path, held.events)
    neut_id = "example-lis-R-991133-NEUT"
    assert not [g for g in graded if g["event_id"] == neut_id] and not [a for a in alerts if neut_id in a["event_ids"]]
    promoted = convert_text(neutrophils("", "U", "M-2"), site, memory)
    neut = [e for e in promoted.events if e["test"] == "NEUT"]
    assert [(e["value"], e["status"]) for e in neut] == [(0.3, "final")]


def test_a_correction_in_a_new_message_regrades_and_withdraws(site: Site, tmp_path: Path) -> None:
    memory = ResultMemory()
    first = convert_text(neutrophils("0.3", "F", "M-1"), site, memory).events
    again = convert_text(neutrophils("0.3", "F", "M-1b"), site, memory).events  # the same result resent
    corrected = convert_text(neutrophils("5.8", "C", "M-2"), site, memory).events
    neut = [e for e in first + again + corrected if e["test"] == "NEUT"]
    assert [(e["revision"], e["status"]) for e in neut] == [(1, "final"), (1, "final"), (2, "corrected")]
    _, alerts = replay(tmp_path, first + again + corrected)
    alerts = [a for a in alerts if a["event_ids"] == ["example-lis-R-991133-NEUT"]]
    raised = [a for a in alerts if a["kind"] != "ALERT_WITHDRAWN"]
    withdrawn = [a["withdraws"] for a in alerts if a["kind"] == "ALERT_WITHDRAWN"]
    assert {a["kind"] for a in raised} == {"POTENTIAL_SAE"}  # grade 4 neutropenia, corrected to a normal count
    assert sorted(withdrawn) == sorted(a["alert_id"] for a in raised)


def test_wrong_patient_retracts_what_the_result_raised(site: Site, tmp_path: Path) -> None:
    memory = ResultMemory()
    first = convert_text(neutrophils("0.3", "F", "M-1"), site, memory).events
    wrong = [e for e in convert_text(neutrophils("0.3", "W", "M-3"), site, memory).events if e["test"] == "NEUT"]
    assert [(e["status"], e["revision"]) for e in wrong] == [("cancelled", RETRACTED_REVISION)]
    _, alerts = replay(tmp_path, first + wrong)
    alerts = [a for a in alerts if a["event_ids"] == ["example-lis-R-991133-NEUT"]]
    raised = [a["alert_id"] for a in alerts if a["kind"] != "ALERT_WITHDRAWN"]
    assert raised and sorted(a["withdraws"] for a in alerts if a["kind"] == "ALERT_WITHDRAWN") == sorted(raised)


def test_fhir_examples_observation_adverse_event_and_entered_in_error(site: Site) -> None:
    memory = ResultMemory()
    [glucose] = convert_resource(load("Observation-f001.json"), site, memory).events
    assert (glucose["test"], glucose["value"], glucose["unit"], glucose["subject_id"]) == (
        "GLUC",
        6.3,
        "mmol/L",
        "AA-104",
    )
    [ae] = convert_resource(load("AdverseEvent-example.json"), site, memory).events
    assert (ae["type"], ae["grade"], ae["serious"], ae["subject_id"]) == ("adverse_event", 1, [], "AA-106")
    retracted = convert_resource(load("Observation-f202.json"), site, memory)  # a temperature, entered in error
    assert retracted.events == [] and "cannot retract a vital" in retracted.rejected[0].reason
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": load("Observation-f001.json")}, {"resource": {"resourceType": "Patient", "id": "x"}}],
    }
    refused = convert_resource(bundle, site, ResultMemory(), "Bundle")
    assert refused.events == [] and refused.rejected[0].where == "Bundle.entry[1]"


def test_import_cli_writes_events_and_no_identifier_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    hl7_out, fhir_out = tmp_path / "hl7.jsonl", tmp_path / "fhir.jsonl"
    common = ["--site", str(SITE_FILE), "--subjects", str(SUBJECTS)]
    hl7 = runner.invoke(
        import_group, ["hl7", *map(str, sorted(FIXTURES.glob("*.hl7"))), "--out", str(hl7_out), *common]
    )
    fhir = runner.invoke(
        import_group, ["fhir", *map(str, sorted(FIXTURES.glob("*.json"))), "--out", str(fhir_out), *common]
    )
    assert hl7.exit_code == 0, hl7.output
    assert fhir.exit_code == 1 and "cannot retract a vital" in fhir.output  # f202; every other example converts
    assert len(hl7_out.read_text().splitlines()) == 6 and len(fhir_out.read_text().splitlines()) == 4
    seen = hl7_out.read_text() + fhir_out.read_text() + hl7.output + fhir.output + caplog.text
    assert [i for i in IDENTIFIERS if i.lower() in seen.lower()] == []
