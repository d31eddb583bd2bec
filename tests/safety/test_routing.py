"""Several studies, one deployment (docs/rules.md, "Several studies"): each event under its own study's rules.

Replay folds the same ``admit`` -> ``step`` -> ``study_step`` as the stream (safety/routing.py); these tests run it
in-process on a deployment of two studies (tests/study_fixtures.py) and an unknown third.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from study_fixtures import (
    STUDY_A,
    STUDY_B,
    UNKNOWN,
    event,
    infusion,
    lines,
    neut,
    studies_dir,
    two_study_stream,
)

from safety.model.outputs import Alert, GradedObservation, Rejection
from safety.replay import replay
from safety.rules.ruleset import RuleBook
from streams.rulefiles import load_rulebook


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> RuleBook:
    return load_rulebook(studies_dir(tmp_path_factory.mktemp("rules")))


def run(book: RuleBook, events: list[dict[str, Any]]) -> tuple[list[GradedObservation], list[Alert], list[Rejection]]:
    graded, alerts, rejected = [], [], []
    for kind, output in replay(lines(*events), book):
        if kind == "graded":
            graded.append(output)
        elif kind == "alert":
            alerts.append(output)
        elif kind == "rejected":
            rejected.append(output)
    return graded, alerts, rejected  # type: ignore[return-value]


def test_each_event_is_graded_under_its_own_study_s_ctcae_version(book: RuleBook) -> None:
    graded, _, rejected = run(book, two_study_stream())
    rows = {row.subject_id: row for row in graded if row.test == "NEUT"}
    # NEUT 0.3 x 10^9/L: grade 4 by CTCAE v5.0 (< 0.5), grade 3 by v6.0 (0.1 - < 0.5)
    assert (rows["AA-001"].ctcae_version, rows["AA-001"].grade, rows["AA-001"].study_id) == ("5.0", 4, STUDY_A)
    assert (rows["BB-001"].ctcae_version, rows["BB-001"].grade, rows["BB-001"].study_id) == ("6.0", 3, STUDY_B)
    assert rows["BB-001"].criterion is not None and rows["BB-001"].criterion.startswith("ctcae6/")
    assert [r.event_id for r in rejected] == ["L-CC-001"]


def test_an_alert_carries_its_own_study_s_rules_version(book: RuleBook) -> None:
    _, alerts, _ = run(book, two_study_stream())
    dlts = {a.subject_id: a for a in alerts if a.kind == "DLT"}
    assert dlts["BB-001"].study_id == STUDY_B and dlts["AA-001"].study_id == STUDY_A
    assert dlts["BB-001"].rules_version == book.studies[STUDY_B].version
    assert dlts["AA-001"].rules_version == book.studies[STUDY_A].version
    assert book.studies[STUDY_A].version != book.studies[STUDY_B].version


def test_an_event_of_an_unknown_study_is_rejected_naming_the_known_studies_and_never_graded(book: RuleBook) -> None:
    graded, alerts, rejected = run(book, [infusion(UNKNOWN, "CC-001"), neut(UNKNOWN, "CC-001", 0.3, "L-CC-1")])
    assert graded == [] and alerts == []
    assert [r.event_id for r in rejected] == ["INF-CC-001", "L-CC-1"]
    for rejection in rejected:
        assert rejection.reason.startswith(f"study_id: unknown study '{UNKNOWN}'")
        assert STUDY_A in rejection.reason and STUDY_B in rejection.reason
        assert rejection.line is not None and rejection.kind == "invalid"


def test_the_stopping_rule_is_per_study_with_each_study_s_own_parameters(book: RuleBook) -> None:
    # A: 2 subjects, 2 DLTs, below its n >= 3; B: 2 of 2 with n >= 2 crosses. Pooled, A's rule would cross at 3.
    _, alerts, _ = run(book, two_study_stream())
    boundaries = [a for a in alerts if a.kind == "STOPPING_BOUNDARY"]
    assert [(a.study_id, a.subject_id) for a in boundaries] == [(STUDY_B, "BB-002")]
    assert boundaries[0].basis is not None and (boundaries[0].basis["x"], boundaries[0].basis["n"]) == (2, 2)
    assert boundaries[0].rules_version == book.studies[STUDY_B].version


def test_two_studies_using_the_same_subject_code_keep_separate_subjects(book: RuleBook, tmp_path: Path) -> None:
    # The same code in two studies must not share day 0 or a baseline: study B gets no subject code check here.
    loose = tmp_path / "loose"
    loose.mkdir()
    for study in (STUDY_A, STUDY_B):
        text = (studies_dir(tmp_path) / f"{study}.yaml").read_text(encoding="utf-8")
        (loose / f"{study}.yaml").write_text(
            text.replace('subject_code_pattern: "^BB-[0-9]{3}$"\n', ""), encoding="utf-8"
        )
    graded, _, _ = run(
        load_rulebook(loose),
        [infusion(STUDY_A, "AA-001", "2026-07-01"), neut(STUDY_B, "AA-001", 0.3, "L-B", day="2026-07-06")],
    )
    assert [(row.study_id, row.study_day) for row in graded] == [(STUDY_B, None)]  # B's AA-001 is not infused


@pytest.mark.parametrize("subject", ["13800138000", "张三", "AA-1", "aa-001", "BB-001"])
def test_a_subject_id_that_is_not_the_study_s_subject_code_is_rejected_without_repeating_it(
    book: RuleBook, subject: str
) -> None:
    graded, alerts, rejected = run(
        book, [infusion(STUDY_A, subject, event_id="INF-1"), neut(STUDY_A, subject, 0.3, "L-1")]
    )
    assert graded == [] and alerts == [] and len(rejected) == 2
    for rejection in rejected:
        assert rejection.reason.startswith("subject_id: does not match subject_code_pattern ^AA-[0-9]{3,4}$")
        assert rejection.subject_id is None
        stored = rejection.model_dump_json()
        assert subject.strip() not in stored and json.dumps(subject).strip('"') not in stored
        assert json.loads(rejection.raw)["event_id"] in ("INF-1", "L-1")  # the site can still find the record


def test_the_second_study_has_its_own_subject_codes(book: RuleBook) -> None:
    _, _, rejected = run(book, [infusion(STUDY_B, "AA-001"), infusion(STUDY_B, "BB-001")])
    assert [r.reason.split(" of study")[0] for r in rejected] == [
        "subject_id: does not match subject_code_pattern ^BB-[0-9]{3}$"
    ]


def test_a_time_without_offset_is_read_in_its_own_study_s_time_zone(book: RuleBook) -> None:
    naive = [
        event(
            "lab",
            study,
            subject,
            f"L-{subject}",
            "2026-07-06T08:00:00",
            test="ALT",
            value=30,
            unit="U/L",
            ref_low=7,
            ref_high=40,
        )
        for study, subject in ((STUDY_A, "AA-001"), (STUDY_B, "BB-001"))
    ]
    with_offset = event(
        "lab",
        STUDY_B,
        "BB-002",
        "L-BB-002",
        "2026-07-06T08:00:00+08:00",
        test="ALT",
        value=30,
        unit="U/L",
        ref_low=7,
        ref_high=40,
    )
    graded, _, _ = run(book, [*naive, with_offset])
    offsets = {row.subject_id: row.occurred_at.utcoffset() for row in graded}
    assert offsets == {"AA-001": timedelta(hours=8), "BB-001": timedelta(hours=6), "BB-002": timedelta(hours=8)}


def test_a_single_rule_set_is_a_deployment_of_that_one_study(ruleset: Any) -> None:
    graded, _, rejected = run(ruleset, [neut(STUDY_A, "AA-001", 0.3, "L-A"), neut(STUDY_B, "BB-001", 0.3, "L-B")])
    assert [row.event_id for row in graded] == ["L-A"]
    assert [r.event_id for r in rejected] == ["L-B"] and "knows ChiCTR2600125907 " in rejected[0].reason
