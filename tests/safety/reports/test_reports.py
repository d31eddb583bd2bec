"""safety.reports: exact CIs, the stopping posterior, counts, line listing, timelines and eDISH."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import report_fixtures as fx

from safety.reports import (
    TIMELINE_TESTS,
    StoppingParams,
    build_report,
    edish_points,
    lab_scale,
    posterior_exceeds,
    quadrant,
    read_alerts,
    read_events,
    read_graded,
    subject_timeline,
    summary_document,
)
from safety.rules.protocol import StoppingRule
from streams.cli import main
from streams.rulefiles import load_criteria, load_ruleset, rules_dir

RULES = load_ruleset()  # the first study: CTCAE 5.0, Hy's law 3 / 2, stopping P(rate > 0.30) > 0.90
V6 = load_criteria("6.0", rules_dir())


def _report(acks: bool = True):  # type: ignore[no-untyped-def]
    return build_report(
        fx.events(), fx.alerts(), fx.acks() if acks else [], study_id=fx.STUDY, generated_at=fx.GENERATED_AT
    )


def test_stopping_parameters_are_the_protocols_and_default_to_its_schema() -> None:
    assert StoppingParams.of(RULES.protocol).model_dump() == RULES.protocol.stopping.model_dump(exclude={"enabled"})
    assert StoppingParams().model_dump() == StoppingRule().model_dump(exclude={"enabled"})


def test_a_stricter_protocol_threshold_changes_the_overview_posterior() -> None:
    strict = StoppingParams.of(RULES.protocol).model_copy(update={"threshold": 0.5})
    ov = build_report(
        fx.events(), fx.alerts(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT, stopping=strict
    ).overview
    assert ov.stopping_probability == pytest.approx(posterior_exceeds(2, 3, 0.5, 1.0, 1.0))
    assert not any(p.crossed for p in ov.series)  # 0.5 of 2 / 3 stays below the boundary


def test_overview_counts_infused_dlt_and_sae_subjects() -> None:
    ov = _report().overview
    assert (ov.subjects_enrolled, ov.subjects_infused, ov.subjects_with_dlt, ov.subjects_with_sae) == (
        4,
        3,
        2,
        2,
    )
    assert (ov.sae_count, ov.susar_count) == (2, 1)


def test_withdrawn_dlt_does_not_count_towards_the_stopping_rule() -> None:
    alerts = [a for a in fx.alerts() if a["kind"] != "ALERT_WITHDRAWN"]
    ov = build_report(fx.events(), alerts, study_id=fx.STUDY, generated_at=fx.GENERATED_AT).overview
    assert ov.subjects_with_dlt == 3  # without the withdrawal the rash DLT of AA-002 counts
    assert _report().overview.subjects_with_dlt == 2


def test_stopping_probability_crosses_the_boundary_at_two_of_three() -> None:
    ov = _report().overview
    assert ov.stopping_probability == pytest.approx(0.9163, abs=1e-4)
    assert ov.stopping_boundary_crossed is True
    evaluated = [p for p in ov.series if p.probability is not None]
    assert [round(p.probability or 0, 3) for p in evaluated] == [0.652, 0.916, 0.916]
    assert [p.crossed for p in evaluated] == [False, True, True]


def test_stopping_rule_is_not_evaluated_below_three_infused_subjects() -> None:
    events = [e for e in fx.events() if e["subject_id"] in ("AA-001", "AA-004")]
    alerts = [a for a in fx.alerts() if a["subject_id"] == "AA-001"]
    ov = build_report(events, alerts, study_id=fx.STUDY, generated_at=fx.GENERATED_AT).overview
    assert ov.subjects_infused == 1 and ov.stopping_probability is None
    assert ov.stopping_boundary_crossed is False


def test_screening_sae_is_listed_but_not_counted_in_incidence() -> None:
    alerts = fx.alerts() + [
        {
            **fx.alerts()[5],
            "alert_id": "screening-sae",
            "subject_id": "AA-004",
            "study_day": None,
            "event_ids": ["AE-X"],
        }
    ]
    report = build_report(fx.events(), alerts, study_id=fx.STUDY, generated_at=fx.GENERATED_AT)
    assert report.overview.subjects_with_sae == 2
    assert "AA-004" in [r.subject_id for r in report.listing]


def test_line_listing_takes_seriousness_causality_and_outcome_from_the_adverse_event() -> None:
    rows = {(r.subject_id, r.kind): r for r in _report().listing}
    sae = rows[("AA-001", "SAE")]
    assert (sae.seriousness, sae.causality, sae.expectedness, sae.outcome, sae.grade) == (
        ["hospitalization"],
        "related",
        "unexpected",
        "recovered",
        3,
    )
    assert sae.submitted_at is not None and sae.status == "acknowledged" and not sae.overdue
    assert rows[("AA-002", "SAE")].overdue is True
    assert {r.kind for r in rows.values()} == {"SAE", "SUSAR"}


def test_summary_document_has_the_public_keys() -> None:
    doc = summary_document(_report())
    for key in (
        "study_id",
        "generated_at",
        "subjects_infused",
        "subjects_with_dlt",
        "dlt_rate_ci95",
        "subjects_with_sae",
        "sae_rate_ci95",
        "stopping_probability",
        "stopping_boundary_crossed",
        "line_listing",
    ):
        assert key in doc
    assert doc["generated_at"] == "2026-09-01T12:00:00+08:00"
    assert doc["dlt_rate_ci95"] == [0.094299, 0.991596]
    assert isinstance(doc["line_listing"], list) and doc["line_listing"][0]["subject_id"] == "AA-001"
    json.dumps(doc)  # serialisable as is


def test_a_correction_replaces_the_earlier_revision_of_an_event() -> None:
    events = read_events(fx.events())
    rash = [e for e in events if e.event_id == "AE-002-2"]
    assert len(rash) == 1 and rash[0].revision == 2 and rash[0].grade == 2


def test_subject_timeline_has_day0_baseline_and_markers() -> None:
    report = _report()
    tl = subject_timeline(
        "AA-001", read_events(fx.events()), read_graded(fx.graded()), report.statuses, criteria=RULES.criteria
    )
    assert tl.day0 is not None and tl.day0.isoformat() == "2026-07-06"
    alt = next(s for s in tl.series if s.test == "ALT")
    assert alt.baseline == 0.75  # 30 U/L with ULN 40, before the infusion
    assert [(p.study_day, p.value, p.grade) for p in alt.points][:2] == [(-2, 0.75, 0), (7, 3.75, 2)]
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.baseline == 75.0  # 7.5 g/dL shown as g/L
    kinds = {m.kind for m in tl.markers}
    assert kinds == {"infusion", "adverse_event", "alert"}
    assert [s.test for s in tl.series] == ["NEUT", "PLAT", "HGB", "ALT", "BILI", "CREAT"]


def _unconditional_bands(criteria, test: str, of: str) -> set[tuple[str, int, float]]:  # type: ignore[no-untyped-def]
    """The criteria's own thresholds for ``test`` that apply whatever the baseline, on reference ``of``, by term."""
    return {
        (term.term, b.grade, b.value)
        for term in criteria.by_test[test]
        for s in term.sets
        if s.measure == "value" and s.applies in ("always", "baseline_not_above_uln", "baseline_not_below_lln")
        for b in s.bands
        if b.of == of
    }


def _pairs(bands) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    return [(b.grade, b.threshold) for b in bands]


@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize("test", TIMELINE_TESTS)
def test_timeline_bands_are_the_loaded_criterias_thresholds(version: str, test: str) -> None:
    criteria = load_criteria(version, rules_dir())
    scale = lab_scale(criteria, test)
    of = "uln" if scale.scale == "uln" else "abs"
    assert {(b.term, b.grade, b.threshold) for b in scale.bands} == _unconditional_bands(criteria, test, of) != set()
    assert scale.terms == list(dict.fromkeys(t.term for t in criteria.by_test[test]))
    assert scale.ctcae_version == version
    assert scale.unit == ("x ULN" if of == "uln" else criteria.units.si[test])


def test_potassium_is_drawn_with_the_bands_of_both_of_its_terms() -> None:
    k = lab_scale(RULES.criteria, "K")
    assert k.terms == ["Hypokalemia", "Hyperkalemia"] and k.unit == "mmol/L"
    assert [(b.term, b.direction, b.grade, b.threshold) for b in k.bands] == [
        ("Hypokalemia", "low", 3, 3.0),
        ("Hypokalemia", "low", 4, 2.5),
        ("Hyperkalemia", "high", 2, 5.5),
        ("Hyperkalemia", "high", 3, 6.0),
        ("Hyperkalemia", "high", 4, 7.0),
    ]


def test_ctcae_v5_and_v6_neutrophil_bands_follow_the_rules_files() -> None:
    v5 = lab_scale(RULES.criteria, "NEUT")
    v6 = lab_scale(V6, "NEUT")
    assert {b.direction for b in v5.bands} == {"low"}
    assert (v5.unit, _pairs(v5.bands)) == ("10^9/L", [(2, 1.5), (3, 1.0), (4, 0.5)])
    assert _pairs(v6.bands) == [(1, 1.5), (2, 1.0), (3, 0.5), (4, 0.1)]  # v6: G4 < 0.1, no LLN anchor for G1
    plat = lab_scale(V6, "PLAT")
    assert plat.terms == ["Thrombocytopenia"] and _pairs(plat.bands)[-1] == (4, 10.0)
    alt = lab_scale(RULES.criteria, "ALT")
    assert {b.direction for b in alt.bands} == {"high"}
    assert (alt.unit, _pairs(alt.bands)) == ("x ULN", [(1, 1.0), (2, 3.0), (3, 5.0), (4, 20.0)])


def test_subject_timeline_under_ctcae_v6_draws_v6_bands_and_v6_term_names() -> None:
    events, statuses = read_events(fx.events()), _report().statuses
    v5 = {s.test: s for s in subject_timeline("AA-001", events, [], statuses, criteria=RULES.criteria).series}
    v6 = {s.test: s for s in subject_timeline("AA-001", events, [], statuses, criteria=V6).series}
    assert _pairs(v5["NEUT"].bands)[-1] == (4, 0.5) and _pairs(v6["NEUT"].bands)[-1] == (4, 0.1)
    assert (v5["PLAT"].terms, v6["PLAT"].terms) == (["Platelet count decreased"], ["Thrombocytopenia"])
    assert v6["NEUT"].ctcae_version == "6.0"


def test_timeline_bands_follow_an_edited_rules_file(tmp_path: Path) -> None:
    edited = tmp_path / "rules"
    edited.mkdir()
    for name in ("ctcae_v5.yaml", "units.yaml", "ctcae_terms.yaml"):
        (edited / name).write_text((rules_dir() / name).read_text(encoding="utf-8"), encoding="utf-8")
    v5 = edited / "ctcae_v5.yaml"
    text = v5.read_text(encoding="utf-8")
    neut = text.index("id: NEUT\n")
    head, tail = text[:neut], text[neut:]
    assert tail.index("{grade: 4, op: lt, value: 0.5}") < tail.index("id: PLAT")  # NEUT's grade 4
    tail = tail.replace("{grade: 4, op: lt, value: 0.5}", "{grade: 4, op: lt, value: 0.4}", 1)
    v5.write_text(head + tail, encoding="utf-8")
    assert _pairs(lab_scale(load_criteria("5.0", edited), "NEUT").bands)[-1] == (4, 0.4)


def test_timeline_converts_raw_values_with_the_rules_unit_table() -> None:
    tl = subject_timeline("AA-001", read_events(fx.events()), [], _report().statuses, criteria=RULES.criteria)
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.unit == "g/L" and hgb.baseline == 75.0  # 7.5 g/dL x 10 (rules/units.yaml)


def test_timeline_never_guesses_an_unknown_unit() -> None:
    events = [e for e in fx.events() if e["event_id"] != "L-AA-001-HGB0"] + [
        {**next(e for e in fx.events() if e["event_id"] == "L-AA-001-HGB0"), "unit": "furlongs"}
    ]
    tl = subject_timeline("AA-001", read_events(events), [], _report().statuses, criteria=RULES.criteria)
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.baseline is None and "L-AA-001-HGB0" not in [p.event_id for p in hgb.points]


def _hgb_row(event_id: str, value: float, revision: int = 1) -> dict[str, object]:
    lab = next(e for e in fx.events() if e["event_id"] == event_id)
    return {
        "event_id": event_id,
        "revision": revision,
        "study_id": fx.STUDY,
        "subject_id": lab["subject_id"],
        "event_type": "lab",
        "test": "HGB",
        "occurred_at": lab["occurred_at"],
        "study_day": None,
        "ctcae_version": "5.0",
        "ctcae_term": "Anemia",
        "grade": 3,
        "baseline_grade": 3,
        "treatment_emergent": False,
        "category": "hematologic",
        "criterion": "ctcae5/HGB/3",
        "value": value,
        "unit": "g/L",
        "lln": 115.0,
        "uln": 150.0,
        "basis": "fixture",
    }


def test_timeline_shows_the_graded_rows_si_value_and_grade() -> None:
    graded = read_graded([_hgb_row("L-AA-001-HGB0", 75.5)])  # what grading compared, e.g. before a units edit
    tl = subject_timeline("AA-001", read_events(fx.events()), graded, _report().statuses, criteria=RULES.criteria)
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.baseline == 75.5 and hgb.points[0].grade == 3


def test_a_graded_row_of_an_earlier_revision_is_not_shown_for_a_correction() -> None:
    base = next(e for e in fx.events() if e["event_id"] == "L-AA-001-HGB0")
    events = fx.events() + [{**base, "revision": 2, "status": "corrected", "value": 8.0}]
    graded = read_graded([_hgb_row("L-AA-001-HGB0", 75.0, revision=1)])
    tl = subject_timeline("AA-001", read_events(events), graded, _report().statuses, criteria=RULES.criteria)
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.baseline == 80.0 and hgb.points[0].grade is None


def test_edish_baseline_multiple_compares_si_values_across_units() -> None:
    bili0 = next(e for e in fx.events() if e["event_id"] == "L-AA-002-BILI0")
    events = [e for e in fx.events() if e["event_id"] != "L-AA-002-BILI0"] + [
        {**bili0, "value": 0.5, "unit": "mg/dL", "ref_low": 0.2, "ref_high": 1.2}  # 8.55 umol/L
    ]
    points = {
        p.subject_id: p
        for p in edish_points(read_events(events), criteria=RULES.criteria, hys_law=RULES.protocol.hys_law)
    }
    # peak follow-up bilirubin of AA-002 is 15 umol/L: 15 / 8.55, not 15 / 0.5
    assert points["AA-002"].bili_x_baseline == pytest.approx(15 / 8.55, abs=1e-6)


def test_edish_quadrants_move_with_the_protocols_hys_law_lines() -> None:
    hys = RULES.protocol.hys_law.model_copy(update={"transaminase_x_uln": 5.0})
    points = {p.subject_id: p for p in edish_points(read_events(fx.events()), criteria=RULES.criteria, hys_law=hys)}
    assert points["AA-001"].quadrant_uln == "cholestasis"  # ALT 3.75 x ULN is below a line at 5


def test_edish_page_draws_the_protocols_hys_law_lines() -> None:
    from streams.web import views as pages

    hys = RULES.protocol.hys_law.model_copy(update={"transaminase_x_uln": 5.0, "bilirubin_x_uln": 1.5})
    html = pages.edish_page([], pages.Links.static(), fx.STUDY, hys_law=hys)
    assert 'class="alt-line"' in html and 'data-value="5"' in html and 'data-value="1.5"' in html


def test_edish_uses_peaks_after_infusion_in_uln_and_baseline_multiples() -> None:
    points = {
        p.subject_id: p
        for p in edish_points(read_events(fx.events()), criteria=RULES.criteria, hys_law=RULES.protocol.hys_law)
    }
    p = points["AA-001"]
    assert (p.transaminase_x_uln, p.bili_x_uln) == (3.75, pytest.approx(48.8 / 20.5, abs=1e-6))
    assert (p.transaminase_x_baseline, p.bili_x_baseline) == (5.0, 4.88)
    assert p.transaminase_test == p.transaminase_test_baseline == "ALT"
    assert p.quadrant_uln == "hys_law" and points["AA-002"].quadrant_uln == "normal"


@pytest.mark.parametrize(
    ("alt", "bili", "name"),
    [
        (3.0, 2.0, "hys_law"),
        (2.99, 2.0, "cholestasis"),
        (3.0, 1.99, "temple"),
        (1.0, 1.0, "normal"),
        (None, 5.0, "cholestasis"),
    ],
)
def test_edish_quadrants_are_split_at_the_protocols_hys_law_multiples(
    alt: float | None, bili: float | None, name: str
) -> None:
    hys = RULES.protocol.hys_law
    assert (hys.transaminase_x_uln, hys.bilirubin_x_uln) == (3.0, 2.0)  # the first study's protocol
    assert quadrant(alt, bili, hys.transaminase_x_uln, hys.bilirubin_x_uln) == name


def test_alerts_are_read_once_per_alert_id() -> None:
    assert len(read_alerts(fx.alerts() + fx.alerts())) == len(fx.alerts())


def test_report_cli_writes_every_document_byte_identically_on_a_rerun(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    assert main(["report", "--from-replay", str(source), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert main(["report", "--from-replay", str(source), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if not p.name.startswith("alert-"))
    alert_pages = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name.startswith("alert-"))
    assert alert_pages == sorted(f"alert-{a['alert_id']}.html" for a in fx.alerts() if a["kind"] != "ALERT_WITHDRAWN")
    assert names == [
        "ae-listing.csv",
        "ae-listing.html",
        "alerts.csv",
        "alerts.html",
        "edish.html",
        "ethics-feed.html",
        "ethics.atom",
        "ethics.html",
        "lab-listing.csv",
        "lab-listing.html",
        "overdue.csv",
        "overdue.html",
        "overview.html",
        "safety-summary.csv",
        "safety-summary.html",
        "safety-summary.json",
        "safety-summary.pdf",
        "subject-AA-001.html",
        "subject-AA-002.html",
        "subject-AA-003.html",
        "subject-AA-004.html",
    ]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_report_cli_draws_the_bands_of_the_ctcae_version_the_study_file_selects(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    study = rules_dir() / "studies" / "ChiCTR2600125907.yaml"
    v6_study = tmp_path / "v6.yaml"
    text = study.read_text(encoding="utf-8")
    assert 'ctcae_version: "5.0"' in text
    v6_study.write_text(text.replace('ctcae_version: "5.0"', 'ctcae_version: "6.0"'), encoding="utf-8")
    for name, rules in (("v5", study), ("v6", v6_study)):
        args = ["--from-replay", str(source), "--out", str(tmp_path / name), "--rules", str(rules), "--quiet"]
        assert main(["report", *args]) == 0
    v5_page = (tmp_path / "v5" / "subject-AA-001.html").read_text(encoding="utf-8")
    v6_page = (tmp_path / "v6" / "subject-AA-001.html").read_text(encoding="utf-8")
    neut = 'data-chart="lab-NEUT"'
    assert 'data-ctcae-version="5.0"' in v5_page and 'data-ctcae-version="6.0"' in v6_page
    # v6 draws a grade 1 NEUT band (< 1.5, no LLN anchor); v5's grade 1 starts at the laboratory's LLN
    assert 'data-grade="1"' not in _chart(v5_page, neut) and 'data-grade="1"' in _chart(v6_page, neut)


def _chart(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start : page.index("</svg>", start)]


def test_report_cli_defaults_generated_at_to_the_latest_input_time(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    main(["report", "--from-replay", str(source), "--out", str(tmp_path / "out"), "--quiet"])
    doc = json.loads((tmp_path / "out" / "safety-summary.json").read_text(encoding="utf-8"))
    latest = max(datetime.fromisoformat(e["recorded_at"]) for e in fx.events())
    assert datetime.fromisoformat(doc["generated_at"]) == latest


def test_report_cli_explains_a_missing_replay_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--from-replay", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    assert "safety replay" in capsys.readouterr().err


def test_report_cli_rejects_a_generated_at_without_offset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    code = main(
        ["report", "--from-replay", str(source), "--out", str(tmp_path / "o"), "--generated-at", "2026-09-01T12:00:00"]
    )
    assert code == 1 and "UTC offset" in capsys.readouterr().err


def test_an_acknowledgement_from_the_ack_endpoint_is_attributed_to_who() -> None:
    from safety.reports import read_acks

    [ack] = read_acks(
        [
            {
                "type": "ack",
                "alert_id": "a" * 24,
                "who": "Dr. On-call",
                "role": "pi",
                "at": "2026-07-06T15:00:00+08:00",
                "conclusion": "seen",
            }
        ]
    )
    assert (ack.action, ack.by, ack.conclusion) == ("acknowledged", "Dr. On-call", "seen")


# ----------------------------------------------------------------------------------------------------
# No identifiers (README): coded values only, never an event's free text
# ----------------------------------------------------------------------------------------------------


def _phi_report():  # type: ignore[no-untyped-def]
    import phi_fixtures as phi

    return build_report(phi.events(), phi.alerts(RULES), study_id=phi.STUDY, generated_at=fx.GENERATED_AT, tz=RULES.tz)


def test_the_line_listing_shows_coded_terms_never_the_verbatim_term_or_the_cause() -> None:
    rows = {(r.kind, r.rule_id, r.grade): r.term for r in _phi_report().listing}
    assert rows == {
        ("SAE", "SAE-SERIOUS", 3): "uncoded term",  # its ctcae_term is free text, not a CTCAE v5.0 term
        ("SUSAR", "SUSAR-15D", 3): "uncoded term",
        ("SAE", "SAE-SERIOUS", 2): "uncoded term",  # no ctcae_term: the verbatim term is not listed
        ("SAE", "SAE-DEATH", 5): "Death NOS",  # not "Death (<cause>)"
        ("SUSAR", "SUSAR-7D", 5): "Death NOS",
    }


def test_the_line_listing_shows_an_outcome_from_the_closed_list_only() -> None:
    outcomes = {(r.rule_id, r.grade): r.outcome for r in _phi_report().listing}
    assert outcomes[("SAE-SERIOUS", 3)] == "uncoded outcome"  # "recovered, discharged to <name> <phone>"
    assert outcomes[("SAE-SERIOUS", 2)] == "recovering"
    assert outcomes[("SAE-DEATH", 5)] == "fatal"


def test_the_summary_document_carries_no_identifier_of_the_events() -> None:
    import phi_fixtures as phi

    text = json.dumps(summary_document(_phi_report()), ensure_ascii=False)
    assert phi.found(text) == []


def test_the_subject_timeline_marks_an_ae_by_its_coded_term_only() -> None:
    import phi_fixtures as phi

    timeline = subject_timeline(
        phi.SUBJECT, read_events(phi.events(), RULES.tz), [], [], criteria=RULES.criteria, tz=RULES.tz
    )
    labels = [m.label for m in timeline.markers if m.kind == "adverse_event"]
    assert labels == ["AE: uncoded term G3", "AE: uncoded term G2"]
