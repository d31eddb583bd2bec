"""The surveillance rules, documented as small timelines (docs/rules.md, "Alert kinds" and its per-kind sections).

Each ``NAME.jsonl`` is a timeline of input events; ``NAME.expected.json`` says, in its ``description``, which rule
or edge case it shows, and lists the alerts ``safety replay`` must write to ``alerts.jsonl``, in order. Convention:

* every expected alert gives ``kind``, ``rule_id``, ``subject_id``, ``study_day``, ``grade`` (null when the alert has
  none) and ``event_ids``; any other key given (``ctcae_term``, ``also_matched``, ``report_due_at``, ``raised_at``)
  is compared too, and ``basis`` is compared key by key (numbers to 4 decimals);
* an ``ALERT_WITHDRAWN`` record gives ``"withdraws": "@N"``, the index of the withdrawn alert in the same list;
* ``rejected`` lists the records expected in ``rejected.jsonl`` (their ``kind`` and ``event_id``);
* ``as_of``, when given, is passed to ``safety replay --as-of``: the schedule of expected data is evaluated at
  that moment (without it nothing is expected, and no DATA_OVERDUE can appear).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.cli.replay import run

HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(p.name.removesuffix(".jsonl") for p in HERE.glob("*.jsonl"))
ALWAYS = ("kind", "rule_id", "subject_id", "study_day", "grade", "event_ids")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return round(actual, 4) == round(expected, 4)
    return bool(actual == expected)


def _check_alert(index: int, actual: dict[str, Any], expected: dict[str, Any], produced: list[dict[str, Any]]) -> None:
    where = f"alert {index} ({expected.get('kind')} {expected.get('rule_id', '')})"
    if expected["kind"] == "ALERT_WITHDRAWN":
        assert actual["kind"] == "ALERT_WITHDRAWN", f"{where}: got {actual}"
        target = int(expected["withdraws"].removeprefix("@"))
        assert actual["withdraws"] == produced[target]["alert_id"], f"{where}: withdraws the wrong alert"
        assert actual.get("reason"), f"{where}: a withdrawal says why"
        for key, value in expected.items():
            if key not in ("kind", "withdraws"):
                assert actual.get(key) == value, f"{where}: {key} {actual.get(key)!r} != {value!r}"
        return
    for key in ALWAYS:
        assert actual.get(key) == expected.get(key), f"{where}: {key} {actual.get(key)!r} != {expected.get(key)!r}"
    for key, value in expected.items():
        if key in ALWAYS:
            continue
        if key == "basis":
            for name, item in value.items():
                assert _same(actual["basis"].get(name), item), f"{where}: basis.{name} {actual['basis'].get(name)!r}"
        else:
            assert actual.get(key) == value, f"{where}: {key} {actual.get(key)!r} != {value!r}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name: str, tmp_path: Path) -> None:
    expectation = json.loads((HERE / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert run(HERE / f"{name}.jsonl", tmp_path, None, quiet=True, as_of=expectation.get("as_of")) == 0
    produced = _read(tmp_path / "alerts.jsonl")
    expected = expectation["alerts"]
    summary = [(a["kind"], a["rule_id"], a["subject_id"], a.get("study_day"), a["event_ids"]) for a in produced]
    assert len(produced) == len(expected), f"{expectation['description']}\nproduced: {summary}"
    for index, (actual, wanted) in enumerate(zip(produced, expected, strict=True)):
        _check_alert(index, actual, wanted, produced)
    rejected = [{"kind": r["kind"], "event_id": r.get("event_id")} for r in _read(tmp_path / "rejected.jsonl")]
    assert rejected == expectation["rejected"]


def test_every_alert_explains_itself(tmp_path: Path, ruleset: Any) -> None:
    """rule_id, basis, rules_version, raised_at and recipients on every alert; a clock where the study has one."""
    for name in SCENARIOS:
        out = tmp_path / name
        run(HERE / f"{name}.jsonl", out, None, quiet=True)
        for alert in _read(out / "alerts.jsonl"):
            assert alert["rules_version"] == ruleset.version
            assert alert["recipients"] and alert["raised_at"].endswith("+08:00")
            if alert["kind"] != "ALERT_WITHDRAWN":
                assert alert["rule_id"] and alert["basis"]["criterion"], alert
                assert alert["report_due_at"].endswith("+08:00"), alert


def test_late_baseline_is_used_for_later_gradings_only(tmp_path: Path) -> None:
    """A pre-infusion value arriving late becomes the baseline of later gradings; earlier rows are not re-graded."""
    run(HERE / "late_baseline.jsonl", tmp_path, None, quiet=True)
    graded = {row["event_id"]: row for row in _read(tmp_path / "graded.jsonl")}
    assert graded["L-2"]["baseline_grade"] == 0  # graded before the baseline arrived, not re-graded
    assert graded["L-9"]["baseline_grade"] == 2  # NEUT 1.2 (LLN 2.0) is grade 2
    dlt = next(a for a in _read(tmp_path / "alerts.jsonl") if a["kind"] == "DLT")
    assert dlt["basis"]["baseline"] == 1.2


def test_replay_is_deterministic_byte_for_byte(tmp_path: Path) -> None:
    """The same input twice gives byte-identical alerts.jsonl (contract: Output, alerts), through the CLI."""
    combined = tmp_path / "all.jsonl"
    combined.write_text("".join((HERE / f"{name}.jsonl").read_text(encoding="utf-8") for name in SCENARIOS))
    outputs = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        subprocess.run(
            [sys.executable, "-m", "streams", "replay", str(combined), "--out", str(out), "--quiet"],
            check=True,
            cwd=HERE.parent.parent,
        )
        outputs.append((out / "alerts.jsonl").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") > 10
