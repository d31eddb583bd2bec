"""docker-compose.yml and the Dockerfile, checked statically (Docker cannot run in CI).

The compose file must parse, hold every service README "Running in production" names, publish no host port twice
and none on the (scalable) worker, set only SAFETY_* variables the settings model knows, mount files that exist,
and run commands that exist in the image.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import environment_variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def host_ports(service: dict[str, Any]) -> list[str]:
    return [str(p).rsplit(":", 1)[0].split(":")[-1] for p in service.get("ports", []) if ":" in str(p)]


def test_compose_has_kafka_topic_init_worker_prometheus_grafana_and_an_smtp_catcher(compose) -> None:
    assert {"kafka", "topic-init", "worker", "prometheus", "grafana", "mailpit"} <= set(compose["services"])


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    assert "broker" in kafka["KAFKA_PROCESS_ROLES"] and "controller" in kafka["KAFKA_PROCESS_ROLES"]
    assert "zookeeper" not in compose["services"]


def test_the_worker_publishes_no_host_port_so_it_can_be_scaled(compose) -> None:
    worker = compose["services"]["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert str(worker["environment"]["SAFETY_WEB_PORT"]) in {str(p) for p in worker["expose"]}


def test_no_host_port_is_published_twice(compose) -> None:
    ports = [p for s in compose["services"].values() for p in host_ports(s)]
    assert len(ports) == len(set(ports))


@pytest.mark.parametrize("service", ["worker", "topic-init"])
def test_every_safety_variable_is_a_settings_field(compose, service) -> None:
    env = {k for k in compose["services"][service]["environment"] if k.startswith("SAFETY_")}
    assert env and env - environment_variables().keys() == set()


def test_dockerfile_safety_variables_are_settings_fields() -> None:
    fields = environment_variables().keys()
    assert set(re.findall(r"\b(SAFETY_[A-Z_]+)=", (ROOT / "Dockerfile").read_text())) <= fields


def test_the_workers_prometheus_target_port_is_the_workers_web_port(compose) -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    ports = {sd["port"] for job in prometheus["scrape_configs"] for sd in job.get("dns_sd_configs", [])}
    assert str(compose["services"]["worker"]["environment"]["SAFETY_WEB_PORT"]) in {str(p) for p in ports}


def test_every_mounted_file_exists_in_the_repository(compose) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{source} is mounted but missing"


def test_the_notify_config_the_worker_uses_is_in_the_image(compose) -> None:
    path = compose["services"]["worker"]["environment"]["SAFETY_NOTIFY_CONFIG"]
    assert path.startswith("/app/deploy/") and (ROOT / path.removeprefix("/app/")).is_file()


def test_the_commands_exist_in_the_image(compose) -> None:
    from streams.cli import COMMANDS

    worker = compose["services"]["worker"]["command"]
    assert worker[:2] == ["safety", "worker"] and "worker" in COMMANDS
    init = compose["services"]["topic-init"]["command"]
    assert init[:3] == ["python", "-m", "streams.admin"] and init[3] in COMMANDS
    cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert cmd and yaml.safe_load(cmd.group(1))[:2] == ["safety", "worker"]


def test_the_image_contains_what_the_worker_reads_at_run_time() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for copied in ("safety", "streams", "rules", "deploy", "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{copied}\b", text, re.M), copied
        assert (ROOT / copied).exists()


def test_prometheus_sends_the_workers_scrape_token_from_a_compose_secret(compose) -> None:
    """/metrics refuses a scrape without SAFETY_METRICS_TOKEN (streams/web/guard.py): Prometheus must send the
    token the worker checks, read from a secret file rather than written into its configuration."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "safety-worker")
    auth = job["authorization"]
    assert auth["type"] == "Bearer" and "credentials" not in auth
    secret = auth["credentials_file"].removeprefix("/run/secrets/")
    assert secret in compose["services"]["prometheus"]["secrets"]
    source = compose["secrets"][secret]["environment"]
    assert source == "SAFETY_METRICS_TOKEN" and source in environment_variables()
    assert "SAFETY_METRICS_TOKEN" in str(compose["services"]["worker"]["environment"]["SAFETY_METRICS_TOKEN"])
