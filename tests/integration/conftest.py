"""One embedded Tansu broker per test session, and helpers to run real `safety worker` processes against it.

Each test gets its own topic names and consumer group (a prefix), so tests share the broker but no data.
Session timeout 6 s, as for the worker on Tansu (docs/decisions/embedded-broker.md, section 1); plug-ins off
(stream only) unless a test sets ``Stream.plugins`` (``ALL_PLUGINS``: the default set, as `make demo` and production
run them).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.admin import admin_client, committed_offsets, create_topics, produce_lines
from streams.dev.broker import EmbeddedBroker, free_port, start_broker
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count(1)
ALL_PLUGINS = Settings().worker.plugins  # the default SAFETY_PLUGINS
PAGE_TOKEN = "reliability-officer-7f3a9c2e5b1d804a6c"  # strong enough for streams.web.auth
METRICS_TOKEN = "reliability-scrape-3b9e7d1c5a2f8046e1"  # what Prometheus sends to /metrics


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    embedded = start_broker(log_path=tmp_path_factory.mktemp("tansu") / "broker.log")
    yield embedded
    embedded.stop()


@dataclass
class Stream:
    """Topics, group and worker processes of one test."""

    settings: Settings
    workdir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    store: str = "memory://"  # the workers' table store; production runs rocksdb://
    plugins: str = ""  # SAFETY_PLUGINS of the workers; ALL_PLUGINS for restart/fault tests
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
        env.update({f"SAFETY_TOPIC_{k.upper()}": v for k, v in s.topics.names().items()})
        env.update(
            SAFETY_KAFKA_BOOTSTRAP=s.kafka.bootstrap or "",
            SAFETY_APP_ID=s.kafka.app_id,
            SAFETY_EMBEDDED_WORKAROUNDS="1",
            SAFETY_PLUGINS=self.plugins,
            SAFETY_STORE=self.store,
            SAFETY_DATA_DIR=str(self.workdir / name),
            SAFETY_AUTH_TOKENS=f"safety_officer:{PAGE_TOKEN}",
            SAFETY_METRICS_TOKEN=METRICS_TOKEN,
            SAFETY_LINK_SECRET="reliability-link-secret-4c8e1a7d9f2b6305",
            SAFETY_OUTBOX_DIR=str(self.workdir / "outbox"),
            PYTHONPATH=str(ROOT),
        )
        env.update(self.extra_env)
        return env

    def start_worker(self, name: str = "w1") -> subprocess.Popen[bytes]:
        port = free_port()
        loglevel = os.environ.get("SAFETY_TEST_WORKER_LOGLEVEL", "warn")  # "info" shows rebalances and recovery
        with open(self.workdir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.worker.run", "--web-port", str(port), "--loglevel", loglevel],
                env=self.env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.workers.append(proc)
        self.ports[proc.pid] = port
        return proc

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def sigterm(self, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
        """SIGTERM, and the exit code once it has stopped (a clean stop commits and flushes)."""
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout)

    def page(self, proc: subprocess.Popen[bytes], path: str) -> tuple[int, str]:
        """(status, body) of a page of this worker, as the safety officer; status 0 when nothing answers."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[proc.pid]}{path}", headers={"Authorization": f"Bearer {PAGE_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError as exc:  # not listening yet, or gone
            return 0, str(exc)

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def produce(self, lines: list[bytes]) -> dict[int, int]:
        return produce_lines(self.settings, lines)

    def metrics(self, proc: subprocess.Popen[bytes]) -> str:
        url = f"http://127.0.0.1:{self.ports[proc.pid]}/metrics"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode()

    def processed_partitions(self, proc: subprocess.Popen[bytes]) -> set[int]:
        """Partitions of the events topic this worker has processed records of (from its /metrics)."""
        try:
            text = self.metrics(proc)
        except OSError:
            return set()
        topic = self.settings.topics.events
        prefix = 'safety_partition_last_processed_timestamp_seconds{partition="'
        found = set()
        for line in text.splitlines():
            if line.startswith(prefix) and f'topic="{topic}"' in line:
                found.add(int(line[len(prefix) :].split('"', 1)[0]))
        return found

    def committed(self, topic: str) -> dict[int, int]:
        admin = admin_client(self.settings)
        try:
            return committed_offsets(admin, self.settings.kafka.app_id, topic)
        finally:
            admin.close()

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for proc in self.workers:
                if proc.returncode is None and proc.poll() is not None and proc.returncode != -9:
                    raise AssertionError(f"worker exited with {proc.returncode}; see {self.workdir}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {what} ({getattr(self, 'progress', '')}); "
                    f"logs in {self.workdir}"
                )
            time.sleep(0.5)

    def caught_up(self, events_end: dict[int, int]) -> bool:
        """Every produced event committed, then every study signal committed (see streams.dev.demo.caught_up)."""
        done = self.committed(self.settings.topics.events)
        self.progress = f"events committed {done} of {events_end}"
        if not all(done.get(p, 0) >= end for p, end in events_end.items()):
            return False
        study_end = self.end_offsets(self.settings.topics.study)
        done_study = self.committed(self.settings.topics.study)
        self.progress += f"; study committed {done_study} of {study_end}"
        return all(done_study.get(p, 0) >= end for p, end in study_end.items())

    def end_offsets(self, topic: str) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers())
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
            return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()

    def read(self, topic: str) -> list[bytes]:
        """Every record value of ``topic`` (partition by partition, in offset order)."""
        return [value for value, _ in self.read_stamped(topic)]

    def read_stamped(self, topic: str) -> list[tuple[bytes, float]]:
        """Every record of ``topic`` as (value, Kafka timestamp in seconds), partition by partition."""
        from kafka import KafkaConsumer, TopicPartition

        ends = self.end_offsets(topic)
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        values: dict[int, list[tuple[bytes, float]]] = {p: [] for p in ends}
        try:
            parts = [TopicPartition(topic, p) for p in ends]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            deadline = time.monotonic() + 30
            while any(consumer.position(tp) < ends[tp.partition] for tp in parts) and time.monotonic() < deadline:
                for tp, records in consumer.poll(200).items():
                    values[tp.partition].extend((r.value, r.timestamp / 1000) for r in records)
        finally:
            consumer.close()
        return [v for p in sorted(values) for v in values[p]]

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.read(self.settings.topics.alerts)]


@pytest.fixture()
def stream(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Stream]:
    prefix = f"t{next(_counter)}-{os.getpid()}"
    base = Settings(kafka={"bootstrap": broker.bootstrap})
    names = {k: f"{prefix}.{v}" for k, v in base.topics.names().items()}
    settings = base.updated(topics=names, kafka={"app_id": f"{prefix}-safety", "embedded_workarounds": True})
    create_topics(settings)
    running = Stream(settings=settings, workdir=tmp_path)
    yield running
    running.stop_all()


@pytest.fixture(scope="session")
def trial_lines() -> list[bytes]:
    """The demo's synthetic trial, 8 subjects (~2,700 events): most alert kinds + the boundary."""
    from streams.dev.demo import demo_lines

    return demo_lines(8, None)


@pytest.fixture(scope="session")
def replayed(trial_lines: list[bytes]) -> Any:
    """What `safety replay` gives on the same lines: alerts by id (no emitted_at) and final subject states."""
    from safety.replay import ReplayState, replay
    from streams.rulefiles import load_ruleset

    state = ReplayState()
    alerts = {}
    for kind, output in replay([line.decode() for line in trial_lines], load_ruleset(), state):
        if kind == "alert":
            alerts[output.alert_id] = json.loads(output.to_json())
    return {"alerts": alerts, "states": {sid: s.to_json() for (_, sid), s in state.subjects.items()}}


@pytest.fixture()
def full_stream(stream: Stream) -> Stream:
    """``stream`` with every plug-in on (the default SAFETY_PLUGINS): restart, fault and load tests."""
    stream.plugins = ALL_PLUGINS
    return stream


@pytest.fixture()
def own_broker_stream(tmp_path: Path) -> Iterator[tuple[Stream, EmbeddedBroker]]:
    """A broker of its own (a test may kill it) and a stream with every plug-in on against it."""
    embedded = start_broker(log_path=tmp_path / "broker.log")
    try:
        base = Settings(kafka={"bootstrap": embedded.bootstrap})
        settings = base.updated(kafka={"app_id": "own-broker-safety", "embedded_workarounds": True})
        create_topics(settings)
        running = Stream(settings=settings, workdir=tmp_path, plugins=ALL_PLUGINS)
        try:
            yield running, embedded
        finally:
            running.stop_all()
    finally:
        embedded.stop()
