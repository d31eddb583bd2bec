"""Study rules files are validated strictly at load, with messages naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from safety.errors import RuleFileError
from safety.protocol import load_protocol

STUDY = Path(__file__).resolve().parents[2] / "rules" / "studies" / "ChiCTR2600125907.yaml"


def variant(tmp_path: Path, change: object) -> Path:
    data = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_first_study_loads_with_the_protocol_defaults() -> None:
    protocol = load_protocol(STUDY)
    assert (protocol.window.first_day, protocol.window.last_day) == (0, 365)
    assert protocol.dlt.dlt1.within_hours == 24 and protocol.dlt.dlt4.confirm_after_days == 7
    assert protocol.stopping.threshold == 0.30 and protocol.stopping.probability == 0.90
    assert protocol.recipients["SAE"] == ["pi", "ethics"]
    assert protocol.is_related("unassessable") and not protocol.is_related("unlikely")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["recipients"].pop("SAE"), "recipients: no recipients for alert kind(s) SAE"),
    (lambda d: d["dlt"].update(priority=["DLT-1", "DLT-1", "DLT-2", "DLT-3", "DLT-4"]), "dlt.priority"),
    (lambda d: d["clocks"].pop("SUSAR_FATAL"), "clocks: no clock for SUSAR_FATAL"),
    (lambda d: d.update(window={"first_day": 10, "last_day": 5}), "window: first_day 10 is after last_day 5"),
    (lambda d: d["dlt"]["dlt4"].update(fraction_of_baseline=1.5), "dlt.dlt4.fraction_of_baseline"),
    (lambda d: d["hys_law"].update(max_dayz=14), "hys_law.max_dayz: Extra inputs are not permitted"),
])
def test_invalid_study_file_names_file_and_field(tmp_path: Path, change: object, message: str) -> None:
    path = variant(tmp_path, change)
    with pytest.raises(RuleFileError) as error:
        load_protocol(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="not found; pass an existing file with --rules"):
        load_protocol(tmp_path / "absent.yaml")


def test_rules_check_prints_what_the_study_enables() -> None:
    result = subprocess.run([sys.executable, "-m", "safety", "rules", "check", str(STUDY)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "valid study rules for ChiCTR2600125907" in result.stdout
    assert "DLT-4 NEUT/PLAT below 50% of baseline" in result.stdout


def test_rules_check_rejects_an_invalid_file_with_a_located_message(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda d: d["recipients"].pop("DLT"))
    result = subprocess.run([sys.executable, "-m", "safety", "rules", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "recipients: no recipients for alert kind(s) DLT" in result.stderr
