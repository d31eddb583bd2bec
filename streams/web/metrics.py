"""Prometheus metrics of the worker: one ``SafetyMetrics`` per process, created on an injected registry.

The metric names are fixed here, in one place, because the Prometheus rules and the Grafana dashboard in deploy/
read them (tests/deploy checks both): every module uses these attributes, never its own metric objects, and no
label value is ever a subject code. ``/metrics`` is served by the worker's own faust web server; aiohttp rejects a
charset in ``content_type``, so the Prometheus content type goes in the headers (docs/decisions/embedded-broker.md,
section 7).

The per-partition "last processed" gauge exists because faust-streaming has open issues where partitions stop
being fetched after a rebalance (faust-streaming/faust#175, #523, #532, #629): a flat line per partition on a
dashboard is the stall alarm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    import faust

# Event -> alert latency spans the fetch wait and the send; ack latency spans minutes to days.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
ACK_BUCKETS = (
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    3 * 3600.0,
    6 * 3600.0,
    12 * 3600.0,
    86400.0,
    3 * 86400.0,
    7 * 86400.0,
    15 * 86400.0,
)

EVENT_OUTCOMES = ("graded", "stored", "duplicate", "rejected")
REJECTION_REASONS = (
    "invalid_json",
    "invalid_event",
    "conflicting_duplicate",
    "processing_error",
    "unread_offsets",  # streams/worker/gaps.py
    "record_too_large",  # streams/worker/ingest.py, MAX_RECORD_BYTES
    "output_too_large",  # an output over the producer's record limit, dead-lettered in its place
    "state_too_large",  # a subject state over that limit (streams/worker/ingest.py, Batch.state_too_large)
)
DELIVERY_OUTCOMES = ("delivered", "failed", "retried", "skipped_duplicate")


class SafetyMetrics(NamedTuple):
    """Every metric of the service: ``SafetyMetrics.create(registry)``, one registry per process/test."""

    registry: CollectorRegistry
    events: Counter  # safety_events_total{type,outcome}
    rejections: Counter  # safety_rejections_total{reason}
    grades: Counter  # safety_grades_total{term,grade}
    alerts: Counter  # safety_alerts_total{kind}
    deliveries: Counter  # safety_deliveries_total{channel,recipient,outcome}
    open_alerts: Gauge  # safety_open_alerts{kind}
    overdue_reports: Gauge  # safety_overdue_reports{kind}
    deliveries_owed: Gauge  # safety_deliveries_owed{kind,recipient}
    deliveries_owed_oldest: Gauge  # safety_deliveries_owed_oldest_seconds
    ack_seconds: Histogram  # safety_ack_seconds
    event_to_alert_seconds: Histogram  # safety_event_to_alert_seconds
    alert_stage_seconds: Histogram  # safety_alert_stage_seconds{stage}
    consumer_lag: Gauge  # safety_consumer_lag{topic,partition}
    partition_last_processed: Gauge  # safety_partition_last_processed_timestamp_seconds{topic,partition}
    partition_reseeks: Counter  # safety_partition_reseeks_total{topic,partition,reason}
    subjects_infused: Gauge  # safety_subjects_infused
    subjects_with_dlt: Gauge  # safety_subjects_with_dlt
    stopping_probability: Gauge  # safety_stopping_probability
    broker_up: Gauge  # safety_broker_up (streams/worker/health.py)
    feed_silent_seconds: Gauge  # safety_feed_silent_seconds{source} (streams/worker/heartbeat.py)

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> SafetyMetrics:
        """Register every metric on ``registry`` (a fresh one if omitted; never the global REGISTRY)."""
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            events=Counter(
                "safety_events_total",
                "Input events by type and outcome (graded|stored|duplicate|rejected)",
                ["type", "outcome"],
                registry=reg,
            ),
            rejections=Counter(
                "safety_rejections_total",
                "Dead-lettered or rejected inputs by reason",
                ["reason"],
                registry=reg,
            ),
            grades=Counter(
                "safety_grades_total",
                "Graded observations by CTCAE term and grade (0-5 or null)",
                ["term", "grade"],
                registry=reg,
            ),
            alerts=Counter("safety_alerts_total", "Alerts emitted by kind", ["kind"], registry=reg),
            deliveries=Counter(
                "safety_deliveries_total",
                "Notification deliveries by channel, recipient role and outcome",
                ["channel", "recipient", "outcome"],
                registry=reg,
            ),
            open_alerts=Gauge("safety_open_alerts", "Alerts not yet acknowledged, by kind", ["kind"], registry=reg),
            overdue_reports=Gauge(
                "safety_overdue_reports", "Reports past report_due_at, not submitted", ["kind"], registry=reg
            ),
            deliveries_owed=Gauge(
                "safety_deliveries_owed",
                "Messages not yet confirmed delivered and still retried (SAE/SUSAR/DLT/STOPPING_BOUNDARY are never "
                "given up), by alert kind and recipient role",
                ["kind", "recipient"],
                registry=reg,
            ),
            deliveries_owed_oldest=Gauge(
                "safety_deliveries_owed_oldest_seconds",
                "Age of the oldest message still owed (0 when every message is delivered or given up)",
                registry=reg,
            ),
            ack_seconds=Histogram(
                "safety_ack_seconds",
                "Time from raised_at to acknowledgement",
                buckets=ACK_BUCKETS,
                registry=reg,
            ),
            event_to_alert_seconds=Histogram(
                "safety_event_to_alert_seconds",
                "Kafka record timestamp of the triggering event to alert emitted",
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            alert_stage_seconds=Histogram(
                "safety_alert_stage_seconds",
                "The same span by stage: fetch (record timestamp -> in the ingest stream), batch (-> its batch "
                "handed to the agent), process (-> alert emitted); the three add up to safety_event_to_alert_seconds",
                ["stage"],
                buckets=LATENCY_BUCKETS,
                registry=reg,
            ),
            consumer_lag=Gauge(
                "safety_consumer_lag",
                "Records behind the partition's high watermark",
                ["topic", "partition"],
                registry=reg,
            ),
            partition_last_processed=Gauge(
                "safety_partition_last_processed_timestamp_seconds",
                "Wall-clock time of the last record processed",
                ["topic", "partition"],
                registry=reg,
            ),
            partition_reseeks=Counter(
                "safety_partition_reseeks_total",
                "Partitions sent back to an offset: reason=stall (streams/worker/watchdog.py), or records "
                "skipped by faust read again: reason=gap, gap_unread (streams/worker/gaps.py)",
                ["topic", "partition", "reason"],
                registry=reg,
            ),
            subjects_infused=Gauge("safety_subjects_infused", "Subjects with at least one infusion", registry=reg),
            subjects_with_dlt=Gauge("safety_subjects_with_dlt", "Subjects with a confirmed DLT", registry=reg),
            stopping_probability=Gauge(
                "safety_stopping_probability", "Posterior P(DLT rate > threshold)", registry=reg
            ),
            broker_up=Gauge(
                "safety_broker_up",
                "1 while the Kafka broker answers this worker's probe, 0 while it does not (streams/worker/health.py)",
                registry=reg,
            ),
            feed_silent_seconds=Gauge(
                "safety_feed_silent_seconds",
                "Seconds since the last accepted event from each input source (streams/worker/heartbeat.py)",
                ["source"],
                registry=reg,
            ),
        )

    def processed(self, topic: str, partition: int, offset: int, highwater: int | None, now: float) -> None:
        """Per-partition progress after one record: last-processed time and lag (records not processed)."""
        labels = (topic, str(partition))
        self.partition_last_processed.labels(*labels).set(now)
        if highwater is not None:
            self.consumer_lag.labels(*labels).set(max(0, highwater - offset - 1))

    def exposition(self) -> bytes:
        """The text exposition of this registry (what ``/metrics`` returns)."""
        return generate_latest(self.registry)


def register_metrics_page(app: faust.App, metrics: SafetyMetrics) -> None:
    """Serve ``/metrics`` on the worker's web server (content type in the headers:
    docs/decisions/embedded-broker.md, section 7)."""

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
