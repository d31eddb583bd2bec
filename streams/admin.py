"""Topic administration and the event publisher (kafka-python 3; docs/decisions/embedded-broker.md, section 2).

``create_topics`` creates every topic of deploy/kafka/topics.yaml and is idempotent (existing topics are left
as they are), so the compose ``topic-init`` step, ``safety demo`` and the tests all call it. ``produce``
publishes a JSON-lines file keyed by ``subject_id`` (contract: a subject's events share one partition, in
order) and sends each line's bytes unchanged, so what is on the topic is exactly the file.

Commands: ``safety produce FILE.jsonl`` and ``safety topics``; ``python -m streams.admin`` is the ``safety`` command,
so the image runs ``python -m streams.admin topics``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from streams.settings import Settings

TOPICS_FILE = Path(__file__).resolve().parent.parent / "deploy" / "kafka" / "topics.yaml"
PRODUCE_CONNECT_TIMEOUT_S = 5.0
"""`safety produce` says within seconds that the broker does not answer (library default: 30 s, then a traceback)."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """topics.yaml entries with names, partitions and replication resolved from settings."""
    path = settings.kafka.topics_file or TOPICS_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = settings.topics.names()
    specs = []
    for entry in data["topics"]:
        if entry["key"] not in names:
            raise ValueError(f"{path}: topic key {entry['key']!r} is not one of {sorted(names)}")
        specs.append(
            TopicSpec(
                name=names[entry["key"]],
                partitions=int(entry.get("partitions") or settings.kafka.partitions),
                replication=int(entry.get("replication") or settings.kafka.replication),
                config={str(k): str(v) for k, v in (entry.get("config") or {}).items()},
            )
        )
    return specs


def admin_client(settings: Settings, timeout: float = 30.0) -> Any:
    """A KafkaAdminClient, retried until the broker answers (the broker may still be starting)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=settings.kafka.bootstrap_servers(),
                client_id="safety-admin",
                bootstrap_timeout_ms=int(timeout * 1000),
            )
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def create_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics of topics.yaml; returns the names created (existing ones are kept as is).
    ``timeout``: how long to wait for the broker to answer."""
    specs = topic_specs(settings)
    admin = admin_client(settings, timeout)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            admin.create_topics(
                {
                    s.name: {
                        "num_partitions": s.partitions,
                        "replication_factor": s.replication,
                        "configs": s.config,
                    }
                    for s in missing
                },
                raise_errors=False,
            )
        return [s.name for s in missing]
    finally:
        admin.close()


def committed_offsets(admin: Any, group: str, topic: str) -> dict[int, int]:
    """partition -> committed offset of ``group`` on ``topic`` (partitions never committed are absent)."""
    offsets = admin.list_group_offsets({group: None}).get(group, {})
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


def producer(settings: Settings, timeout: float = 30.0) -> Any:
    """A KafkaProducer that gives up after ``timeout`` seconds without an answer from the broker."""
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        acks="all",
        linger_ms=5,
        client_id="safety-produce",
        bootstrap_timeout_ms=int(timeout * 1000),
    )


def subject_key(line: bytes) -> bytes | None:
    """The record key: the line's subject_id (None for a line that is not an event object, or is nested too deep
    to read; still sent, the worker dead-letters it)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    subject = obj.get("subject_id") if isinstance(obj, dict) else None
    return subject.encode() if isinstance(subject, str) else None


def produce_lines(
    settings: Settings,
    lines: Iterable[bytes],
    topic: str | None = None,
    rate: float | None = None,
    timeout: float = 30.0,
) -> dict[int, int]:
    """Publish each line unchanged, keyed by subject_id, at ``rate`` events/s (None = as fast as possible).

    Returns partition -> next offset after the last record sent there (what a consumer must reach). ``timeout``:
    how long to wait for the broker to answer first.
    """
    kafka = producer(settings, timeout)
    target = topic or settings.topics.events
    futures = []
    started = time.monotonic()
    try:
        for count, line in enumerate(lines, start=1):
            futures.append(kafka.send(target, key=subject_key(line), value=line))
            if rate:
                delay = started + count / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        kafka.flush()
    finally:
        kafka.close()
    ends: dict[int, int] = {}
    for future in futures:
        meta = future.get(timeout=0)
        ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
    return ends


def read_lines(path: Path) -> list[bytes]:
    """Non-blank lines of a JSON-lines file, as bytes without the newline."""
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def produce(path: Path, settings: Settings | None = None, rate: float | None = None, timeout: float = 30.0) -> int:
    """Publish a JSON-lines file (`safety produce`); returns the number of events sent."""
    lines = read_lines(path)
    produce_lines(settings or Settings.load(), lines, rate=rate, timeout=timeout)
    return len(lines)


def _with_broker(bootstrap: str | None) -> Settings:
    """The settings, with ``--bootstrap`` when given; no broker at all is a usage error."""
    settings = Settings.load(kafka={"bootstrap": bootstrap} if bootstrap else {})
    if not settings.kafka.bootstrap:
        raise click.UsageError(
            "no broker: set SAFETY_KAFKA_BOOTSTRAP=host:port or pass --bootstrap "
            "(`safety demo` starts an embedded broker for you)"
        )
    return settings


BOOTSTRAP_HELP = "host:port of the broker (default: SAFETY_KAFKA_BOOTSTRAP)"


@click.command(
    "produce",
    short_help="publish a JSON-lines file of events to the input topic",
    help="Publish a JSON-lines file of events to the input topic (SAFETY_TOPIC_EVENTS), keyed by subject_id, "
    "unchanged.\n\nFILE: JSON-lines file of input events.",
)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="events per second (default: as fast as possible)",
)
@click.option("--create-topics", "create_first", is_flag=True, help="create missing topics first")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=PRODUCE_CONNECT_TIMEOUT_S,
    help=f"seconds to wait for the broker to answer (default {PRODUCE_CONNECT_TIMEOUT_S:g})",
)
def produce_command(file: Path, bootstrap: str | None, rate: float | None, create_first: bool, timeout: float) -> int:
    """`safety produce FILE.jsonl`: publish events to the input topic, keyed by subject_id."""
    settings = _with_broker(bootstrap)
    if not file.is_file():
        raise click.UsageError(f"{file}: no such file")
    from kafka.errors import KafkaError

    try:
        if create_first:
            create_topics(settings, timeout=timeout)
        count = produce(file, settings, rate=rate, timeout=timeout)
    except KafkaError as exc:
        print(
            f"safety produce: no answer from the broker at {settings.kafka.bootstrap} within {timeout:g} s "
            f"({type(exc).__name__}); start it, or point --bootstrap or SAFETY_KAFKA_BOOTSTRAP at a running broker "
            "(`safety demo` runs an embedded one)",
            file=sys.stderr,
        )
        return 1
    print(f"produced {count} events to {settings.topics.events} on {settings.kafka.bootstrap}")
    return 0


@click.command(
    "topics",
    short_help="create the missing topics of deploy/kafka/topics.yaml",
    help="Create missing topics from deploy/kafka/topics.yaml (existing topics are kept as they are).",
)
@click.option("--bootstrap", default=None, help=BOOTSTRAP_HELP)
def topics_command(bootstrap: str | None) -> int:
    """`safety topics` (the compose topic-init step runs `python -m streams.admin topics`, the same command)."""
    created = create_topics(_with_broker(bootstrap))
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


if __name__ == "__main__":
    from streams.cli import main

    sys.exit(main())
