"""streams.dashboard: the bounded per-subject view the pages read, and the report built from it."""

from __future__ import annotations

import json
from typing import Any

import report_fixtures as fx

from streams.dashboard import KEEP_FIRST, KEEP_LAST, SubjectView, ack_key, report_from, subject_key


def _view_items() -> list[tuple[bytes, bytes]]:
    views: dict[str, SubjectView] = {}
    for e in fx.events():
        views.setdefault(e["subject_id"], SubjectView()).add_event(e)
    for g in fx.graded():
        views.setdefault(g["subject_id"], SubjectView()).add_graded(g)
    for a in fx.alerts():
        views.setdefault(a["subject_id"], SubjectView()).add_alert(a)
    items = [(subject_key(s).encode(), v.model_dump_json().encode()) for s, v in views.items()]
    acks: dict[str, list[Any]] = {}
    for ack in fx.acks():
        acks.setdefault(ack["alert_id"], []).append(ack)
    items += [(ack_key(k).encode(), json.dumps(v).encode()) for k, v in acks.items()]
    return items


def test_view_gives_the_same_report_as_the_offline_inputs() -> None:
    report, events, graded = report_from(_view_items(), study_id=fx.STUDY, generated_at=fx.GENERATED_AT)
    ov = report.overview
    assert (ov.subjects_infused, ov.subjects_with_dlt, ov.subjects_with_sae) == (3, 2, 2)
    assert ov.stopping_boundary_crossed is True
    assert {r.status for r in report.listing if r.subject_id == "AA-001" and r.kind == "SAE"} == {
        "acknowledged"
    }
    assert len(graded) == len(fx.graded())


def test_redelivered_alert_is_kept_once() -> None:
    view = SubjectView()
    view.add_alert(fx.alerts()[0])
    view.add_alert(fx.alerts()[0])
    assert len(view.alerts) == 1


def test_labs_per_test_are_bounded_keeping_the_first_and_the_latest() -> None:
    view = SubjectView()
    total = KEEP_FIRST + KEEP_LAST + 50
    for i in range(total):
        view.add_event(
            {
                "type": "lab",
                "event_id": f"L-{i}",
                "subject_id": "AA-001",
                "test": "NEUT",
                "occurred_at": f"2026-07-01T00:00:00+08:00+{i:05d}",
            }
        )
    ids = [e["event_id"] for e in view.events]
    assert len(ids) == KEEP_FIRST + KEEP_LAST
    assert ids[:KEEP_FIRST] == [f"L-{i}" for i in range(KEEP_FIRST)] and ids[-1] == f"L-{total - 1}"


def test_tests_not_on_the_pages_are_not_kept() -> None:
    view = SubjectView()
    view.add_event({"type": "lab", "event_id": "L-1", "subject_id": "AA-001", "test": "GGT"})
    view.add_event({"type": "vital", "event_id": "V-1", "subject_id": "AA-001", "test": "TEMP"})
    assert view.events == []


def test_a_correction_is_kept_beside_the_earlier_revision() -> None:
    view = SubjectView()
    rash = [e for e in fx.events() if e["event_id"] == "AE-002-2"]
    for e in rash + rash:
        view.add_event(e)
    assert [e.get("revision", 1) for e in view.events] == [1, 2]
