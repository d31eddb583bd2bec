"""`safety worker`: run the stream worker alone against the configured broker (SAFETY_KAFKA_BOOTSTRAP).

Scale out by starting more workers with the same SAFETY_APP_ID (one consumer group): faust splits the
partitions of safety.events between them and moves a dead worker's partitions, and their table state, to the
others (README, "Running in production"). SIGTERM stops it cleanly (offsets committed, tables flushed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from safety.errors import SafetyError
from streams.settings import Settings


def worker_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="safety worker",
        description="Run the stream worker (ingest and study "
        "agents, /metrics and plug-in pages) against SAFETY_KAFKA_BOOTSTRAP.",
    )
    parser.add_argument("--bootstrap", help="host:port of the broker (default: SAFETY_KAFKA_BOOTSTRAP)")
    parser.add_argument(
        "--web-port", type=int, help="port of /metrics and the pages (default: SAFETY_WEB_PORT)"
    )
    parser.add_argument("--create-topics", action="store_true", help="create missing topics before starting")
    parser.add_argument("--loglevel", default="warn", choices=["crit", "error", "warn", "info", "debug"])
    args = parser.parse_args(list(argv))
    updates: dict[str, object] = {}
    if args.bootstrap:
        updates["kafka_bootstrap"] = args.bootstrap
    if args.web_port is not None:
        updates["web_port"] = args.web_port
    settings = Settings.load(**updates)  # validated: --web-port 99999 is refused like SAFETY_WEB_PORT=99999
    if not settings.kafka_bootstrap:
        parser.error(
            "no broker: set SAFETY_KAFKA_BOOTSTRAP=host:port or pass --bootstrap "
            "(`safety demo` starts an embedded broker and a worker for you)"
        )
    if args.create_topics:
        from streams.admin import create_topics

        create_topics(settings)
    return run_worker(settings, args.loglevel)


def run_worker(settings: Settings, loglevel: str = "warn") -> int:
    """Build the app and run it until SIGTERM/SIGINT (faust.Worker exits the process with its code)."""
    import faust

    from streams.app import create_app

    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last path component
    try:
        app = create_app(settings)
        studies = app.safety.rulebook.studies  # type: ignore[attr-defined]  # every study, validated at start
    except SafetyError as exc:
        print(f"safety worker: {exc}", file=sys.stderr)
        return 2
    print(f"safety worker: studies {', '.join(f'{s} (rules {r.version})' for s, r in studies.items())}",
          file=sys.stderr)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.spinner = None  # faust's terminal spinner sets the root logger to DEBUG: ~0.5 ms per event
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
