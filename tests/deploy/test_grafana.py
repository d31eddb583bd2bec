"""deploy/grafana: the safety officer's dashboard asks only for metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from tests_deploy_helpers import exported_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "safety-officer.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
METRIC = re.compile(r"\bsafety_[a-z0-9_]+")


def _exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboard_has_a_stable_uid_and_panels() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["uid"] == "safety-officer"
    assert len(dash["panels"]) >= 10
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_dashboard_references_only_metrics_the_service_exports() -> None:
    used = {name for expr in _exprs() for name in METRIC.findall(expr)}
    assert used, "the dashboard should query safety_* metrics"
    assert used - exported_names() == set()


def test_dashboard_shows_every_metric_of_the_contract() -> None:
    used = {name for expr in _exprs() for name in METRIC.findall(expr)}
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    wanted = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported_names()}
    assert wanted - bases == set()


def test_dashboard_uses_the_provisioned_datasource() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text(encoding="utf-8"))
    uid = ds["datasources"][0]["uid"]
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid


def test_dashboard_provider_points_at_a_folder_of_json_files() -> None:
    prov = yaml.safe_load((PROVISIONING / "dashboards" / "safety.yaml").read_text(encoding="utf-8"))
    assert prov["apiVersion"] == 1
    provider = prov["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def test_no_label_selector_filters_on_a_subject_code() -> None:
    assert not any(re.search(r"subject(_id)?\s*(=|!=|=~|!~)", expr) for expr in _exprs())
    assert not any(re.search(r"by \([^)]*subject", expr) for expr in _exprs())
