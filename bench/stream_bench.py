"""Stream worker benchmark on the embedded broker (issue 5): prints figures, asserts nothing.

1. Throughput: the synthetic 48-subject trial (~16,000 events) pre-loaded, then our worker vs a bare faust
   pass-through agent (raw bytes in, same bytes out) with the same faust settings (streams.worker.app.faust_settings,
   Tansu workarounds on). Rate = events / (last - first output record timestamp), so start-up is excluded;
   the worker's outputs are its graded rows, complete when there are as many as `safety replay` gives.
   Each is run --repeat times (default 3), alternating; the ratio is taken between the medians.
2. Start-up: worker process launch -> first output record (pre-loaded topic; goal < 10 s).
3. Latency at a fixed 500 events/s for 20 s: input record timestamp -> the worker's graded output for that
   event (p50/p99), and the worker's own safety_event_to_alert_seconds histogram.

Run: .venv/bin/python bench/stream_bench.py [--subjects 48] [--rate 500] [--seconds 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.admin import create_topics, produce_lines  # noqa: E402
from streams.dev.broker import embedded_broker, free_port  # noqa: E402
from streams.settings import Settings  # noqa: E402


def passthrough_worker() -> None:
    """The baseline: the same faust settings, one agent forwarding raw bytes to the graded topic."""
    import faust

    from streams.worker import faust_compat
    from streams.worker.app import TANSU_FETCH_MAX_WAIT_MS, faust_settings

    settings = Settings.load()
    faust_compat.install(fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS)
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(settings.kafka.app_id, **faust_settings(settings))
    source = app.topic(settings.topics.events, value_serializer="raw", key_serializer="raw")
    out = app.topic(settings.topics.graded, value_serializer="raw", key_serializer="raw")

    @app.agent(source)
    async def forward(stream: Any) -> None:
        async for event in stream.events():
            await out.send(key=event.key, value=event.value)

    worker = faust.Worker(app, loglevel="warn", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


def scoped(bootstrap: str, prefix: str) -> Settings:
    base = Settings.load(kafka={"bootstrap": bootstrap})
    return base.updated(
        topics={k: f"{prefix}.{v}" for k, v in base.topics.names().items()},
        kafka={"app_id": f"{prefix}-app", "embedded_workarounds": True},
        worker={"data_dir": Path(f"/tmp/stream-bench-{prefix}-{os.getpid()}")},
    )


def launch(settings: Settings, passthrough: bool, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
    env.update({f"SAFETY_TOPIC_{k.upper()}": v for k, v in settings.topics.names().items()})
    env.update(
        SAFETY_KAFKA_BOOTSTRAP=settings.kafka.bootstrap or "",
        SAFETY_APP_ID=settings.kafka.app_id,
        SAFETY_EMBEDDED_WORKAROUNDS="1",
        SAFETY_PLUGINS="",
        SAFETY_WEB_PORT=str(port),
        SAFETY_DATA_DIR=str(settings.worker.data_dir),
        PYTHONPATH=str(ROOT),
    )
    cmd = (
        [sys.executable, __file__, "--passthrough-worker"]
        if passthrough
        else [sys.executable, "-m", "streams.worker.run", "--loglevel", "warn"]
    )
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT), port


def output_records(settings: Settings, expected: int, timeout: float) -> list[Any]:
    """Read the graded topic until ``expected`` records arrived, or 3 s without news after 99 % of them."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    parts = [TopicPartition(settings.topics.graded, p) for p in range(settings.kafka.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    last_news = time.monotonic()
    while len(records) < expected and time.monotonic() < deadline:
        if len(records) >= 0.99 * expected and time.monotonic() - last_news > 3:
            break
        for batch in consumer.poll(200).values():
            records.extend(batch)
            last_news = time.monotonic()
    consumer.close()
    return records


def throughput(bootstrap: str, lines: list[bytes], passthrough: bool, tag: str, expected: int) -> dict[str, float]:
    settings = scoped(bootstrap, tag)
    create_topics(settings)
    produce_lines(settings, lines)
    launched = time.time()
    proc, _ = launch(settings, passthrough, Path(f"/tmp/stream-bench-{tag}.log"))
    try:
        records = output_records(settings, expected, 300)
        cpu = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    stamps = sorted(r.timestamp / 1000 for r in records)
    events = len(lines) * len(records) / expected  # the share of the input the outputs stand for
    return {
        "records": len(records),
        "rate": (events - 1) / max(1e-9, stamps[-1] - stamps[0]),
        "first_output_s": stamps[0] - launched,
        "cpu_ms_per_event": 1000 * cpu / max(1, events),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): robust to other load on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(bootstrap: str, lines: list[bytes], rate: float, seconds: float) -> dict[str, float]:
    settings = scoped(bootstrap, "latency")
    create_topics(settings)
    proc, port = launch(settings, False, Path("/tmp/stream-bench-latency.log"))
    try:
        warm = [line for line in lines if b'"type":"lab"' in line][:1]
        produce_lines(settings, warm)
        output_records(settings, 1, 60)  # the worker is up and assigned
        load = lines[: int(rate * seconds)]
        sent_at: dict[str, float] = {}
        produce_lines(settings, load, rate=rate)
        for line in load:
            sent_at.setdefault(json.loads(line)["event_id"], 0.0)
        records = output_records(settings, 10**9, 15)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
    finally:
        proc.terminate()
        proc.wait(30)
    input_ts = input_timestamps(settings)
    lat = sorted(
        r.timestamp / 1000 - input_ts[json.loads(r.value)["event_id"]]
        for r in records
        if json.loads(r.value)["event_id"] in input_ts and json.loads(r.value)["event_id"] in sent_at
    )
    return {
        "samples": len(lat),
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
        "max_ms": 1000 * lat[-1],
        "alert_histogram": alert_histogram(metrics),
    }


def input_timestamps(settings: Settings) -> dict[str, float]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    parts = [TopicPartition(settings.topics.events, p) for p in range(settings.kafka.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    found: dict[str, float] = {}
    idle = 0
    while idle < 5:
        polled = consumer.poll(200)
        idle = 0 if polled else idle + 1
        for batch in polled.values():
            for record in batch:
                found[json.loads(record.value)["event_id"]] = record.timestamp / 1000
    consumer.close()
    return found


def alert_histogram(metrics: str) -> str:
    count = total = 0.0
    for line in metrics.splitlines():
        if line.startswith("safety_event_to_alert_seconds_count"):
            count = float(line.split()[-1])
        if line.startswith("safety_event_to_alert_seconds_sum"):
            total = float(line.split()[-1])
    return f"{int(count)} alerts, mean {1000 * total / count:.0f} ms" if count else "no alerts in the window"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=48)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput runs")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs of each (medians are compared)")
    parser.add_argument("--passthrough-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.passthrough_worker:
        passthrough_worker()
        return 0
    from streams.dev.demo import demo_lines

    lines = demo_lines(args.subjects, None)
    with embedded_broker() as broker:
        if not args.latency_only:
            compare(broker.bootstrap, lines, args.repeat)
        lat = latency(broker.bootstrap, lines, args.rate, args.seconds)
        print(
            f"latency at {args.rate:.0f} events/s for {args.seconds:.0f} s, event -> graded output: "
            f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
            f"({lat['samples']} samples; goal p99 < 200 ms); safety_event_to_alert_seconds: "
            f"{lat['alert_histogram']}",
            flush=True,
        )
    return 0


def graded_rows(lines: list[bytes]) -> int:
    """Graded rows ``safety replay`` gives for ``lines``: the worker's output count when it has processed all."""
    from safety.replay import replay
    from streams.rulefiles import load_ruleset

    return sum(1 for kind, _ in replay(lines, load_ruleset()) if kind == "graded")


def compare(bootstrap: str, lines: list[bytes], repeat: int) -> None:
    """Throughput of the pass-through baseline and of our worker, alternating, on the same broker and settings.

    Single runs on a small shared virtual machine vary by 10-20%, so each is run ``repeat`` times and the ratio is
    taken between the medians.
    """
    expected = graded_rows(lines)
    base_runs, our_runs = [], []
    for n in range(repeat):
        base = throughput(bootstrap, lines, True, f"passthrough{n}", len(lines))
        ours = throughput(bootstrap, lines, False, f"worker{n}", expected)
        base_runs.append(base)
        our_runs.append(ours)
        print(
            f"run {n + 1}: pass-through {base['rate']:.0f} events/s ({base['cpu_ms_per_event']:.2f} ms CPU/event), "
            f"our worker {ours['rate']:.0f} events/s ({ours['cpu_ms_per_event']:.2f} ms CPU/event, "
            f"{ours['records']} graded rows as replay)",
            flush=True,
        )
    base_rate, our_rate = median(r["rate"] for r in base_runs), median(r["rate"] for r in our_runs)
    base_cpu = median(r["cpu_ms_per_event"] for r in base_runs)
    our_cpu = median(r["cpu_ms_per_event"] for r in our_runs)
    first = median(r["first_output_s"] for r in our_runs)
    print(
        f"medians of {repeat}: pass-through {base_rate:.0f} events/s, our worker {our_rate:.0f} events/s; "
        f"worker first output {first:.1f} s after launch (goal < 10 s)",
        flush=True,
    )
    print(
        f"ratio worker/pass-through: {our_rate / base_rate:.2f} by wall-clock rate, {base_cpu / our_cpu:.2f} by "
        f"CPU per event ({base_cpu:.2f} vs {our_cpu:.2f} ms; goal >= 0.9)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
