"""Loading a deployment's studies: one RuleSet per rules/studies/<study_id>.yaml, built by the core from the
documents the shell read (safety/rules/ruleset.py, streams/rulefiles.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from study_fixtures import ROOT, STUDY_A, STUDY_B, STUDY_FILES, rules_dir, studies_dir

from safety.errors import RuleFileError
from safety.rules import Document, build_protocol, build_ruleset
from streams.rulefiles import load_protocol, load_rulebook, load_ruleset


def test_a_directory_loads_every_study_each_with_its_own_ctcae_version_and_time_zone(tmp_path: Path) -> None:
    book = load_rulebook(studies_dir(tmp_path))
    assert list(book.studies) == [STUDY_A, STUDY_B]
    assert book.studies[STUDY_B].criteria.version == "6.0" and book.studies[STUDY_A].criteria.version == "5.0"
    assert str(book.studies[STUDY_B].tz) == "Asia/Urumqi" and book.parse_tz is book.studies[STUDY_A].tz
    assert book.primary is book.studies[STUDY_A]
    alone = load_ruleset(STUDY_FILES[STUDY_B])  # one file loads alone as it loads here
    assert (book.studies[STUDY_B].protocol, book.studies[STUDY_B].version) == (alone.protocol, alone.version)


def test_by_default_every_study_of_the_rules_directory_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFETY_RULES_DIR", str(rules_dir(tmp_path)))
    assert list(load_rulebook().studies) == [STUDY_A, STUDY_B]


def test_a_single_file_is_a_deployment_of_that_one_study() -> None:
    assert list(load_rulebook(STUDY_FILES[STUDY_B]).studies) == [STUDY_B]


def test_a_study_is_routed_to_by_the_study_id_its_file_declares(tmp_path: Path) -> None:
    target = studies_dir(tmp_path)
    (target / f"{STUDY_B}.yaml").rename(target / "second.yaml")
    assert list(load_rulebook(target).studies) == [STUDY_A, STUDY_B]


def test_two_files_of_one_study_are_refused(tmp_path: Path) -> None:
    target = studies_dir(tmp_path)
    shutil.copy(target / f"{STUDY_B}.yaml", target / "copy.yaml")
    with pytest.raises(RuleFileError, match=f"study {STUDY_B} has two rules files"):
        load_rulebook(target)


def test_a_rules_directory_means_its_studies_folder(tmp_path: Path) -> None:
    assert list(load_rulebook(rules_dir(tmp_path)).studies) == [STUDY_A, STUDY_B]


def test_study_ids_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    target = studies_dir(tmp_path)
    text = STUDY_FILES[STUDY_A].read_text(encoding="utf-8")
    text = text.replace(f"study_id: {STUDY_A}", "study_id: chictr2600125907")
    (target / "chictr2600125907.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError, match="differ only in letter case"):
        load_rulebook(target)


def test_a_directory_without_study_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no study rules file"):
        load_rulebook(tmp_path)


def test_an_invalid_subject_code_pattern_fails_loudly_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / f"{STUDY_A}.yaml"
    shutil.copy(STUDY_FILES[STUDY_A], path)
    path.write_text(path.read_text(encoding="utf-8").replace("^AA-[0-9]{3,4}$", "^AA-[0-9{3}$"), encoding="utf-8")
    with pytest.raises(RuleFileError, match="subject_code_pattern"):
        load_protocol(path)


def test_the_first_study_accepts_its_own_subject_codes_and_refuses_identifiers() -> None:
    protocol = load_protocol(STUDY_FILES[STUDY_A])
    assert protocol.subject_code_problem("AA-001") is None and protocol.subject_code_problem("AA-048") is None
    for identifier in ("13800138000", "张三", "110101199003074578", "AA-001-张三"):
        problem = protocol.subject_code_problem(identifier)
        assert problem is not None and identifier not in problem


def _documents(directory: Path) -> dict[str, Document]:
    return {path.name: Document(f"rules/{path.name}", path.read_bytes()) for path in directory.glob("*.yaml")}


def test_the_core_builds_a_study_from_documents_and_versions_the_bytes_it_was_built_from() -> None:
    rules = _documents(ROOT / "rules")
    study = Document("first study", STUDY_FILES[STUDY_A].read_bytes())
    built = build_ruleset(study, rules)
    assert (built.protocol, built.version) == (load_ruleset().protocol, load_ruleset().version)
    commented = {**rules, "units.yaml": Document("rules/units.yaml", rules["units.yaml"].data + b"\n# reviewed\n")}
    assert build_ruleset(study, commented).version != built.version  # any byte of a file read changes it
    unread = {**rules, "unrelated.yaml": Document("rules/unrelated.yaml", b"not: [read")}
    assert build_ruleset(study, unread).version == built.version  # a file the study does not select is not read


def test_a_document_is_named_by_the_name_the_shell_gave_it() -> None:
    with pytest.raises(RuleFileError, match=r"^uploaded study: expected a mapping of protocol settings"):
        build_protocol(Document("uploaded study", b"- a list\n"))
    with pytest.raises(RuleFileError, match=r"^uploaded study: not valid YAML"):
        build_protocol(Document("uploaded study", b"study_id: [\n"))


def test_a_missing_rules_directory_names_the_directory_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFETY_RULES_DIR", str(tmp_path / "absent"))
    with pytest.raises(RuleFileError, match=r"absent: no such rules directory; set SAFETY_RULES_DIR"):
        load_ruleset(STUDY_FILES[STUDY_A])
