"""deploy/prometheus: the alerting rules parse and use only exported metrics.

``promtool check rules`` runs when promtool is installed (Debian package ``prometheus``); the schema test
below always runs, so a machine without promtool still checks the file's structure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests_deploy_helpers import exported_names

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
REQUIRED_ALERTS = {
    "SafetyWorkerDown",
    "SafetyDeadLettersRising",
    "SafetyDeliveriesFailing",
    "SafetyReportOverdue",
    "SafetyDeliveriesOwed",
}


def _rules() -> list[dict]:  # type: ignore[type-arg]
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="promtool not installed (Debian package prometheus; `make test` installs it)",
)
def test_promtool_accepts_the_rules_and_the_config() -> None:
    rules = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_rules_file_has_the_schema_prometheus_loads() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(doc) == {"groups"}
    names = [g["name"] for g in doc["groups"]]
    assert len(names) == len(set(names))
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
            assert isinstance(rule["alert"], str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["expr"].count("(") == rule["expr"].count(")")
            assert DURATION.match(str(rule.get("for", "0s"))), rule.get("for")
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert {"summary", "description"} <= set(rule["annotations"])


def test_rules_cover_worker_down_dead_letters_deliveries_and_overdue_reports() -> None:
    assert REQUIRED_ALERTS <= {r["alert"] for r in _rules()}


def test_rules_use_only_exported_metrics() -> None:
    used = {m for r in _rules() for m in re.findall(r"\bsafety_[a-z0-9_]+", r["expr"])}
    assert used and used - exported_names() == set()


def test_prometheus_scrapes_every_worker_by_dns_and_loads_the_rules() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert "/etc/prometheus/rules.yml" in config["rule_files"]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "safety-worker")
    assert job["metrics_path"] == "/metrics"
    sd = job["dns_sd_configs"][0]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and sd["port"] == 6066
    jobs_in_rules = {m for r in _rules() for m in re.findall(r'job="([^"]+)"', r["expr"])}
    assert jobs_in_rules == {"safety-worker"}
