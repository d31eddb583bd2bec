"""Helpers for the deploy tests: the metric names the service exports (streams.web.metrics.SafetyMetrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.web.metrics import SafetyMetrics

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Sample names a fresh SafetyMetrics exposes on /metrics (counter _total, histogram _bucket...)."""
    registry = CollectorRegistry()
    SafetyMetrics.create(registry)
    names = set()
    for family in registry.collect():
        for suffix in SUFFIXES[family.type]:
            names.add(family.name + suffix)
    return names
