"""Events whose free-text fields carry identifiers, for the "No identifiers" tests (README).

Every identifier here is an obvious fake: the placeholder names 张三 / 李四 (Chinese) and John Doe / Jane Roe
(Latin), an 18-character resident ID number of a region that does not exist (99) born on 1900-01-01, and the
placeholder phone number +86 138 0000 0000. They go into every free-text field of the contract (``term``,
``ctcae_term``, ``outcome``, ``cause``, ``meddra_code``, ``source``, ``lot``, a lab's ``unit`` and ``test``) and
into fields the contract does not know (``patient_name``); ``subject_id`` carrying them is in ``BAD_SUBJECT_EVENTS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safety.model.outputs import Alert
from safety.replay import replay
from safety.rules.ruleset import RuleSet

STUDY = "ChiCTR2600125907"
SUBJECT = "AA-901"
NAMES = ("张三", "李四", "John Doe", "Jane Roe")
ID_CARD = "99000019000101000X"
PHONE = "+86 138 0000 0000"
PHONE_DIGITS = "13800000000"
# What must never appear in an output: each name, the ID number, the phone number spelled both ways.
NEEDLES = (*NAMES, ID_CARD, PHONE_DIGITS, "138 0000 0000")
UNCODED_CTCAE_TERM = "Syncope - patient John Doe, bed 12"


def _ev(etype: str, eid: str, at: str, subject: str = SUBJECT, **fields: Any) -> dict[str, Any]:
    return {
        "type": etype,
        "event_id": eid,
        "study_id": STUDY,
        "subject_id": subject,
        "occurred_at": at,
        "recorded_at": at,
        "source": f"EDC entry by 李四 tel {PHONE}",
        "patient_name": "张三",
        **fields,
    }


def events() -> list[dict[str, Any]]:
    """An infused subject with an SAE/SUSAR/DLT whose ctcae_term is free text, a serious AE without a ctcae_term
    and a related death, each carrying identifiers in its free text."""
    return [
        _ev("enrollment", "PHI-EN-1", "2026-07-01T09:00:00+08:00", sex="F", age=40, severity="SAA"),
        _ev(
            "lab",
            "PHI-L-0",
            "2026-07-02T08:00:00+08:00",
            test="NEUT",
            value=0.8,
            unit="10^9/L",
            ref_low=2.0,
            ref_high=7.0,
        ),
        _ev(
            "infusion",
            "PHI-INF-1",
            "2026-07-03T10:00:00+08:00",
            infusion_number=1,
            dose_per_kg=1e6,
            lot=f"lot for 张三 {ID_CARD}",
        ),
        _ev(
            "lab",
            "PHI-L-1",
            "2026-07-04T08:00:00+08:00",
            test="NEUT",
            value=0.3,
            unit=f"10^9/L 张三 {PHONE}",
            ref_low=2.0,
            ref_high=7.0,
        ),
        _ev(
            "lab",
            "PHI-L-2",
            "2026-07-04T08:00:00+08:00",
            test="PLAT",
            value=20,
            unit="John Doe",
            ref_low=100,
            ref_high=300,
        ),
        _ev("lab", "PHI-L-3", "2026-07-04T08:00:00+08:00", test=f"李四 {ID_CARD}", value=1, unit="10^9/L"),
        _ev(
            "adverse_event",
            "PHI-AE-1",
            "2026-07-05T14:00:00+08:00",
            term=f"张三 (ID {ID_CARD}) fainted; daughter Jane Roe {PHONE}",
            ctcae_term=UNCODED_CTCAE_TERM,
            meddra_code=f"call {PHONE}",
            grade=3,
            serious=["hospitalization"],
            causality="related",
            expected=False,
            outcome=f"recovered, discharged to 李四 {PHONE}",
        ),
        _ev(
            "adverse_event",
            "PHI-AE-2",
            "2026-07-08T09:00:00+08:00",
            term=f"John Doe, ID {ID_CARD}, fever after infusion",
            grade=2,
            serious=["hospitalization"],
            causality="unlikely",
            expected=True,
            outcome="recovering",
        ),
        _ev(
            "death",
            "PHI-D-1",
            "2026-07-20T06:00:00+08:00",
            cause=f"张三 died at home; informant 李四 {PHONE}, ID {ID_CARD}",
            causality="possible",
        ),
    ]


# subject_id is free text in the contract (up to 100 characters); the study's subject code pattern must refuse
# a phone number or a name as a subject code.
BAD_SUBJECT_EVENTS = [
    _ev(
        "adverse_event",
        "PHI-AE-S1",
        "2026-07-06T09:00:00+08:00",
        subject=PHONE_DIGITS,
        term="fever",
        ctcae_term="Fever",
        grade=3,
        serious=["hospitalization"],
    ),
    _ev(
        "adverse_event",
        "PHI-AE-S2",
        "2026-07-06T10:00:00+08:00",
        subject="John Doe",
        term="fever",
        ctcae_term="Fever",
        grade=3,
        serious=["hospitalization"],
    ),
    _ev(
        "adverse_event",
        "PHI-AE-S3",
        "2026-07-06T11:00:00+08:00",
        subject="张三",
        term="fever",
        ctcae_term="Fever",
        grade=3,
        serious=["hospitalization"],
    ),
]


def lines(records: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in records]


def write_events(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(lines(records)) + "\n", encoding="utf-8")
    return path


def alerts(rules: RuleSet, records: list[dict[str, Any]] | None = None) -> list[Alert]:
    """The alerts replay raises for ``records`` (default: ``events()``)."""
    return [item for kind, item in replay(lines(records or events()), rules) if kind == "alert"]  # type: ignore[misc]


def found(text: str) -> list[str]:
    """The identifiers ``text`` carries (none, if the service did its job)."""
    return [needle for needle in NEEDLES if needle in text]
