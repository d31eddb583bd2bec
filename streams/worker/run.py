"""`safety worker`: run the stream worker alone against the configured broker (SAFETY_KAFKA_BOOTSTRAP).

Scale out by starting more workers with the same SAFETY_APP_ID (one consumer group): faust splits the
partitions of safety.events between them and moves a dead worker's partitions, and their table state, to the
others (README, "Running in production"). SIGTERM stops it cleanly (offsets committed, tables flushed) within
``SAFETY_SHUTDOWN_SECONDS`` (30 s; a loaded 2-core machine took 5-15 s). A stop that takes longer, or a SIGTERM
while the broker is unreachable (the clean stop would wait for commits the broker never answers), ends the
process with code 75 instead, as kill -9 would: at-least-once processing makes that safe (README, "delivery
semantics"; streams/worker/health.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any

import click
import faust

from safety.errors import SafetyError
from streams.settings import Settings
from streams.worker import faust_compat
from streams.worker.health import EXIT_BROKER_DOWN, BrokerHealth

log = logging.getLogger(__name__)


@click.command(
    "worker",
    short_help="run the stream worker against SAFETY_KAFKA_BOOTSTRAP",
    help="Run the stream worker (ingest and study agents, /metrics and plug-in pages) against SAFETY_KAFKA_BOOTSTRAP.",
)
@click.option("--bootstrap", default=None, help="host:port of the broker (default: SAFETY_KAFKA_BOOTSTRAP)")
@click.option("--web-port", type=int, default=None, help="port of /metrics and the pages (default: SAFETY_WEB_PORT)")
@click.option("--create-topics", is_flag=True, help="create missing topics before starting")
@click.option(
    "--loglevel", type=click.Choice(["crit", "error", "warn", "info", "debug"]), default="warn", show_default=True
)
def worker_command(bootstrap: str | None, web_port: int | None, create_topics: bool, loglevel: str) -> int:
    kafka = {"bootstrap": bootstrap} if bootstrap else {}
    web = {"port": web_port} if web_port is not None else {}
    settings = Settings.load(kafka=kafka, web=web)  # --web-port 99999 is refused like SAFETY_WEB_PORT=99999
    if not settings.kafka.bootstrap:
        raise click.UsageError(
            "no broker: set SAFETY_KAFKA_BOOTSTRAP=host:port or pass --bootstrap "
            "(`safety demo` starts an embedded broker and a worker for you)"
        )
    if create_topics:
        from streams.admin import create_topics as create

        create(settings)
    return run_worker(settings, loglevel)


class BoundedStopWorker(faust_compat.StopSignalWorker):
    """faust's worker, whose stop on SIGTERM/SIGINT cannot hang: see the module docstring."""

    def __init__(
        self, app: faust.App, *, health: BrokerHealth, stopping: asyncio.Event, stop_within: float, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self.health, self.stopping, self.stop_within = health, stopping, stop_within

    def on_stop_signal(self, signal: signal.Signals) -> None:
        self.stopping.set()  # agents give up waits that can be done again later (streams/worker/context.py)
        if not self.health.up:
            log.critical(
                "%s while the Kafka broker is unreachable: exiting with code %s without a clean stop",
                signal.name,
                EXIT_BROKER_DOWN,
            )
            hard_exit()
        why = f"the clean stop after {signal.name} took over {self.stop_within:.0f} s (SAFETY_SHUTDOWN_SECONDS)"
        deadline = threading.Timer(self.stop_within, hard_exit, kwargs={"why": why})
        deadline.daemon = True  # a clean stop ends the process first
        deadline.start()


def hard_exit(why: str = "") -> None:
    """Exit at once with code 75 (EX_TEMPFAIL); nothing uncommitted is lost (at-least-once)."""
    if why:
        log.critical("%s: exiting with code %s", why, EXIT_BROKER_DOWN)
    logging.shutdown()
    os._exit(EXIT_BROKER_DOWN)


def run_worker(settings: Settings, loglevel: str = "warn") -> int:
    """Build the app and run it until SIGTERM/SIGINT (faust.Worker exits the process with its code)."""
    from streams.worker.app import create_app

    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last path component
    try:
        app = create_app(settings)
        studies = app.safety.rulebook.studies  # type: ignore[attr-defined]  # every study, validated at start
    except SafetyError as exc:
        print(f"safety worker: {exc}", file=sys.stderr)
        return 2
    print(
        f"safety worker: studies {', '.join(f'{s} (rules {r.version})' for s, r in studies.items())}", file=sys.stderr
    )
    worker = BoundedStopWorker(
        app,
        health=app.safety.broker_health,  # type: ignore[attr-defined]
        stopping=app.safety.stopping,  # type: ignore[attr-defined]
        stop_within=settings.worker.shutdown_seconds,
        loglevel=loglevel,
        quiet=True,
    )
    worker.spinner = None  # faust's terminal spinner sets the root logger to DEBUG: ~0.5 ms per event
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    from streams.cli import main

    sys.exit(main(["worker", *sys.argv[1:]]))
