"""Topic administration and the event publisher (kafka-python 3; notes faust-kafka-tansu.md §2, §11).

``create_topics`` creates every topic of deploy/kafka/topics.yaml and is idempotent (existing topics are left
as they are), so the compose ``topic-init`` step, ``safety demo`` and the tests all call it. ``produce``
publishes a JSON-lines file keyed by ``subject_id`` (contract: a subject's events share one partition, in
order) and sends each line's bytes unchanged, so what is on the topic is exactly the file.

Commands: ``safety produce FILE.jsonl`` (produce_main) and ``python -m streams.admin topics`` (topics_main).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    path = settings.topics_file or TOPICS_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = settings.topic_names()
    specs = []
    for entry in data["topics"]:
        if entry["key"] not in names:
            raise ValueError(f"{path}: topic key {entry['key']!r} is not one of {sorted(names)}")
        specs.append(
            TopicSpec(
                name=names[entry["key"]],
                partitions=int(entry.get("partitions") or settings.partitions),
                replication=int(entry.get("replication") or settings.replication),
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
            return KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers(), client_id="safety-admin",
                                    bootstrap_timeout_ms=int(timeout * 1000))
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
    return {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
    }


def producer(settings: Settings, timeout: float = 30.0) -> Any:
    """A KafkaProducer that gives up after ``timeout`` seconds without an answer from the broker."""
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers(), acks="all", linger_ms=5, client_id="safety-produce",
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
    settings: Settings, lines: Iterable[bytes], topic: str | None = None, rate: float | None = None,
    timeout: float = 30.0,
) -> dict[int, int]:
    """Publish each line unchanged, keyed by subject_id, at ``rate`` events/s (None = as fast as possible).

    Returns partition -> next offset after the last record sent there (what a consumer must reach). ``timeout``:
    how long to wait for the broker to answer first.
    """
    kafka = producer(settings, timeout)
    target = topic or settings.topic_events
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
    produce_lines(settings or Settings(), lines, rate=rate, timeout=timeout)
    return len(lines)


def _bootstrap(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    settings = Settings()
    if args.bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": args.bootstrap})
    if not settings.kafka_bootstrap:
        parser.error(
            "no broker: set SAFETY_KAFKA_BOOTSTRAP=host:port or pass --bootstrap "
            "(`safety demo` starts an embedded broker for you)"
        )
    return settings


def produce_main(argv: Sequence[str]) -> int:
    """`safety produce FILE.jsonl`: publish events to the input topic, keyed by subject_id."""
    parser = argparse.ArgumentParser(
        prog="safety produce",
        description="Publish a JSON-lines file of events "
        "to the input topic (SAFETY_TOPIC_EVENTS), keyed by subject_id, unchanged.",
    )
    parser.add_argument("file", type=Path, help="JSON-lines file of input events")
    parser.add_argument("--bootstrap", help="host:port of the broker (default: SAFETY_KAFKA_BOOTSTRAP)")
    parser.add_argument(
        "--rate", type=float, default=None, help="events per second (default: as fast as possible)"
    )
    parser.add_argument("--create-topics", action="store_true", help="create missing topics first")
    parser.add_argument("--timeout", type=float, default=PRODUCE_CONNECT_TIMEOUT_S,
                        help=f"seconds to wait for the broker to answer (default {PRODUCE_CONNECT_TIMEOUT_S:g})")
    args = parser.parse_args(list(argv))
    settings = _bootstrap(parser, args)
    if not args.file.is_file():
        parser.error(f"{args.file}: no such file")
    from kafka.errors import KafkaError

    try:
        if args.create_topics:
            create_topics(settings, timeout=args.timeout)
        count = produce(args.file, settings, rate=args.rate, timeout=args.timeout)
    except KafkaError as exc:
        print(f"safety produce: no answer from the broker at {settings.kafka_bootstrap} within {args.timeout:g} s "
              f"({type(exc).__name__}); start it, or point --bootstrap or SAFETY_KAFKA_BOOTSTRAP at a running broker "
              "(`safety demo` runs an embedded one)", file=sys.stderr)
        return 1
    print(f"produced {count} events to {settings.topic_events} on {settings.kafka_bootstrap}")
    return 0


def topics_main(argv: Sequence[str]) -> int:
    """`python -m streams.admin topics`: create the topics of deploy/kafka/topics.yaml (idempotent)."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.admin topics",
        description="Create missing topics from deploy/kafka/topics.yaml.",
    )
    parser.add_argument("--bootstrap", help="host:port of the broker (default: SAFETY_KAFKA_BOOTSTRAP)")
    args = parser.parse_args(list(argv))
    created = create_topics(_bootstrap(parser, args))
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"topics": topics_main, "produce": produce_main}
    if not args or args[0] not in commands:
        print("usage: python -m streams.admin {topics|produce} ...", file=sys.stderr)
        return 2
    return commands[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
