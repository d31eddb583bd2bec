"""safety.reports: exact CIs, the stopping posterior, counts, line listing, timelines and eDISH (issue 7)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import report_fixtures as fx
from scipy.stats import beta

from safety.report_cli import report_main
from safety.reports import (
    betainc,
    build_report,
    clopper_pearson,
    edish_points,
    posterior_exceeds,
    quadrant,
    read_alerts,
    read_events,
    read_graded,
    subject_timeline,
    summary_document,
)

KNOWN_COUNTS = [(0, 1), (1, 1), (0, 10), (1, 3), (2, 3), (3, 3), (3, 6), (6, 12), (14, 48), (47, 48), (0, 48)]


def _report(acks: bool = True):  # type: ignore[no-untyped-def]
    return build_report(
        fx.events(), fx.alerts(), fx.acks() if acks else [], study_id=fx.STUDY, generated_at=fx.GENERATED_AT
    )


@pytest.mark.parametrize(("x", "n"), KNOWN_COUNTS)
def test_clopper_pearson_interval_equals_scipy_beta_ppf(x: int, n: int) -> None:
    low, high = clopper_pearson(x, n)  # type: ignore[misc]
    want_low = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
    want_high = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
    assert low == pytest.approx(want_low, abs=1e-10)
    assert high == pytest.approx(want_high, abs=1e-10)


def test_clopper_pearson_of_two_in_three_is_the_textbook_interval() -> None:
    low, high = clopper_pearson(2, 3)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.0943, 0.9916)


def test_clopper_pearson_is_undefined_before_anyone_is_infused() -> None:
    assert clopper_pearson(0, 0) is None


def test_clopper_pearson_rejects_more_events_than_subjects() -> None:
    with pytest.raises(ValueError, match="0 <= x <= n"):
        clopper_pearson(4, 3)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(1, 1, 0.3), (3, 2, 0.3), (0.5, 0.5, 0.01), (15, 35, 0.3), (200, 300, 0.41), (2.5, 7.25, 0.9)],
)
def test_regularized_incomplete_beta_equals_scipy_cdf(a: float, b: float, x: float) -> None:
    assert betainc(a, b, x) == pytest.approx(beta.cdf(x, a, b), abs=1e-12)


@pytest.mark.parametrize(
    ("x", "n", "p"),
    [
        (2, 3, 0.916),
        (1, 3, 0.652),
        (3, 4, 0.969),
        (3, 6, 0.874),
        (4, 6, 0.971),
        (6, 12, 0.938),
        (14, 48, 0.484),
    ],
)
def test_posterior_matches_the_protocols_worked_values(x: int, n: int, p: float) -> None:
    assert round(posterior_exceeds(x, n, threshold=0.30), 3) == p


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
    tl = subject_timeline("AA-001", read_events(fx.events()), read_graded(fx.graded()), report.statuses)
    assert tl.day0 is not None and tl.day0.isoformat() == "2026-07-06"
    alt = next(s for s in tl.series if s.test == "ALT")
    assert alt.baseline == 0.75  # 30 U/L with ULN 40, before the infusion
    assert [(p.study_day, p.value, p.grade) for p in alt.points][:2] == [(-2, 0.75, 0), (7, 3.75, 2)]
    hgb = next(s for s in tl.series if s.test == "HGB")
    assert hgb.baseline == 75.0  # 7.5 g/dL shown as g/L
    kinds = {m.kind for m in tl.markers}
    assert kinds == {"infusion", "adverse_event", "alert"}
    assert [s.test for s in tl.series] == ["NEUT", "PLAT", "HGB", "ALT", "BILI", "CREAT"]


def test_edish_uses_peaks_after_infusion_in_uln_and_baseline_multiples() -> None:
    points = {p.subject_id: p for p in edish_points(read_events(fx.events()))}
    p = points["AA-001"]
    assert (p.alt_x_uln, p.bili_x_uln) == (3.75, pytest.approx(48.8 / 20.5, abs=1e-6))
    assert (p.alt_x_baseline, p.bili_x_baseline) == (5.0, 4.88)
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
def test_edish_quadrants_are_split_at_three_and_two(alt: float | None, bili: float | None, name: str) -> None:
    assert quadrant(alt, bili) == name


def test_alerts_are_read_once_per_alert_id() -> None:
    assert len(read_alerts(fx.alerts() + fx.alerts())) == len(fx.alerts())


def test_report_cli_writes_every_document_byte_identically_on_a_rerun(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    assert report_main(["--from-replay", str(source), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert report_main(["--from-replay", str(source), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [
        "alerts.html",
        "edish.html",
        "ethics.atom",
        "overview.html",
        "safety-summary.csv",
        "safety-summary.html",
        "safety-summary.json",
        "subject-AA-001.html",
        "subject-AA-002.html",
        "subject-AA-003.html",
        "subject-AA-004.html",
    ]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_report_cli_defaults_generated_at_to_the_latest_input_time(tmp_path: Path) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    report_main(["--from-replay", str(source), "--out", str(tmp_path / "out"), "--quiet"])
    doc = json.loads((tmp_path / "out" / "safety-summary.json").read_text(encoding="utf-8"))
    latest = max(datetime.fromisoformat(e["recorded_at"]) for e in fx.events())
    assert datetime.fromisoformat(doc["generated_at"]) == latest


def test_report_cli_explains_a_missing_replay_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_main(["--from-replay", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 1
    assert "safety replay" in capsys.readouterr().err


def test_report_cli_rejects_a_generated_at_without_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = fx.write_replay_folder(tmp_path / "replay")
    code = report_main(
        ["--from-replay", str(source), "--out", str(tmp_path / "o"), "--generated-at", "2026-09-01T12:00:00"]
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
