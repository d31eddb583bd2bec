"""Reading the rules files: the shell's half of loading rules (the core builds them, safety/rules).

The core validates and compiles rules from ``Document``s (a file's name and bytes) and opens nothing; these
functions read the files and hand them over. The rules directory is ``Settings().rules.dir`` (``SAFETY_RULES_DIR``,
by default rules/ beside the packages): its top-level ``*.yaml`` files are the CTCAE criteria, units and term
names, ``studies/`` holds one protocol file per study.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from safety.errors import RuleFileError
from safety.rules.ctcae import Criteria, UnitTable, build_criteria, build_units
from safety.rules.documents import DocumentConstants, build_document_constants
from safety.rules.protocol import Protocol, build_protocol
from safety.rules.ruleset import DEFAULT_STUDY, RuleBook, RuleSet, build_rulebook, build_ruleset
from safety.rules.sources import Document
from streams.settings import Settings

RULES_SUFFIXES = (".yaml", ".yml")

M = TypeVar("M", bound=BaseModel)


def rules_dir() -> Path:
    """The rules directory of this process: ``SAFETY_RULES_DIR``, or rules/ beside the packages."""
    return Settings.load().rules.dir


def read_rules(directory: Path | None = None) -> dict[str, Document]:
    """The top-level rules files of ``directory`` (default: :func:`rules_dir`) by file name, each named
    ``<directory name>/<file>`` in messages; the core picks the ones a CTCAE version needs."""
    directory = Path(directory) if directory is not None else rules_dir()
    if not directory.is_dir():
        raise RuleFileError(
            f"{directory}: no such rules directory; set SAFETY_RULES_DIR to a directory holding "
            "the CTCAE files, units.yaml and ctcae_terms.yaml (rules/ in the repository)"
        )
    files = sorted(path for path in directory.iterdir() if path.suffix in RULES_SUFFIXES and path.is_file())
    return {path.name: _read(path, f"{directory.name}/{path.name}") for path in files}


def read_study(path: Path) -> Document:
    """A study's protocol file, named by its path in messages."""
    path = Path(path)
    if not path.is_file():
        raise RuleFileError(f"{path}: study rules file not found; pass an existing file with --rules")
    return _read(path, str(path))


def load_rule_file(path: Path, model: type[M], what: str) -> M:
    """A feed's mapping file (``rules/feeds/``) read as YAML and validated as ``model``; each refusal names the
    file, the key and what is wrong (``what``: the file's purpose), so whoever edits it can fix it from the message."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read the {what} ({exc.strerror}); check the path") from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        raise RuleFileError(f"{path}: {where}: {err['msg']}") from exc


def _read(path: Path, name: str) -> Document:
    try:
        return Document(name, path.read_bytes())
    except OSError as exc:
        raise RuleFileError(f"{name}: cannot read the rules file ({exc.strerror}); check the path") from None


def load_protocol(path: Path) -> Protocol:
    """The validated protocol of one study file (its CTCAE terms are checked by :func:`load_ruleset`)."""
    return build_protocol(read_study(path))


def load_units(path: Path) -> UnitTable:
    """The unit table of a ``units.yaml``, named ``<directory name>/units.yaml`` in messages."""
    path = Path(path)
    return build_units(_read(path, f"{path.parent.name}/{path.name}"))


def load_criteria(version: str, directory: Path | None = None, assume_worst_clinical: bool = False) -> Criteria:
    """The CTCAE criteria of ``version`` from ``directory`` (default: :func:`rules_dir`)."""
    return build_criteria(version, read_rules(directory), assume_worst_clinical=assume_worst_clinical)


def load_ruleset(study_file: Path | None = None) -> RuleSet:
    """One study's rule set: ``study_file`` (default: the first study of the rules directory) with the CTCAE
    files of the rules directory."""
    directory = rules_dir()
    study = read_study(study_file or directory / "studies" / f"{DEFAULT_STUDY}.yaml")
    return build_ruleset(study, read_rules(directory))


def load_rulebook(path: Path | None = None) -> RuleBook:
    """Every study of ``path``: a directory of study files (default: the rules directory's studies/), or one study
    file.

    In a directory each ``*.yaml`` is one study, routed to by the ``study_id`` it declares (name the file after it,
    ``<study_id>.yaml``); a rules directory with a ``studies/`` folder means that folder. Each file is built as
    :func:`load_ruleset` builds it, so a file that is invalid alone is invalid here; two files of one study are
    refused.
    """
    directory = rules_dir()
    path = Path(path) if path is not None else directory / "studies"
    if (path / "studies").is_dir():
        path = path / "studies"
    if not path.is_dir():
        return build_rulebook([read_study(path)], read_rules(directory))
    files = sorted(file for file in path.iterdir() if file.suffix in RULES_SUFFIXES and file.is_file())
    if not files:
        raise RuleFileError(f"{path}: no study rules file (*.yaml) in this directory; add <study_id>.yaml")
    return build_rulebook([read_study(file) for file in files], read_rules(directory))


def load_document_constants(path: Path) -> DocumentConstants:
    """The document constants of a study (rules/documents/<study_id>.yaml), named by their path in messages."""
    path = Path(path)
    return build_document_constants(_read(path, str(path)))


def document_constants(rules: RuleSet, folder: Path | None = None) -> DocumentConstants:
    """The study's document constants: its rules file's ``documents:`` section, else rules/documents/<study_id>.yaml
    (``folder``: another documents folder)."""
    path = (folder or rules_dir() / "documents") / f"{rules.protocol.study_id}.yaml"
    if rules.protocol.documents is not None:
        if path.exists():
            raise RuleFileError(f"{path}: the study's rules file already has a documents: section; keep one of them")
        return rules.protocol.documents
    if not path.exists():
        raise RuleFileError(
            f"no document constants for study {rules.protocol.study_id}: add a documents: section to "
            f"its rules file or write {path} (see rules/documents/ChiCTR2600125907.yaml)"
        )
    return load_document_constants(path)
