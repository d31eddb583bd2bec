"""Two studies in one deployment: the first study's real rules file and the test study of tests/fixtures/studies.

STUDY_B (ChiCTR2600200001, fictional) is on CTCAE v6.0, in Asia/Urumqi (UTC+6), with subject codes BB-NNN and a
stopping rule evaluated from 2 subjects; STUDY_A is rules/studies/ChiCTR2600125907.yaml (v5.0, Asia/Shanghai,
AA-NNN, from 3 subjects).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUDY_A = "ChiCTR2600125907"
STUDY_B = "ChiCTR2600200001"
UNKNOWN = "NCT09999999"
STUDY_FILES = {
    STUDY_A: ROOT / "rules" / "studies" / f"{STUDY_A}.yaml",
    STUDY_B: ROOT / "tests" / "fixtures" / "studies" / f"{STUDY_B}.yaml",
}


def studies_dir(tmp_path: Path) -> Path:
    """A rules/studies directory holding both studies."""
    target = tmp_path / "studies"
    target.mkdir(parents=True, exist_ok=True)
    for path in STUDY_FILES.values():
        shutil.copy(path, target / path.name)
    return target


def rules_dir(tmp_path: Path) -> Path:
    """A whole rules directory (CTCAE files, units, both studies), for SAFETY_RULES_DIR."""
    target = tmp_path / "rules"
    target.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "rules").glob("*.yaml"):
        shutil.copy(path, target / path.name)
    studies_dir(target)
    return target


def event(kind: str, study: str, subject: str, event_id: str, occurred_at: str, **fields: Any) -> dict[str, Any]:
    """An input event recorded when it occurred (the stream would otherwise start clocks at the Kafka time)."""
    return {
        "type": kind,
        "event_id": event_id,
        "study_id": study,
        "subject_id": subject,
        "occurred_at": occurred_at,
        "recorded_at": occurred_at,
        **fields,
    }


def infusion(study: str, subject: str, day: str = "2026-07-01", event_id: str | None = None) -> dict[str, Any]:
    return event("infusion", study, subject, event_id or f"INF-{subject}", f"{day}T09:00:00+08:00", infusion_number=1)


def neut(study: str, subject: str, value: float, event_id: str, day: str = "2026-07-06") -> dict[str, Any]:
    return event(
        "lab",
        study,
        subject,
        event_id,
        f"{day}T08:00:00+08:00",
        test="NEUT",
        value=value,
        unit="10^9/L",
        ref_low=1.8,
        ref_high=6.3,
    )


def infusion_reaction(study: str, subject: str, day: str = "2026-07-01") -> dict[str, Any]:
    """A grade 3 infusion reaction 5 h after the infusion: DLT-1 in both studies."""
    return event(
        "adverse_event",
        study,
        subject,
        f"AE-{subject}",
        f"{day}T14:00:00+08:00",
        term="infusion related reaction",
        ctcae_term="Infusion related reaction",
        grade=3,
        causality="related",
        serious=[],
    )


def lines(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e, ensure_ascii=False) for e in events]


def two_study_stream() -> list[dict[str, Any]]:
    """Both studies and an unknown third, interleaved: each study's subjects get an infusion, a NEUT of 0.3 and
    an infusion reaction (DLT-1); study B's second subject makes B's stopping rule cross (2 of 2 with n >= 2),
    study A has 2 subjects with a DLT, below its n >= 3 (pooled, the 4 would cross under A's rules)."""
    out: list[dict[str, Any]] = []
    for a, b, day in (("AA-001", "BB-001", "2026-07-01"), ("AA-002", "BB-002", "2026-07-02")):
        # one day apart: the crossing event is unambiguous in event time, whatever order partitions arrive in
        out += [infusion(STUDY_A, a, day), infusion(STUDY_B, b, day)]
        out += [neut(STUDY_A, a, 0.3, f"L-{a}"), neut(STUDY_B, b, 0.3, f"L-{b}")]
        out += [infusion_reaction(STUDY_A, a, day), infusion_reaction(STUDY_B, b, day)]
    out.append(neut(UNKNOWN, "CC-001", 0.3, "L-CC-001"))
    return out
