"""bench/stream_bench.py stays runnable: its arguments, the timed load it builds and the figures it prints from
what it read (no broker here, and no figure asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_bench", ROOT / "bench" / "stream_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stream_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_the_defaults_are_the_goals_load_and_latency_and_overhead_exclude_each_other(bench: ModuleType) -> None:
    args = bench.parser().parse_args([])
    assert (args.rate, args.seconds, args.repeat) == (500.0, 30.0, 3)
    assert not args.latency_only and not args.overhead_only
    with pytest.raises(SystemExit):
        bench.parser().parse_args(["--latency-only", "--overhead-only"])


def test_the_timed_load_keeps_the_rate_and_mixes_in_sae_and_lab_probes_with_their_subjects_set_up_first(
    bench: ModuleType,
) -> None:
    background = [json.dumps({"event_id": f"B{n}", "type": "vital"}).encode() for n in range(2000)]
    setup, load = bench.timed_load(background, rate=500, seconds=2, probes=4)
    triggers = [json.loads(line) for line in load if not line.startswith(b'{"event_id": "B')]
    assert len(load) == 1000
    assert [e["type"] for e in triggers] == ["adverse_event", "lab"] * 4
    subjects = {json.loads(line)["subject_id"] for line in setup}
    assert subjects == {e["subject_id"] for e in triggers}


EXPOSITION = """# HELP safety_alert_stage_seconds ...
safety_alert_stage_seconds_bucket{le="0.05",stage="fetch"} 3.0
safety_alert_stage_seconds_bucket{le="0.1",stage="fetch"} 10.0
safety_alert_stage_seconds_bucket{le="+Inf",stage="fetch"} 10.0
safety_alert_stage_seconds_count{stage="fetch"} 10.0
safety_alert_stage_seconds_sum{stage="fetch"} 0.6
safety_alert_stage_seconds_bucket{le="0.05",stage="batch"} 10.0
safety_alert_stage_seconds_bucket{le="+Inf",stage="batch"} 10.0
safety_alert_stage_seconds_count{stage="batch"} 10.0
safety_alert_stage_seconds_sum{stage="batch"} 0.1
"""


def test_the_report_gives_p50_p99_max_and_one_line_per_stage_it_has_figures_for(bench: ModuleType) -> None:
    stages = bench.stage_histograms(EXPOSITION)
    assert stages["fetch"].count == 10 and stages["fetch"].bound(0.5) == 0.1 and stages["batch"].bound(0.99) == 0.05
    moments = {"event": 0.0, "alert": 0.1, "command": 0.15, "ledger": 0.2, "ehlo": 0.25, "accepted": 0.26}
    found = [bench.Journey("SAE", False, moments), bench.Journey("POTENTIAL_SAE", True, {**moments, "accepted": 0.4})]
    report = "\n".join(bench.latency_report(found, stages, 500.0, 30.0))
    assert "goal p99 < 300 ms: not met" in report
    assert "SAE and lab-triggered: p50 260 ms, p99 400 ms, max 400 ms (2 messages)" in report
    assert "lab-triggered:         p50 400 ms, p99 400 ms, max 400 ms (1 messages)" in report
    assert "fetch wait: event produced -> in the ingest stream" in report and "<=100ms" in report
    assert "agent processing" not in report  # no figure for it in this exposition
    assert "SMTP: EHLO -> message accepted" in report


def test_the_overhead_line_prints_both_sides_and_the_ratio_against_the_goal(bench: ModuleType) -> None:
    assert bench.overhead_line(0.30, 0.33) == (
        "CPU per event: pass-through 0.300 ms, our worker 0.330 ms; ratio worker/pass-through 1.10 x "
        "(goal <= 1.2 x: met)"
    )
