"""The closed vocabularies are the contract's, and safety/vocab.py is the only module that spells them out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from safety.model.outputs import Alert
from safety.vocab import (
    CAUSALITIES,
    CLINICAL_KINDS,
    FATAL_SERIOUSNESS,
    RELATED_CAUSALITY,
    ROLES,
    SERIOUSNESS,
    AlertKind,
    AlertKindName,
    Category,
    ObservationType,
)

ROOT = Path(__file__).resolve().parents[2]


def test_roles_are_the_protocols_three_recipients() -> None:
    assert ROLES == ("pi", "ethics", "safety_officer")


def test_causality_is_the_contracts_six_level_scale() -> None:
    assert CAUSALITIES == ("related", "probable", "possible", "unlikely", "unrelated", "unassessable")


def test_related_set_counts_whatever_cannot_be_ruled_out() -> None:
    assert RELATED_CAUSALITY == ("related", "probable", "possible", "unassessable")
    assert tuple(c for c in CAUSALITIES if c not in RELATED_CAUSALITY) == ("unlikely", "unrelated")


def test_seriousness_is_the_six_ich_e2a_criteria() -> None:
    assert SERIOUSNESS == (
        "death",
        "life_threatening",
        "hospitalization",
        "disability",
        "congenital_anomaly",
        "medically_important",
    )


def test_a_fatal_or_life_threatening_susar_is_the_seven_day_one() -> None:
    assert FATAL_SERIOUSNESS == ("death", "life_threatening")
    assert set(FATAL_SERIOUSNESS) <= set(SERIOUSNESS)


def test_clinical_kinds_are_the_contracts_list_in_its_order() -> None:
    assert CLINICAL_KINDS == ("DLT", "SUSPECTED_DLT", "SAE", "SUSAR", "POTENTIAL_SAE", "HYS_LAW", "STOPPING_BOUNDARY")


def test_alert_records_add_the_withdrawal_the_delivery_failure_and_the_heartbeat_to_the_clinical_kinds() -> None:
    assert [k.value for k in AlertKind] == [
        *CLINICAL_KINDS,
        "ALERT_WITHDRAWN",
        "DELIVERY_FAILED",
        "DATA_OVERDUE",
        "FEED_SILENT",
    ]


def test_a_rules_file_may_name_every_kind_but_the_withdrawal() -> None:
    assert set(get_args(AlertKindName)) == {k.value for k in AlertKind} - {"ALERT_WITHDRAWN"}


def test_category_and_observation_types_are_the_contracts() -> None:
    assert get_args(Category) == ("hematologic", "non_hematologic")
    assert get_args(ObservationType) == ("lab", "vital", "ecg")


def _alert(**fields: object) -> Alert:
    base: dict[str, object] = {
        "alert_id": "a" * 24,
        "kind": "SAE",
        "rule_id": "SAE-SERIOUS",
        "study_id": "S",
        "subject_id": "AA-001",
        "event_ids": ["AE-1"],
        "recipients": ["pi", "ethics"],
        "raised_at": datetime(2026, 7, 1, tzinfo=UTC),
        "rules_version": "v",
    }
    return Alert.model_validate(base | fields)


def test_an_alert_in_json_carries_the_bare_kind_and_role_names() -> None:
    text = _alert().to_json()
    assert '"kind":"SAE"' in text
    assert '"recipients":["pi","ethics"]' in text


def test_an_unknown_role_is_refused_naming_the_roles() -> None:
    with pytest.raises(ValidationError, match="'pi', 'ethics' or 'safety_officer'"):
        _alert(recipients=["investigator"])


# --- nobody else spells a vocabulary out -------------------------------------------------------------------------

WHOLE: dict[str, set[str]] = {
    "roles": set(ROLES),
    "causality": set(CAUSALITIES),
    "seriousness": set(SERIOUSNESS),
    "alert kinds": set(CLINICAL_KINDS),
}
"""A literal collection holding all of these values is a second definition of the vocabulary."""
SPLITS: dict[str, set[str]] = {"related causality": set(RELATED_CAUSALITY), "fatal seriousness": set(FATAL_SERIOUSNESS)}
"""A literal collection of exactly these values is a second definition of the split."""


def _string_sets(tree: ast.AST) -> Iterator[tuple[int, set[str]]]:
    """Every literal tuple, list or set of strings, every ``Literal[...]`` and every class body of string constants
    (an enum), as (line, values)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            elements = node.elts
        elif isinstance(node, ast.ClassDef):
            elements = [s.value for s in node.body if isinstance(s, ast.Assign)]
        else:
            continue
        values = {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        if len(values) >= 2:
            yield node.lineno, values


def _redefinitions(path: Path) -> list[str]:
    found: list[str] = []
    for line, values in _string_sets(ast.parse(path.read_text(encoding="utf-8"))):
        found += [f"line {line}: {name}" for name, vocab in WHOLE.items() if values >= vocab]
        found += [f"line {line}: {name}" for name, vocab in SPLITS.items() if values == vocab]
    return sorted(found)


def _modules() -> list[Any]:
    paths = sorted(p for package in ("safety", "streams") for p in (ROOT / package).rglob("*.py"))
    params = []
    for path in paths:
        name = str(path.relative_to(ROOT))
        if name == "safety/vocab.py":
            continue
        params.append(pytest.param(path, id=name))
    return params


@pytest.mark.parametrize("path", _modules())
def test_no_module_but_vocab_spells_out_a_vocabulary(path: Path) -> None:
    assert _redefinitions(path) == [], "import it from safety.vocab instead"


def test_the_check_finds_a_literal_a_split_and_an_enum(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    kinds = "\n".join(f"    {k} = {k!r}" for k in CLINICAL_KINDS)
    module.write_text(
        'Recipient = Literal["pi", "ethics", "safety_officer", "sponsor"]\n'
        'RELATED = ["related", "probable", "possible", "unassessable"]\n'
        f"class Kind(StrEnum):\n{kinds}\n",
        encoding="utf-8",
    )
    assert _redefinitions(module) == ["line 1: roles", "line 2: related causality", "line 3: alert kinds"]
