"""safety.coding: the coded values documents carry instead of an event's free text (README, "No identifiers")."""

from __future__ import annotations

import pytest

from safety.coding import UNCODED_OUTCOME, ctcae_term, death_term, outcome
from streams.rulefiles import load_criteria, rules_dir


@pytest.mark.parametrize(
    ("text", "coded"),
    [
        ("recovered", "recovered"),
        ("RECOVERED/RESOLVED", "recovered"),
        ("recovering/resolving", "recovering"),
        ("not recovered", "not recovered"),
        ("NOT_RECOVERED/NOT_RESOLVED", "not recovered"),
        ("recovered/resolved with sequelae", "recovered with sequelae"),
        ("FATAL", "fatal"),
        ("unknown", "unknown"),
        ("recovered, call 张三 at +86 138 0000 0000", UNCODED_OUTCOME),
        ("  ", None),
        (None, None),
    ],
)
def test_an_outcome_is_one_of_a_closed_list_or_uncoded(text: str | None, coded: str | None) -> None:
    assert outcome(text) == coded


def test_a_ctcae_term_is_accepted_only_as_a_term_of_the_version_in_use() -> None:
    v5, v6 = load_criteria("5.0", rules_dir()), load_criteria("6.0", rules_dir())
    assert ctcae_term("Syncope", v5) == "Syncope"
    assert ctcae_term("SYNCOPE ", v5) == "Syncope"
    assert ctcae_term("Syncope - patient John Doe, bed 12", v5) is None
    # another version's name of a term is printed as the version in use names it (rules/ctcae_terms.yaml)
    assert ctcae_term("Thrombocytopenia", v5) == "Platelet count decreased"
    assert ctcae_term("platelet count decreased", v6) == "Thrombocytopenia"
    assert ctcae_term("Febrile neutropenia", v6) == "Febrile neutropenia"  # a composite term is a term too
    assert death_term(v5) == death_term(v6) == "Death NOS"


def test_the_page_view_keeps_an_event_without_its_free_text() -> None:
    import phi_fixtures as phi

    from safety.coding import without_free_text
    from safety.reports import read_events

    v5 = load_criteria("5.0", rules_dir())
    kept = {r["event_id"]: without_free_text(r, v5) for r in phi.events()}
    assert kept.pop("PHI-L-3") is None  # its test is not a test code: nothing to keep
    records = {eid: r for eid, r in kept.items() if r is not None}
    assert phi.found(repr(records)) == []
    assert records["PHI-L-1"]["unit"] is None and records["PHI-L-0"]["unit"] == "10^9/L"
    ae = records["PHI-AE-1"]
    assert (ae["term"], ae["ctcae_term"], ae["outcome"], ae["grade"]) == ("uncoded term", None, "uncoded outcome", 3)
    assert "patient_name" not in ae and "source" not in ae and "cause" not in records["PHI-D-1"]
    ae1 = next(e for e in phi.events() if e["event_id"] == "PHI-AE-1")
    coded = without_free_text({**ae1, "ctcae_term": "syncope", "outcome": "RECOVERED"}, v5)
    assert coded is not None
    assert (coded["term"], coded["ctcae_term"], coded["outcome"]) == ("Syncope", "Syncope", "recovered")
    assert len(read_events(records.values())) == len(records)  # still valid contract events for the pages
