"""The faust app: ``create_app(settings)`` builds topics, tables, agents, the web guard, ``/metrics`` and plug-in pages.

``app``, built from the environment on first access (not at import), serves ``faust -A streams.worker.app worker``;
``safety worker`` (streams.worker.run) builds its own. ``create_app`` starts with ``faust_compat.install``: the
version guard and the patches of faust internals (streams/worker/faust_compat.py).

Group settings (docs/decisions/embedded-broker.md, section 1): a 6 s session (Tansu holds JoinGroup for
session/2, so first event ~5 s after start), a 1 s heartbeat, no standby replicas, and a short commit interval
so fewer events are redelivered after a crash (they are no-ops, but cost time).

Tansu-only workarounds (``settings.kafka.embedded_workarounds``; on for the embedded broker, off on real Kafka):
* ``producer_max_batch_size=1``: Tansu's ListOffsets(LATEST) answers the base offset of the newest batch + 1,
  so table recovery stopped early and silently dropped the last changelog records
  (docs/decisions/embedded-broker.md, section 3). One record per batch makes it correct. Real Kafka answers
  correctly; batching is kept there.
* ``fetch_max_wait_ms`` clamp to 50 ms (``faust_compat.install``): faust hard-codes 1500 ms and Tansu sleeps out
  most of it even when data arrives (p50 latency 1.1 s -> 32 ms; docs/decisions/faust-internals.md, section 5).
  Kafka returns a fetch as soon as data is there, so not needed.

``exactly_once`` is not used: it fails on Tansu and has open duplicate bugs on Kafka
(docs/decisions/embedded-broker.md, section 4).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

import faust

from streams.settings import Settings
from streams.web import guard
from streams.web.metrics import SafetyMetrics, register_metrics_page
from streams.worker import faust_compat
from streams.worker.context import WorkerContext
from streams.worker.tables import declare_tables
from streams.worker.topics import declare_topics

log = logging.getLogger(__name__)

TANSU_FETCH_MAX_WAIT_MS = 50


def uses_workarounds(settings: Settings) -> bool:
    return bool(settings.kafka.embedded_workarounds)


def faust_settings(settings: Settings) -> dict[str, Any]:
    """faust.App keyword arguments from our settings (shared with the pass-through app in bench/)."""
    conf: dict[str, Any] = dict(
        broker=settings.kafka.bootstrap_url() if settings.kafka.bootstrap else "kafka://127.0.0.1:9092",
        store=settings.worker.store,
        datadir=str(settings.worker.data_dir),
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication,
        broker_session_timeout=settings.kafka.session_timeout,
        broker_heartbeat_interval=settings.kafka.heartbeat_interval,
        broker_commit_interval=settings.kafka.commit_interval,
        table_standby_replicas=0,
        web_enabled=settings.web.enabled,
        web_bind=settings.web.host,
        web_port=settings.web.port,
        web_host=settings.web.host,
        # faust's own views (topology, tables, statistics) are not the service's: off, and the guard
        # (streams/web/guard.py) refuses any path a signed-in person or a token does not open.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",  # exactly_once: fails on Tansu, duplicates on Kafka (see above)
    )
    if uses_workarounds(settings):
        conf["producer_max_batch_size"] = 1
    return conf


def create_app(settings: Settings | None = None, metrics: SafetyMetrics | None = None) -> faust.App:
    """A fully wired worker app; ``app.safety`` is its WorkerContext (streams/worker/context.py)."""
    from streams.worker import ingest, watchdog

    settings = settings or Settings.load()
    tansu = uses_workarounds(settings)
    faust_compat.install(fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS if tansu else None, one_record_batches=tansu)
    faust_compat.skip_gap_fill(settings.topics.events, settings.topics.study)  # streams/worker/gaps.py
    app = faust.App(settings.kafka.app_id, **faust_settings(settings))
    ctx = WorkerContext(
        app=app,
        settings=settings,
        metrics=metrics or SafetyMetrics.create(),
        topics=declare_topics(app, settings),
        tables=declare_tables(app, settings),
    )
    app.safety = ctx  # type: ignore[attr-defined]
    ingest.register(app, ctx)
    watchdog.register(app, ctx)
    if settings.web.enabled:
        guard.register(app, ctx)  # first: every route below is served behind it
    register_metrics_page(app, ctx.metrics)
    register_plugins(app, ctx)
    return app


def register_plugins(app: faust.App, ctx: WorkerContext) -> None:
    """Call ``register(app, ctx)`` of each plug-in module named in ``SAFETY_PLUGINS`` that is installed.

    A name that no module answers to is skipped (find_spec); an ImportError inside an installed one propagates.
    """
    for name in filter(None, (n.strip() for n in ctx.settings.worker.plugins.split(","))):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(app, ctx)


app: faust.App


def __getattr__(name: str) -> faust.App:
    """``app`` for ``faust -A streams.worker.app``, built once, when faust asks for it: importing this module
    neither reads the environment nor patches faust."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global app
    app = create_app()
    return app
