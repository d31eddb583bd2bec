"""Alerts carry coded terms only (safety/coding.py; README, "No identifiers").

A ``ctcae_term`` that is not a term of the study's CTCAE version is kept out of the alert ("uncoded term" in the
basis) and never holds the alert back: a missed SAE is the worst bug. A death is Death NOS, grade 5.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from detector_helpers import ae, death, infused_state, kinds, run

from safety.rules.ruleset import RuleSet
from streams.rulefiles import load_criteria, rules_dir

FREE_TEXT = "Syncope - patient John Doe, bed 12"


def test_an_sae_whose_ctcae_term_is_not_a_ctcae_term_is_raised_without_the_text(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(ctcae_term=FREE_TEXT, grade=2, serious=["hospitalization"])
    [alert] = run(event, ruleset, infused_state()).alerts
    assert (str(alert.kind), alert.rule_id, alert.grade) == ("SAE", "SAE-SERIOUS", 2)
    assert alert.ctcae_term is None
    assert alert.basis is not None
    assert alert.basis["term_coding"] == "uncoded term: ctcae_term is not a CTCAE v5.0 term; its text is withheld"
    assert "John Doe" not in alert.to_json()


def test_every_ae_alert_kind_is_raised_for_an_uncoded_term_and_none_carries_it(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(ctcae_term=FREE_TEXT, grade=3, serious=["life_threatening"], causality="related", expected=False)
    outcome = run(event, ruleset, infused_state())
    assert kinds(outcome) == [("SAE", "SAE-SERIOUS"), ("SUSAR", "SUSAR-7D"), ("DLT", "DLT-2")]
    for alert in outcome.alerts:
        assert alert.ctcae_term is None and "term_coding" in (alert.basis or {})
        assert "John Doe" not in alert.to_json()


def test_a_suspected_dlt_of_an_uncoded_term_is_raised_without_the_text(ruleset) -> None:  # type: ignore[no-untyped-def]
    [alert] = run(ae(ctcae_term=FREE_TEXT, grade=3), ruleset, infused_state()).alerts
    assert (alert.rule_id, alert.ctcae_term) == ("SUSPECTED_DLT-AE", None)
    assert "John Doe" not in alert.to_json()


def test_a_ctcae_term_of_the_version_is_kept_in_its_ctcae_spelling(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(
        day=0,
        hours=2,
        ctcae_term="infusion related  reaction",
        grade=3,
        causality="related",
        serious=["hospitalization"],
        expected=True,
    )
    outcome = run(event, ruleset, infused_state())
    assert kinds(outcome) == [("SAE", "SAE-SERIOUS"), ("DLT", "DLT-1")]
    assert {a.ctcae_term for a in outcome.alerts} == {"Infusion related reaction"}
    assert all("term_coding" not in (a.basis or {}) for a in outcome.alerts)


def test_an_ae_without_a_ctcae_term_says_so_in_the_basis(ruleset) -> None:  # type: ignore[no-untyped-def]
    [alert] = run(ae(term="张三 晕厥", serious=["hospitalization"]), ruleset, infused_state()).alerts
    assert alert.ctcae_term is None
    assert alert.basis is not None and alert.basis["term_coding"] == "uncoded term: no ctcae_term given"
    assert "张三" not in alert.to_json()


def test_a_term_is_printed_as_the_version_the_study_selects_names_it(ruleset) -> None:  # type: ignore[no-untyped-def]
    v6: RuleSet = replace(ruleset, criteria=load_criteria("6.0", rules_dir()))
    event = ae(ctcae_term="Platelet count decreased", grade=2, serious=["hospitalization"])
    [alert] = run(event, v6, infused_state()).alerts  # CTCAE v6.0 names it Thrombocytopenia (rules/ctcae_terms.yaml)
    assert alert.ctcae_term == "Thrombocytopenia"
    [coded] = run(event, ruleset, infused_state()).alerts
    assert coded.ctcae_term == "Platelet count decreased"


def test_a_term_no_version_knows_is_uncoded(ruleset) -> None:  # type: ignore[no-untyped-def]
    event = ae(ctcae_term="Platelet count decreasd", grade=2, serious=["hospitalization"])
    [alert] = run(event, ruleset, infused_state()).alerts
    assert alert.ctcae_term is None
    assert alert.basis is not None and "not a CTCAE v5.0 term" in alert.basis["term_coding"]


@pytest.mark.parametrize("causality", ["related", "unrelated"])
def test_a_death_is_coded_death_nos_grade_5_and_its_cause_stays_out(ruleset, causality) -> None:  # type: ignore[no-untyped-def]
    event = death(cause="张三 died at home, tel +8613800000000", causality=causality)
    outcome = run(event, ruleset, infused_state())
    expected = [("SAE", "SAE-DEATH")] + ([("SUSAR", "SUSAR-7D"), ("DLT", "DLT-5")] if causality == "related" else [])
    assert kinds(outcome) == expected
    for alert in outcome.alerts:
        assert (alert.ctcae_term, alert.grade) == ("Death NOS", 5)
        assert "张三" not in alert.to_json() and "13800000000" not in alert.to_json()
