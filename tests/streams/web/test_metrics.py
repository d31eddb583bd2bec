"""SafetyMetrics: the exact metric names deploy/ reads, on an injected registry, and per-partition progress."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.web.metrics import SafetyMetrics

CONTRACT_NAMES = {
    "safety_events_total", "safety_rejections_total", "safety_grades_total", "safety_alerts_total",
    "safety_deliveries_total", "safety_open_alerts", "safety_overdue_reports", "safety_ack_seconds",
    "safety_event_to_alert_seconds", "safety_consumer_lag",
    "safety_partition_last_processed_timestamp_seconds",
    "safety_subjects_infused", "safety_subjects_with_dlt", "safety_stopping_probability",
}  # fmt: skip
OUR_ADDITIONS = {"safety_partition_reseeks_total", "safety_broker_up"}  # watchdog.py, gaps.py, health.py
OUR_ADDITIONS |= {"safety_deliveries_owed", "safety_deliveries_owed_oldest_seconds"}  # streams/worker/delivery.py
OUR_ADDITIONS |= {"safety_feed_silent_seconds"}  # streams/worker/heartbeat.py
OUR_ADDITIONS |= {"safety_alert_stage_seconds"}  # streams/worker/ingest.py


def exposed_names(metrics: SafetyMetrics) -> set[str]:
    names = set()
    for family in metrics.registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_every_contract_metric_exists_with_its_exact_name() -> None:
    assert exposed_names(SafetyMetrics.create(CollectorRegistry())) == CONTRACT_NAMES | OUR_ADDITIONS


def test_two_instances_on_fresh_registries_do_not_collide() -> None:
    first, second = SafetyMetrics.create(CollectorRegistry()), SafetyMetrics.create(CollectorRegistry())
    first.alerts.labels("SAE").inc()
    assert second.registry.get_sample_value("safety_alerts_total", {"kind": "SAE"}) is None


def test_processed_sets_last_processed_time_and_lag_per_partition() -> None:
    metrics = SafetyMetrics.create(CollectorRegistry())
    metrics.processed("safety.events", 2, offset=41, highwater=50, now=1234.0)
    labels = {"topic": "safety.events", "partition": "2"}
    value = metrics.registry.get_sample_value
    assert value("safety_partition_last_processed_timestamp_seconds", labels) == 1234.0
    assert value("safety_consumer_lag", labels) == 8.0


def test_the_exposition_is_prometheus_text() -> None:
    metrics = SafetyMetrics.create(CollectorRegistry())
    metrics.events.labels("lab", "graded").inc()
    assert b'safety_events_total{outcome="graded",type="lab"} 1.0' in metrics.exposition()
