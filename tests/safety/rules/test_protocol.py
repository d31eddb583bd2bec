"""Study rules files are validated strictly at load, with messages naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from safety.errors import RuleFileError
from streams.rulefiles import load_protocol, load_ruleset

STUDY = Path(__file__).resolve().parents[3] / "rules" / "studies" / "ChiCTR2600125907.yaml"


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["recipients"].pop("SAE"), "recipients: no recipients for alert kind(s) SAE"),
        (lambda d: d["dlt"].update(priority=["DLT-1", "DLT-1", "DLT-2", "DLT-3", "DLT-4"]), "dlt.priority"),
        (lambda d: d["clocks"].pop("SUSAR_FATAL"), "clocks: no clock for SUSAR_FATAL"),
        (lambda d: d.update(window={"first_day": 10, "last_day": 5}), "window: first_day 10 is after last_day 5"),
        (lambda d: d["dlt"]["dlt4"].update(fraction_of_baseline=1.5), "dlt.dlt4.fraction_of_baseline"),
        (lambda d: d["hys_law"].update(max_dayz=14), "hys_law.max_dayz: Extra inputs are not permitted"),
    ],
)
def test_invalid_study_file_names_file_and_field(tmp_path: Path, change: object, message: str) -> None:
    path = variant(tmp_path, change)
    with pytest.raises(RuleFileError) as error:
        load_protocol(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="not found; pass an existing file with --rules"):
        load_protocol(tmp_path / "absent.yaml")


def test_rules_check_prints_what_the_study_enables() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams", "rules", "check", str(STUDY)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "valid study rules for ChiCTR2600125907" in result.stdout
    assert "DLT-4 NEUT/PLAT below 50% of baseline" in result.stdout


def test_rules_check_rejects_an_invalid_file_with_a_located_message(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda d: d["recipients"].pop("DLT"))
    result = subprocess.run(
        [sys.executable, "-m", "streams", "rules", "check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "recipients: no recipients for alert kind(s) DLT" in result.stderr


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "rules", "check", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _replace(items: list[str], old: str, new: str) -> None:
    items[items.index(old)] = new


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: _replace(d["dlt"]["dlt1"]["terms"], "Anaphylaxis", "Anaphylaxsis"),
            "dlt.dlt1.terms[2]: 'Anaphylaxsis' is not a CTCAE v5.0 term of rules/ctcae_terms.yaml "
            "(did you mean 'Anaphylaxis'?)",
        ),
        (
            lambda d: _replace(d["dlt"]["dlt1"]["terms"], "Infusion related reaction", "Infusion related reaktion"),
            "dlt.dlt1.terms[0]: 'Infusion related reaktion' is not a CTCAE v5.0 term of rules/ctcae_terms.yaml "
            "(did you mean 'Infusion related reaction'?)",
        ),
        (
            lambda d: _replace(
                d["dlt"]["dlt2"]["hematologic_terms"], "Neutrophil count decreased", "Neutrophil count decrease"
            ),
            "dlt.dlt2.hematologic_terms[1]: 'Neutrophil count decrease' is not a CTCAE v5.0 term of "
            "rules/ctcae_terms.yaml (did you mean 'Neutrophil count decreased'?)",
        ),
        (
            lambda d: _replace(d["dlt"]["dlt3"]["terms"], "Thromboembolic event", "Thromboembolic Event"),
            "dlt.dlt3.terms[0]: 'Thromboembolic Event' is not a CTCAE v5.0 term of rules/ctcae_terms.yaml "
            "(did you mean 'Thromboembolic event'?)",
        ),
        (
            lambda d: _replace(d["dlt"]["dlt4"]["tests"], "PLAT", "PLT"),
            "dlt.dlt4.tests[1]: 'PLT' is not a test CTCAE v5.0 grades (did you mean 'PLAT'?)",
        ),
        (
            lambda d: d["hys_law"].update(bilirubin_test="BILIRUBIN"),
            "hys_law.bilirubin_test: 'BILIRUBIN' is not a test code of rules/units.yaml (did you mean 'BILI'?)",
        ),
        (
            lambda d: d.update(time_zone="Asia/Shangai"),
            "time_zone: 'Asia/Shangai' is not an IANA time zone (did you mean 'Asia/Shanghai'?)",
        ),
        (
            lambda d: _replace(d["recipients"]["SAE"], "ethics", "ethic"),
            "recipients.SAE[1]: 'ethic' is not one of pi, ethics, safety_officer (did you mean 'ethics'?)",
        ),
        (
            lambda d: d["hys_law"].update(max_dayz_after=d["hys_law"].pop("max_days_after")),
            "hys_law.max_dayz_after: Extra inputs are not permitted (did you mean 'max_days_after'?)",
        ),
    ],
)
def test_a_misspelt_term_test_zone_role_or_key_is_refused_with_the_nearest_valid_value(
    tmp_path: Path, change: object, message: str
) -> None:
    path = variant(tmp_path, change)
    with pytest.raises(RuleFileError) as error:
        load_ruleset(path)
    assert str(error.value) == f"{path}: {message}"


def test_the_shipped_study_names_the_v6_name_of_platelet_count_decreased_and_loads() -> None:
    ruleset = load_ruleset(STUDY)
    assert ruleset.criteria.version == "5.0"
    assert "Thrombocytopenia" in ruleset.protocol.dlt.dlt2.hematologic_terms
    assert ruleset.criteria.vocabulary.lookup("Thrombocytopenia") == "Platelet count decreased"


def test_a_v6_study_may_name_the_v5_name_of_a_renamed_term_but_not_a_term_no_version_knows(tmp_path: Path) -> None:
    assert load_ruleset(variant(tmp_path, lambda d: d.update(ctcae_version="6.0"))).criteria.version == "6.0"
    path = variant(
        tmp_path,
        lambda d: (d.update(ctcae_version="6.0"), d["dlt"]["dlt2"]["hematologic_terms"].append("Thrombocytopenic")),
    )
    with pytest.raises(RuleFileError, match=r"hematologic_terms\[9\]: 'Thrombocytopenic' is not a CTCAE v6.0 term"):
        load_ruleset(path)


def test_rules_check_refuses_a_misspelt_term_in_one_line_naming_file_key_value_and_nearest(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda d: _replace(d["dlt"]["dlt1"]["terms"], "Anaphylaxis", "Anaphylaxsis"))
    result = check(path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"safety rules check: {path}: dlt.dlt1.terms[2]: 'Anaphylaxsis' is not a CTCAE "
        "v5.0 term of rules/ctcae_terms.yaml (did you mean 'Anaphylaxis'?)"
    )


def test_rules_check_refuses_a_misspelt_time_zone_in_one_line(tmp_path: Path) -> None:
    path = variant(tmp_path, lambda d: d.update(time_zone="Asia/Shangai"))
    result = check(path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert (
        f"{path}: time_zone: 'Asia/Shangai' is not an IANA time zone (did you mean 'Asia/Shanghai'?)" in result.stderr
    )


def test_rules_check_takes_files_and_directories_and_fails_if_any_file_is_invalid(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "a.yaml").write_text(STUDY.read_text(encoding="utf-8"), encoding="utf-8")
    (good / "b.yaml").write_text(STUDY.read_text(encoding="utf-8"), encoding="utf-8")
    assert check(good, STUDY).stdout.count("valid study rules for ChiCTR2600125907") == 3
    bad = variant(tmp_path, lambda d: d.update(time_zone="Asia/Shangai"))
    result = check(good, bad)
    assert result.returncode == 1
    assert result.stdout.count("valid study rules") == 2
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr


def test_rules_check_refuses_a_directory_without_study_files(tmp_path: Path) -> None:
    result = check(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"safety rules check: {tmp_path}: no study rules file (*.yaml) in this directory"
