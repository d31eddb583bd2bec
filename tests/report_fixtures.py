"""A small hand-written trial for the report, feed and page tests (pseudonymous codes only, no contacts).

Three subjects infused (AA-001..AA-003) and one only enrolled (AA-004):
- AA-001: infusion reaction G3, hospitalised, related, unexpected -> SAE, SUSAR and DLT (DLT-1); ALT 3.75
  x ULN and bilirubin 2.38 x ULN after infusion (potential Hy's law quadrant); SAE acknowledged and submitted.
- AA-002: lung infection G3, hospitalised, unlikely -> SAE (open, overdue at GENERATED_AT); a DLT withdrawn
  after a correction (it must not count).
- AA-003: thromboembolic event G2, possible -> DLT (DLT-3), which makes 2 DLT subjects of 3 infused:
  P(rate > 0.30) = 0.916 > 0.90 -> STOPPING_BOUNDARY (a worked value of docs/rules.md, STOPPING_BOUNDARY).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from safety.model.outputs import alert_id

STUDY = "ChiCTR2600125907"
TZ = "+08:00"
GENERATED_AT = datetime.fromisoformat("2026-09-01T12:00:00+08:00")
INFUSED = {"AA-001": "2026-07-06", "AA-002": "2026-07-13", "AA-003": "2026-07-20"}


def _t(day: str, hm: str = "09:00") -> str:
    return f"{day}T{hm}:00{TZ}"


def _plus(day: str, days: int) -> str:
    return (datetime.fromisoformat(day) + timedelta(days=days)).date().isoformat()


def _ev(etype: str, eid: str, subject: str, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": etype,
        "event_id": eid,
        "study_id": STUDY,
        "subject_id": subject,
        "occurred_at": at,
        "recorded_at": at,
        **fields,
    }


def _lab(
    eid: str, subject: str, at: str, test: str, value: float, unit: str, low: float | None, high: float | None
) -> dict[str, Any]:
    return _ev("lab", eid, subject, at, test=test, value=value, unit=unit, ref_low=low, ref_high=high)


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for subject in ("AA-001", "AA-002", "AA-003", "AA-004"):
        out.append(_ev("enrollment", f"EN-{subject}", subject, _t("2026-06-25"), sex="F", age=40, severity="SAA"))
    for subject, day in INFUSED.items():
        pre = _plus(day, -2)
        out += [
            _lab(f"L-{subject}-ALT0", subject, _t(pre), "ALT", 30, "U/L", 7, 40),
            _lab(f"L-{subject}-BILI0", subject, _t(pre), "BILI", 10, "umol/L", 3.4, 20.5),
            _lab(f"L-{subject}-NEUT0", subject, _t(pre), "NEUT", 0.8, "10^9/L", 2.0, 7.0),
            _lab(f"L-{subject}-PLAT0", subject, _t(pre), "PLAT", 30, "10^9/L", 100, 300),
            _lab(f"L-{subject}-HGB0", subject, _t(pre), "HGB", 7.5, "g/dL", 11.5, 15.0),
            _lab(f"L-{subject}-CREAT0", subject, _t(pre), "CREAT", 60, "umol/L", 41, 81),
            _ev("infusion", f"INF-{subject}-1", subject, _t(day, "10:00"), infusion_number=1, dose_per_kg=1e6),
        ]
        for k, d in enumerate((7, 14, 28), 1):
            at = _t(_plus(day, d))
            alt = 150 if (subject == "AA-001" and d == 7) else 35 + k
            bili = 48.8 if (subject == "AA-001" and d == 14) else 12 + k
            out += [
                _lab(f"L-{subject}-ALT{k}", subject, at, "ALT", alt, "U/L", 7, 40),
                _lab(f"L-{subject}-BILI{k}", subject, at, "BILI", bili, "umol/L", 3.4, 20.5),
                _lab(f"L-{subject}-NEUT{k}", subject, at, "NEUT", 0.3 + 0.2 * k, "10^9/L", 2.0, 7.0),
                _lab(f"L-{subject}-PLAT{k}", subject, at, "PLAT", 20 + 5 * k, "10^9/L", 100, 300),
                _lab(f"L-{subject}-HGB{k}", subject, at, "HGB", 70 + 3 * k, "g/L", 115, 150),
                _lab(f"L-{subject}-CREAT{k}", subject, at, "CREAT", 62 + k, "umol/L", 41, 81),
            ]
    d1 = INFUSED["AA-001"]
    out.append(
        _ev(
            "adverse_event",
            "AE-001-1",
            "AA-001",
            _t(d1, "14:00"),
            term="输注反应 infusion reaction",
            ctcae_term="Infusion related reaction",
            grade=3,
            serious=["hospitalization"],
            causality="related",
            expected=False,
            outcome="recovered",
        )
    )
    d2 = _plus(INFUSED["AA-002"], 20)
    out.append(
        _ev(
            "adverse_event",
            "AE-002-1",
            "AA-002",
            _t(d2, "08:00"),
            term="肺部感染 pneumonia",
            ctcae_term="Lung infection",
            grade=3,
            serious=["hospitalization"],
            causality="unlikely",
            expected=True,
            outcome="recovering",
        )
    )
    out.append(
        _ev(
            "adverse_event",
            "AE-002-2",
            "AA-002",
            _t(_plus(INFUSED["AA-002"], 3), "08:00"),
            term="rash",
            ctcae_term="Rash maculo-papular",
            grade=3,
            causality="possible",
            expected=True,
        )
    )
    out.append(
        {
            **_ev(
                "adverse_event",
                "AE-002-2",
                "AA-002",
                _t(_plus(INFUSED["AA-002"], 3), "08:00"),
                term="rash",
                ctcae_term="Rash maculo-papular",
                grade=2,
                causality="possible",
                expected=True,
            ),
            "revision": 2,
            "recorded_at": _t(_plus(INFUSED["AA-002"], 4), "08:00"),
        }
    )
    d3 = _plus(INFUSED["AA-003"], 5)
    out.append(
        _ev(
            "adverse_event",
            "AE-003-1",
            "AA-003",
            _t(d3, "11:00"),
            term="深静脉血栓 DVT",
            ctcae_term="Thromboembolic event",
            grade=2,
            causality="possible",
            expected=True,
        )
    )
    return out


def _alert(
    kind: str,
    rule: str,
    subject: str,
    day: int,
    eids: list[str],
    raised: str,
    *,
    term: str | None,
    grade: int | None,
    recipients: list[str],
    due_hours: float | None,
    **extra: Any,
) -> dict[str, Any]:
    raised_dt = datetime.fromisoformat(raised)
    record = {
        "alert_id": alert_id(kind, rule, subject, eids),
        "kind": kind,
        "rule_id": rule,
        "study_id": STUDY,
        "subject_id": subject,
        "study_day": day,
        "ctcae_term": term,
        "grade": grade,
        "event_ids": eids,
        "recipients": recipients,
        "raised_at": raised,
        "report_due_at": None if due_hours is None else (raised_dt + timedelta(hours=due_hours)).isoformat(),
        "rules_version": "fixture0001",
        **extra,
    }
    return {k: v for k, v in record.items() if v is not None}


def alerts() -> list[dict[str, Any]]:
    d1, d2i, d3 = INFUSED["AA-001"], INFUSED["AA-002"], INFUSED["AA-003"]
    ae1 = _t(d1, "14:00")
    ae2 = _t(_plus(d2i, 20), "08:00")
    rash = _t(_plus(d2i, 3), "08:00")
    dvt = _t(_plus(d3, 5), "11:00")
    dlt_rash = _alert(
        "DLT",
        "DLT-2",
        "AA-002",
        3,
        ["AE-002-2"],
        rash,
        term="Rash maculo-papular",
        grade=3,
        recipients=["pi"],
        due_hours=24,
    )
    out = [
        _alert(
            "SAE",
            "SAE-SERIOUS",
            "AA-001",
            0,
            ["AE-001-1"],
            ae1,
            term="Infusion related reaction",
            grade=3,
            recipients=["pi", "ethics"],
            due_hours=24,
        ),
        _alert(
            "SUSAR",
            "SUSAR",
            "AA-001",
            0,
            ["AE-001-1"],
            ae1,
            term="Infusion related reaction",
            grade=3,
            recipients=["pi", "ethics"],
            due_hours=360,
        ),
        _alert(
            "DLT",
            "DLT-1",
            "AA-001",
            0,
            ["AE-001-1"],
            ae1,
            term="Infusion related reaction",
            grade=3,
            recipients=["pi"],
            due_hours=24,
            also_matched=["DLT-2"],
        ),
        dlt_rash,
        {
            "alert_id": alert_id("ALERT_WITHDRAWN", "DLT-2", "AA-002", ["AE-002-2"], "2"),
            "kind": "ALERT_WITHDRAWN",
            "rule_id": "DLT-2",
            "study_id": STUDY,
            "subject_id": "AA-002",
            "study_day": 3,
            "event_ids": ["AE-002-2"],
            "recipients": ["pi"],
            "raised_at": _t(_plus(d2i, 4), "08:00"),
            "rules_version": "fixture0001",
            "withdraws": dlt_rash["alert_id"],
            "reason": "revision 2: grade 2 no longer meets DLT-2",
        },
        _alert(
            "SAE",
            "SAE-SERIOUS",
            "AA-002",
            20,
            ["AE-002-1"],
            ae2,
            term="Lung infection",
            grade=3,
            recipients=["pi", "ethics"],
            due_hours=24,
        ),
        _alert(
            "DLT",
            "DLT-3",
            "AA-003",
            5,
            ["AE-003-1"],
            dvt,
            term="Thromboembolic event",
            grade=2,
            recipients=["pi"],
            due_hours=24,
        ),
        _alert(
            "STOPPING_BOUNDARY",
            "STOPPING",
            "AA-003",
            5,
            ["AE-003-1"],
            dvt,
            term=None,
            grade=None,
            recipients=["pi", "ethics"],
            due_hours=0,
            basis={"x": 2, "n": 3, "probability": 0.916, "threshold": 0.3, "boundary": 0.9},
        ),
    ]
    return out


def acks() -> list[dict[str, Any]]:
    first = alerts()[0]
    raised = datetime.fromisoformat(first["raised_at"])
    return [
        {
            "action": "acknowledged",
            "alert_id": first["alert_id"],
            "at": (raised + timedelta(hours=1)).isoformat(),
            "by": "pi",
            "conclusion": "reviewed, infusion stopped",
        },
        {
            "action": "ethics_submitted",
            "alert_id": first["alert_id"],
            "at": (raised + timedelta(hours=10)).isoformat(),
            "by": "pi",
        },
    ]


def graded() -> list[dict[str, Any]]:
    """A few graded rows (the timeline colours points by them)."""
    rows = []
    for e in events():
        if e["type"] != "lab" or e["test"] != "ALT":
            continue
        x = e["value"] / e["ref_high"]
        grade = 0 if x <= 1 else 1 if x <= 3 else 2 if x <= 5 else 3
        rows.append(
            {
                "event_id": e["event_id"],
                "study_id": STUDY,
                "subject_id": e["subject_id"],
                "event_type": "lab",
                "test": "ALT",
                "occurred_at": e["occurred_at"],
                "study_day": None,
                "ctcae_version": "5.0",
                "ctcae_term": "Alanine aminotransferase increased",
                "grade": grade,
                "baseline_grade": 0,
                "treatment_emergent": grade > 0,
                "category": "non_hematologic",
                "criterion": f"ctcae5/ALT/{grade}",
                "value": e["value"],
                "unit": "U/L",
                "uln": 40.0,
                "basis": "fixture",
            }
        )
    return rows


def write_replay_folder(folder: Path, *, with_acks: bool = True) -> Path:
    """The fixture as a `safety replay` output folder (what `safety report --from-replay` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"events.jsonl": events(), "alerts.jsonl": alerts(), "graded.jsonl": graded()}
    if with_acks:
        parts["acks.jsonl"] = acks()
    for name, rows in parts.items():
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return folder
