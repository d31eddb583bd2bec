"""Every rules/ CTCAE file loads, broken criteria fail with located errors, embedded examples grade as
stated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from safety.errors import RuleFileError
from safety.grading.grade import grade_example
from safety.rules.ctcae import Criteria
from safety.rules.protocol import did_you_mean
from streams.rulefiles import load_criteria

RULES = Path(__file__).resolve().parents[2] / "rules"
VERSIONS = ["5.0", "6.0"]
_LOADED: dict[tuple[str, bool], Criteria] = {}


def loaded(version: str, worst: bool) -> Criteria:
    """Load each file once per session (parametrized examples would otherwise reload it hundreds of times)."""
    if (version, worst) not in _LOADED:
        _LOADED[version, worst] = load_criteria(version, RULES, assume_worst_clinical=worst)
    return _LOADED[version, worst]


def _examples() -> list[tuple[str, bool, str, int, object]]:
    cases = []
    for version in VERSIONS:
        for worst in (False, True):
            criteria = loaded(version, worst)
            for entry in criteria.entries:
                for i, example in enumerate(entry.examples):
                    if example.assume_worst_clinical == worst:
                        cases.append((version, worst, entry.id, i, example))
    return cases


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("worst", [False, True])
def test_every_ctcae_file_loads_with_version_and_the_documents_it_was_built_from(version, worst):
    criteria = load_criteria(version, RULES, assume_worst_clinical=worst)
    assert criteria.version == version
    assert all(document.data == (RULES / document.name.split("/")[-1]).read_bytes() for document in criteria.sources)
    assert "rules/units.yaml" in [document.name for document in criteria.sources]
    assert {"NEUT", "ALT", "CREAT", "K-LOW", "K-HIGH", "TEMP", "QTCF", "QTCB"} <= set(criteria.by_id)


@pytest.mark.parametrize(
    ("version", "worst", "entry", "index", "example"), _examples(), ids=lambda v: v if isinstance(v, str) else None
)
def test_embedded_examples_grade_as_stated(version, worst, entry, index, example):
    criteria = loaded(version, worst)
    outcome = grade_example(criteria, entry, example)
    assert outcome.grade == example.grade, outcome.basis


def test_v6_extends_v5_and_keeps_unchanged_terms():
    v5, v6 = load_criteria("5.0", RULES), load_criteria("6.0", RULES)
    assert [d.name for d in v6.sources] == [
        "rules/ctcae_v5.yaml",
        "rules/ctcae_v6.yaml",
        "rules/units.yaml",
        "rules/ctcae_terms.yaml",
    ]
    assert v6.by_id["K-LOW"].term == v5.by_id["K-LOW"].term
    assert v6.by_id["PLAT"].term == "Thrombocytopenia"
    assert "GLUC-HIGH" in v6.by_id and "GLUC-HIGH" not in v5.by_id


@pytest.fixture
def broken(tmp_path):
    """A copy of rules/ whose v5 file a test edits through the returned function."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target, ignore=shutil.ignore_patterns("studies"))

    def edit(change) -> Path:
        path = target / "ctcae_v5.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return target

    return edit


def _alt(data):
    return next(t for t in data["terms"] if t["id"] == "ALT")


def test_band_with_lower_end_above_upper_end_is_located(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"][2].update(value=5.0, to=3.0)

    with pytest.raises(RuleFileError, match=r"^rules/ctcae_v5.yaml: ALT grade 2: lower 5.0 > upper 3.0$"):
        load_criteria("5.0", broken(change))


def test_unknown_operator_is_rejected_with_its_location(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"][0]["op"] = "eval"

    location = r"rules/ctcae_v5.yaml: ALT.sets.\[0\].bands.\[0\].op: Input should be"
    with pytest.raises(RuleFileError, match=location):
        load_criteria("5.0", broken(change))


def test_a_typo_in_a_field_name_fails(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"][0]["vaule"] = 1

    with pytest.raises(RuleFileError, match=r"ALT.*vaule: Extra inputs are not permitted"):
        load_criteria("5.0", broken(change))


def test_bands_out_of_order_fail(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"].reverse()

    message = r"ALT set 'x ULN \(baseline normal\)': bands must be listed worst"
    with pytest.raises(RuleFileError, match=message):
        load_criteria("5.0", broken(change))


def test_a_worse_grade_with_a_milder_threshold_fails(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"][0]["value"] = 4.0

    with pytest.raises(RuleFileError, match=r"ALT grade 4: threshold 4.0 is milder than grade 3's 5.0"):
        load_criteria("5.0", broken(change))


def test_mixed_directions_in_one_set_fail(broken):
    def change(data):
        _alt(data)["sets"][0]["bands"][1]["op"] = "lt"

    with pytest.raises(RuleFileError, match=r"ALT set .*mixes"):
        load_criteria("5.0", broken(change))


def test_a_test_without_units_fails(broken):
    def change(data):
        _alt(data)["test"] = "ALTX"

    with pytest.raises(RuleFileError, match=r"ALT: test 'ALTX' has no entry in units.yaml"):
        load_criteria("5.0", broken(change))


def test_invalid_yaml_and_missing_file_are_reported(tmp_path):
    (tmp_path / "ctcae_v5.yaml").write_text("terms: [\n")
    with pytest.raises(RuleFileError, match=r"ctcae_v5.yaml: not valid YAML"):
        load_criteria("5.0", tmp_path)
    with pytest.raises(RuleFileError, match=r"^ctcae_v6.yaml: not in the rules directory \(CTCAE v6.0 needs it\)"):
        load_criteria("6.0", tmp_path)
    with pytest.raises(RuleFileError, match=r"ctcae_version '4.03' is not supported"):
        load_criteria("4.03", tmp_path)


# ------------------------------------------------------------------ bands CTCAE prints in another unit


def _term(data, entry_id):
    return next(t for t in data["terms"] if t["id"] == entry_id)


def test_the_terms_ctcae_prints_in_several_units_carry_their_bands_by_unit():
    for version in VERSIONS:
        criteria = loaded(version, False)
        printed = {entry.id: sorted(entry.bands_by_unit) for entry in criteria.entries if entry.bands_by_unit}
        assert printed == {
            "HGB": ["g/dL", "mmol/L"],
            "GLUC-LOW": ["mg/dL"],
            "ALB": ["g/dL"],
            "CA-LOW": ["mg/dL"],
            "CA-HIGH": ["mg/dL"],
            "MG": ["mg/dL"],
        }


def test_bands_by_unit_in_a_unit_the_test_does_not_have_fail(broken):
    def change(data):
        hgb = _term(data, "HGB")
        hgb["bands_by_unit"]["mg/dL"] = hgb["bands_by_unit"].pop("g/dL")

    with pytest.raises(RuleFileError, match=r"HGB bands_by_unit 'mg/dL': not a unit of HGB in units.yaml"):
        load_criteria("5.0", broken(change))


def test_a_printed_threshold_that_does_not_restate_the_si_one_fails(broken):
    def change(data):
        _term(data, "GLUC-LOW")["bands_by_unit"]["mg/dL"][0]["bands"][0]["value"] = 3.0  # 30 mg/dL typed as 3

    with pytest.raises(
        RuleFileError,
        match=r"GLUC-LOW bands_by_unit 'mg/dL': grade 4: threshold 3.0 does not "
        r"restate the SI threshold 1.7",
    ):
        load_criteria("5.0", broken(change))


def test_printed_bands_must_restate_every_si_band(broken):
    def change(data):
        del _term(data, "MG")["bands_by_unit"]["mg/dL"][0]["bands"][0]

    with pytest.raises(RuleFileError, match=r"MG bands_by_unit 'mg/dL': set 'magnesium' has 3 bands, the SI set 4"):
        load_criteria("5.0", broken(change))


def test_the_si_unit_cannot_be_given_as_bands_by_unit(broken):
    def change(data):
        hgb = _term(data, "HGB")
        hgb["bands_by_unit"]["g/L"] = hgb["sets"]

    with pytest.raises(RuleFileError, match=r"HGB bands_by_unit 'g/L': the SI unit's bands are the entry's 'sets'"):
        load_criteria("5.0", broken(change))


def test_every_graded_term_is_in_the_vocabulary_of_its_version():
    for version in VERSIONS:
        criteria = loaded(version, False)
        assert {e.term for e in criteria.entries} <= criteria.vocabulary.names


def test_v6_renames_platelet_count_decreased_and_each_version_knows_the_other_name():
    v5, v6 = loaded("5.0", False).vocabulary, loaded("6.0", False).vocabulary
    assert "Thrombocytopenia" in v6.names and "Platelet count decreased" not in v6.names
    assert v5.lookup("Thrombocytopenia") == "Platelet count decreased"
    assert v6.lookup("Platelet count decreased") == "Thrombocytopenia"
    assert v5.lookup("Anaphylaxis") == "Anaphylaxis" and v5.lookup("Anaphylaxsis") is None
    assert did_you_mean("Anaphylaxsis", v5.names | v5.aliases.keys()) == " (did you mean 'Anaphylaxis'?)"


def test_a_graded_term_missing_from_the_vocabulary_fails(broken):
    def change(data):
        _alt(data)["term"] = "Alanine aminotransferase increasd"

    message = (
        r"ALT: term 'Alanine aminotransferase increasd' is not a CTCAE v5.0 term in ctcae_terms.yaml; "
        "add it there or correct the spelling"
    )
    with pytest.raises(RuleFileError, match=message):
        load_criteria("5.0", broken(change))


def test_a_rename_of_a_term_the_base_version_lacks_fails(broken):
    target = broken(lambda data: None)
    path = target / "ctcae_terms.yaml"
    data = yaml.safe_load(path.read_text())
    data["versions"]["6.0"]["renamed"] = {"Platelets decreased": "Thrombocytopenia"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(
        RuleFileError,
        match=r"ctcae_terms.yaml: versions.6.0.renamed: 'Platelets decreased' is "
        "not a term of 5.0",
    ):
        load_criteria("6.0", target)


def test_without_the_vocabulary_file_the_criteria_do_not_load(broken):
    target = broken(lambda data: None)
    (target / "ctcae_terms.yaml").unlink()
    with pytest.raises(RuleFileError, match=r"^ctcae_terms.yaml: not in the rules directory"):
        load_criteria("5.0", target)
