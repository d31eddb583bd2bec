"""Stream worker benchmark on the embedded broker: prints figures, asserts nothing.

1. Worker overhead: the synthetic 48-subject trial (~16,000 events) pre-loaded, then our worker vs a bare faust
   pass-through agent (raw bytes in, same bytes out) with the same faust settings (streams.worker.app.faust_settings,
   Tansu workarounds on). The worker runs as `make demo` starts it (``worker_env``: plug-ins, pages, live feeds,
   sign-in, e-mail delivery). CPU per event = the process's user + system CPU when its outputs are complete, over
   the events; the worker is complete when it has as many graded rows as `safety replay` gives. Each is run
   --repeat times (default 3), alternating; the medians are compared (goal: worker <= 1.2 x the pass-through).
   Rate = events / (last - first output record timestamp), so start-up is excluded.
2. Start-up: worker process launch -> first output record (pre-loaded topic; goal < 10 s).
3. Seconds from a result to a person: the trial streams at a fixed --rate (500 events/s) for --seconds while
   probes (an SAE, or a grade 4 neutrophil count that raises POTENTIAL_SAE) are mixed in at --probes per second;
   every message of an SAE/SUSAR or of a lab-triggered alert is timed from its event's record timestamp to its
   acceptance by a loopback SMTP server (aiosmtpd), reached through an apprise ``mailto://`` URL per recipient as
   in deploy/apprise.mailpit.yml. p50, p99 and max (goal p99 < 300 ms), and where the time goes, from timestamps
   the stream already keeps: the worker's safety_alert_stage_seconds (fetch, batch, process), the alert's record,
   the delivery command's record, the ledger entry's first record on safety.deliveries, and the SMTP dialogue.

Run: .venv/bin/python bench/stream_bench.py [--rate 500] [--seconds 30] [--probes 4] [--repeat 3]
     [--latency-only | --overhead-only]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from statistics import mean, median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.admin import create_topics, produce_lines  # noqa: E402
from streams.dev.broker import embedded_broker, free_port  # noqa: E402
from streams.settings import Settings  # noqa: E402

STUDY = "ChiCTR2600125907"
PROBE_SUBJECT_BASE = 1000  # probe subjects AA-1001...: the study's code pattern allows four digits for bench cohorts
SAE_KINDS = ("SAE", "SUSAR")
LATENCY_GOAL_MS = 300.0
OVERHEAD_GOAL = 1.2
# The stages of a message's way, in order; the first three are the worker's safety_alert_stage_seconds.
STAGES = (
    ("fetch", "fetch wait: event produced -> in the ingest stream"),
    ("batch", "batch wait: -> batch handed to the ingest agent"),
    ("process", "agent processing: -> alert emitted"),
    ("router", "delivery router: -> delivery command on its topic"),
    ("ledger", "delivery ledger agent: -> ledger entry opened"),
    ("apprise", "apprise: -> SMTP session open (EHLO)"),
    ("smtp", "SMTP: EHLO -> message accepted"),
)


def passthrough_worker() -> None:
    """The baseline: the same faust settings, one agent forwarding raw bytes to the graded topic."""
    import faust

    from streams.worker import faust_compat
    from streams.worker.app import TANSU_FETCH_MAX_WAIT_MS, faust_settings

    settings = Settings.load()
    faust_compat.install(fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS, one_record_batches=True)
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


# --- the loopback mail server ---------------------------------------------------------------------------------
@dataclass
class Inbox:
    """aiosmtpd handler: when each SMTP session said EHLO and when each message was accepted, by delivery id."""

    accepted: list[tuple[str, float, float]] = field(default_factory=list)  # (delivery id, EHLO at, accepted at)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(  # noqa: N802 (aiosmtpd API)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        session.ehlo_at = time.time()
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        now = time.time()
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.accepted.append((str(message.get("X-Safety-Delivery-Id", "")), getattr(session, "ehlo_at", now), now))
        return "250 OK"


def apprise_config(folder: Path, smtp_port: int) -> Path:
    """One mailto:// URL per recipient role on the loopback server, as deploy/apprise.mailpit.yml configures it."""
    path = folder / "apprise.yml"
    url = f"mailto://127.0.0.1:{smtp_port}?from=sae-alerts@example.org&mode=insecure"
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {url}:\n"
        "      - to: pi@example.org\n        tag: pi\n"
        "      - to: ethics-office@example.org\n        tag: ethics\n"
        "      - to: safety-officer@example.org\n        tag: safety_officer\n",
        encoding="utf-8",
    )
    return path


# --- workers --------------------------------------------------------------------------------------------------
def worker_env(settings: Settings, lines: list[bytes], folder: Path, smtp_port: int) -> dict[str, str]:
    """What `make demo` turns on in its worker (streams/dev/demo.py, run_demo): the default plug-ins plus the live
    feeds, role tokens, signed links, a users file, the metrics token; delivery by e-mail to the loopback server."""
    from streams.dev.demo import demo_people, demo_tokens
    from streams.dev.demo_feeds import DemoFeeds

    folder.mkdir(parents=True, exist_ok=True)
    users_file, _ = demo_people(folder)
    tokens = demo_tokens(settings)
    feeds = dataclasses.replace(DemoFeeds.plan(lines, folder), mllp_port=free_port())  # 2575 may be taken here
    return {
        "SAFETY_NOTIFY_CONFIG": str(apprise_config(folder, smtp_port)),
        "SAFETY_AUTH__TOKENS": ",".join(f"{role}:{token}" for role, token in tokens.items()),
        "SAFETY_AUTH__LINK_SECRET": secrets.token_urlsafe(32),
        "SAFETY_USERS_FILE": str(users_file),
        "SAFETY_METRICS_TOKEN": secrets.token_urlsafe(32),
        **feeds.worker_env(settings),
    }


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]

    def metrics(self) -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/metrics",
            headers={"Authorization": f"Bearer {self.env.get('SAFETY_METRICS_TOKEN', '')}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        """SIGTERM; the worker bounds its clean stop at SAFETY_SHUTDOWN_SECONDS (30 s), then exits with 75."""
        self.process.terminate()
        started = time.monotonic()
        try:
            self.process.wait(45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        stopped = time.monotonic() - started
        print(f"  (worker stopped {stopped:.1f} s after SIGTERM, exit code {self.process.returncode})", flush=True)


def launch(settings: Settings, log: Path, extra: dict[str, str] | None) -> Launched:
    """Our worker (``extra``: worker_env) or, with ``extra`` None, the pass-through, on ``settings``' topics."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFETY_")}
    env.update({f"SAFETY_TOPIC_{k.upper()}": v for k, v in settings.topics.names().items()})
    env.update(
        SAFETY_KAFKA_BOOTSTRAP=settings.kafka.bootstrap or "",
        SAFETY_APP_ID=settings.kafka.app_id,
        SAFETY_EMBEDDED_WORKAROUNDS="1",
        SAFETY_WEB_PORT=str(port),
        SAFETY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        SAFETY_DATA_DIR=str(settings.worker.data_dir),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra or {})
    cmd = (
        [sys.executable, __file__, "--passthrough-worker"]
        if extra is None
        else [sys.executable, "-m", "streams.worker.run", "--loglevel", "warn"]
    )
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Launched(process, port, env)


def consumer(settings: Settings, topics: Sequence[str]) -> Any:
    """A group-less consumer of every partition of ``topics`` from the beginning."""
    from kafka import KafkaConsumer, TopicPartition

    reader = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
    )
    parts = [TopicPartition(topic, p) for topic in topics for p in range(settings.kafka.partitions)]
    reader.assign(parts)
    reader.seek_to_beginning(*parts)
    return reader


def output_records(settings: Settings, expected: int, timeout: float, process: subprocess.Popen[bytes]) -> list[Any]:
    """Read the graded topic until ``expected`` records arrived, or 3 s without news after 99 % of them."""
    reader = consumer(settings, [settings.topics.graded])
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    last_news = time.monotonic()
    while len(records) < expected and time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the worker exited with code {process.returncode}: see /tmp/stream-bench-*.log")
        if len(records) >= 0.99 * expected and time.monotonic() - last_news > 3:
            break
        for batch in reader.poll(200).values():
            records.extend(batch)
            last_news = time.monotonic()
    reader.close()
    return records


def read_all(settings: Settings, topics: Sequence[str], idle_polls: int = 5) -> list[Any]:
    """Every record of ``topics`` so far (until ``idle_polls`` polls in a row bring nothing)."""
    reader = consumer(settings, topics)
    found: list[Any] = []
    idle = 0
    while idle < idle_polls:
        polled = reader.poll(200)
        idle = 0 if polled else idle + 1
        for batch in polled.values():
            found.extend(batch)
    reader.close()
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): robust to other load on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- 1 and 2: overhead against the pass-through ---------------------------------------------------------------
def throughput(
    bootstrap: str, lines: list[bytes], ours: Path | None, tag: str, expected: int, smtp_port: int
) -> dict[str, float]:
    """One run of our worker (``ours``: its folder) or of the pass-through (None) over the pre-loaded ``lines``."""
    settings = scoped(bootstrap, tag)
    create_topics(settings)
    produce_lines(settings, lines)
    launched = time.time()
    extra = None if ours is None else worker_env(settings, lines, ours, smtp_port)
    worker = launch(settings, Path(f"/tmp/stream-bench-{tag}.log"), extra)
    try:
        records = output_records(settings, expected, 1200, worker.process)
        cpu = cpu_seconds(worker.process.pid)
    finally:
        worker.stop()
    stamps = sorted(r.timestamp / 1000 for r in records)
    events = len(lines) * len(records) / expected  # the share of the input the outputs stand for
    return {
        "records": len(records),
        "rate": (events - 1) / max(1e-9, stamps[-1] - stamps[0]),
        "first_output_s": stamps[0] - launched,
        "cpu_ms_per_event": 1000 * cpu / max(1, events),
    }


def graded_rows(lines: list[bytes]) -> int:
    """Graded rows ``safety replay`` gives for ``lines``: the worker's output count when it has processed all."""
    from safety.replay import replay
    from streams.rulefiles import load_ruleset

    return sum(1 for kind, _ in replay(lines, load_ruleset()) if kind == "graded")


def overhead_line(base_cpu: float, our_cpu: float) -> str:
    ratio = our_cpu / base_cpu
    verdict = "met" if ratio <= OVERHEAD_GOAL else "not met"
    return (
        f"CPU per event: pass-through {base_cpu:.3f} ms, our worker {our_cpu:.3f} ms; ratio worker/pass-through "
        f"{ratio:.2f} x (goal <= {OVERHEAD_GOAL} x: {verdict})"
    )


def compare(bootstrap: str, lines: list[bytes], repeat: int, folder: Path, smtp_port: int) -> None:
    """Pass-through baseline and our worker, alternating, on the same broker and faust settings.

    Single runs on a small shared virtual machine vary by 10-20%, so each is run ``repeat`` times and the ratio is
    taken between the medians.
    """
    expected = graded_rows(lines)
    base_runs, our_runs = [], []
    for n in range(repeat):
        base = throughput(bootstrap, lines, None, f"passthrough{n}", len(lines), smtp_port)
        ours = throughput(bootstrap, lines, folder / f"worker{n}", f"worker{n}", expected, smtp_port)
        base_runs.append(base)
        our_runs.append(ours)
        if ours["records"] < 0.99 * expected:
            print(f"run {n + 1}: our worker gave {ours['records']} of {expected} graded rows in time", flush=True)
        print(
            f"run {n + 1}: pass-through {base['rate']:.0f} events/s, {base['cpu_ms_per_event']:.3f} ms CPU/event; "
            f"our worker {ours['rate']:.0f} events/s, {ours['cpu_ms_per_event']:.3f} ms CPU/event "
            f"({ours['records']} graded rows as replay)",
            flush=True,
        )
    base_rate, our_rate = median(r["rate"] for r in base_runs), median(r["rate"] for r in our_runs)
    first = median(r["first_output_s"] for r in our_runs)
    print(
        f"medians of {repeat}: pass-through {base_rate:.0f} events/s, our worker {our_rate:.0f} events/s "
        f"({our_rate / base_rate:.2f} by rate); worker first output {first:.1f} s after launch (goal < 10 s)",
        flush=True,
    )
    print(
        f"medians of {repeat}: "
        + overhead_line(
            median(r["cpu_ms_per_event"] for r in base_runs), median(r["cpu_ms_per_event"] for r in our_runs)
        ),
        flush=True,
    )


# --- 3: seconds from a result to a person ---------------------------------------------------------------------
def _event(**fields: Any) -> bytes:
    return json.dumps({"study_id": STUDY, **fields}, separators=(",", ":")).encode()


def probe_events(n: int, now: datetime) -> tuple[list[bytes], bytes]:
    """Probe ``n``'s set-up events (enrollment, and an infusion before a lab) and its trigger, recorded ``now``: an
    SAE for odd ``n``, a grade 4 neutrophil count on study day 1 (POTENTIAL_SAE) for even ``n``; a fresh subject
    each. Dated now, so no report is overdue and no escalation adds messages."""
    subject = f"AA-{PROBE_SUBJECT_BASE + n}"

    def at(hours_before: float) -> str:
        return (now - timedelta(hours=hours_before)).isoformat(timespec="seconds")

    setup = [
        _event(
            type="enrollment",
            event_id=f"{subject}-ENR",
            subject_id=subject,
            occurred_at=at(72),
            recorded_at=at(71),
            source="EDC",
            sex="F",
            age=40,
            severity="SAA",
        )
    ]
    if n % 2:
        return setup, _event(
            type="adverse_event",
            event_id=f"{subject}-AE",
            subject_id=subject,
            occurred_at=at(5),
            recorded_at=at(0),
            source="EDC",
            term="pneumonia",
            ctcae_term="Lung infection",
            grade=3,
            serious=["hospitalization"],
            causality="unlikely",
            expected=True,
            outcome="recovering",
        )
    setup.append(
        _event(
            type="infusion",
            event_id=f"{subject}-INF",
            subject_id=subject,
            occurred_at=at(26),
            recorded_at=at(25),
            source="EDC",
            infusion_number=1,
            dose_per_kg=1000000.0,
            lot="UCMSC-2607-03",
        )
    )
    return setup, _event(
        type="lab",
        event_id=f"{subject}-L",
        subject_id=subject,
        occurred_at=at(3),
        recorded_at=at(0),
        source="LIS",
        test="NEUT",
        value=0.31,
        unit="10^9/L",
        ref_low=1.8,
        ref_high=6.3,
    )


def timed_load(background: list[bytes], rate: float, seconds: float, probes: float) -> tuple[list[bytes], list[bytes]]:
    """The probes' set-up events, and ``rate * seconds`` events with a probe trigger every ``rate / probes``."""
    total = int(rate * seconds)
    every = max(1, round(rate / probes)) if probes > 0 else total + 1
    triggers = total // every
    if total - triggers > len(background):
        raise SystemExit(
            f"the trial has {len(background)} events, fewer than {rate:.0f}/s for {seconds:.0f} s: "
            "raise --subjects or lower --seconds"
        )
    setup: list[bytes] = []
    load: list[bytes] = []
    feed = iter(background)
    now = datetime.now(timezone(timedelta(hours=8)))
    for position in range(total):
        if position % every == every - 1:
            before, trigger = probe_events(len(load) // every + 1, now)
            setup.extend(before)
            load.append(trigger)
        else:
            load.append(next(feed))
    return setup, load


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def summary(values_ms: Sequence[float]) -> str:
    ordered = sorted(values_ms)
    if not ordered:
        return "no samples"
    return (
        f"p50 {percentile(ordered, 0.5):.0f} ms, p99 {percentile(ordered, 0.99):.0f} ms, max {ordered[-1]:.0f} ms "
        f"({len(ordered)} messages)"
    )


@dataclass(frozen=True)
class Histogram:
    count: float
    total: float
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count)

    def bound(self, q: float) -> float:
        """The upper bound of the bucket that holds the ``q`` quantile."""
        return next((le for le, n in self.buckets if n >= q * self.count), math.inf)


def stage_histograms(metrics: str, name: str = "safety_alert_stage_seconds") -> dict[str, Histogram]:
    """Per ``stage`` label, the histogram ``name`` of a Prometheus text exposition."""
    raw: dict[str, dict[str, Any]] = {}
    for line in metrics.splitlines():
        if not line.startswith(name) or "{" not in line:
            continue
        series, value = line.rsplit(" ", 1)
        labels = dict(
            part.split("=", 1) for part in series[series.index("{") + 1 : series.rindex("}")].split(",") if part
        )
        labels = {k: v.strip('"') for k, v in labels.items()}
        entry = raw.setdefault(labels.get("stage", ""), {"count": 0.0, "sum": 0.0, "buckets": []})
        if series.startswith(name + "_bucket"):
            entry["buckets"].append((float(labels["le"]), float(value)))
        elif series.startswith(name + "_count"):
            entry["count"] = float(value)
        elif series.startswith(name + "_sum"):
            entry["sum"] = float(value)
    return {stage: Histogram(e["count"], e["sum"], tuple(sorted(e["buckets"]))) for stage, e in raw.items() if stage}


def breakdown(samples: dict[str, list[float]], histograms: dict[str, Histogram]) -> list[str]:
    """One line per stage: mean, p50 and p99 in ms (the worker's own stages from its histogram: bucket bounds)."""
    lines = [f"  {'stage':<58}{'mean':>8}{'p50':>9}{'p99':>9}"]
    for stage, label in STAGES:
        if stage in histograms:
            h = histograms[stage]
            if not h.count:
                continue
            lines.append(
                f"  {label:<58}{1000 * h.total / h.count:>6.1f}ms{'<=' + _ms(h.bound(0.5)):>9}"
                f"{'<=' + _ms(h.bound(0.99)):>9}"
            )
        elif samples.get(stage):
            ordered = sorted(samples[stage])
            lines.append(
                f"  {label:<58}{mean(ordered):>6.1f}ms{percentile(ordered, 0.5):>7.0f}ms"
                f"{percentile(ordered, 0.99):>7.0f}ms"
            )
    return lines


def _ms(seconds: float) -> str:
    return "inf" if math.isinf(seconds) else f"{1000 * seconds:.0f}ms"


@dataclass
class Journey:
    """One message: the alert, its recipient and the wall-clock moments it passed (seconds since the epoch)."""

    kind: str
    lab: bool
    moments: dict[str, float]

    def spans_ms(self) -> dict[str, float]:
        order = ["alert", "command", "ledger", "ehlo", "accepted"]  # event -> alert: the worker's own stages
        names = ["router", "ledger", "apprise", "smtp"]
        return {name: 1000 * (self.moments[b] - self.moments[a]) for name, a, b in zip(names, order, order[1:])}

    @property
    def total_ms(self) -> float:
        return 1000 * (self.moments["accepted"] - self.moments["event"])


def journeys(settings: Settings, inbox: Inbox, measured: set[str]) -> list[Journey]:
    """Join the SMTP server's messages to the stream's records by delivery id (streams/worker/delivery.py)."""
    from safety.delivery.ledger import ALERT_MESSAGE, LedgerEntry
    from streams.worker.delivery import delivery_id

    t = settings.topics
    records = read_all(settings, [t.events, t.alerts, t.delivery_commands, t.deliveries])
    produced: dict[str, tuple[float, str]] = {}
    alerts: dict[str, tuple[dict[str, Any], float]] = {}
    commands: dict[str, float] = {}
    opened: dict[str, float] = {}
    by_delivery: dict[str, str] = {}
    for record in records:
        at = record.timestamp / 1000
        if record.topic == t.events:
            event = json.loads(record.value)
            produced[event["event_id"]] = (at, event["type"])
        elif record.topic == t.alerts:
            alert = json.loads(record.value)
            alerts.setdefault(alert["alert_id"], (alert, at))
        elif record.topic == t.delivery_commands:
            command = json.loads(record.value)
            if command.get("type") == "alert":
                commands.setdefault(command["alert"]["alert_id"], at)
        elif record.topic == t.deliveries and record.value:
            entry = LedgerEntry.model_validate_json(record.value)
            opened.setdefault(entry.alert_id, at)
            for d in entry.deliveries:
                if d.message == ALERT_MESSAGE:
                    by_delivery[delivery_id(entry.alert_id, d.key)] = entry.alert_id
    found = []
    for ident, ehlo, accepted in inbox.accepted:
        alert_id = by_delivery.get(ident)
        if alert_id is None or alert_id not in alerts or alert_id not in commands:
            continue
        alert, alert_at = alerts[alert_id]
        triggers = [produced[e] for e in alert["event_ids"] if e in produced and e in measured]
        if not triggers:
            continue
        event_at, event_type = max(triggers)
        lab = event_type == "lab"
        if not (lab or alert["kind"] in SAE_KINDS):
            continue
        moments = {
            "event": event_at,
            "alert": alert_at,
            "command": commands[alert_id],
            "ledger": opened[alert_id],
            "ehlo": ehlo,
            "accepted": accepted,
        }
        found.append(Journey(alert["kind"], lab, moments))
    return found


def caught_up(settings: Settings, ends: dict[int, int], process: subprocess.Popen[bytes], limit: float = 900) -> None:
    """Wait until the worker committed every event produced (``ends``: partition -> end offset)."""
    from streams.admin import admin_client, committed_offsets

    admin = admin_client(settings)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and process.poll() is None:
            done = committed_offsets(admin, settings.kafka.app_id, settings.topics.events)
            if all(done.get(p, 0) >= end for p, end in ends.items()):
                return
            time.sleep(1)
    finally:
        admin.close()


def settle(inbox: Inbox, quiet: float = 5.0, limit: float = 180.0) -> None:
    """Wait until no message arrived for ``quiet`` seconds (or ``limit`` passed): the worker caught up."""
    deadline = time.monotonic() + limit
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with inbox.lock:
            count = len(inbox.accepted)
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(0.5)


def latency(
    bootstrap: str, lines: list[bytes], args: argparse.Namespace, folder: Path, inbox: Inbox, smtp_port: int
) -> tuple[list[Journey], dict[str, Histogram]]:
    """The timed load through our worker; each message the inbox got, joined to the stream's records."""
    settings = scoped(bootstrap, "latency")
    create_topics(settings)
    worker = launch(settings, Path("/tmp/stream-bench-latency.log"), worker_env(settings, lines, folder, smtp_port))
    try:
        setup, load = timed_load(lines, args.rate, args.seconds, args.probes)
        produce_lines(settings, setup)  # the probe subjects exist before the clock runs
        output_records(settings, 1, 60, worker.process)  # the worker is up and assigned
        time.sleep(2)
        ends = produce_lines(settings, load, rate=args.rate)
        measured = {json.loads(line)["event_id"] for line in load}
        caught_up(settings, ends, worker.process)
        settle(inbox)  # the last messages of the load go out
        stages = stage_histograms(worker.metrics())
        found = journeys(settings, inbox, measured)
    finally:
        worker.stop()
    return found, stages


def latency_report(found: list[Journey], stages: dict[str, Histogram], rate: float, seconds: float) -> list[str]:
    totals = [j.total_ms for j in found]
    ordered = sorted(totals)
    p99 = percentile(ordered, 0.99) if ordered else math.inf
    spans: dict[str, list[float]] = {}
    for journey in found:
        for name, value in journey.spans_ms().items():
            spans.setdefault(name, []).append(value)
    return [
        f"result -> message accepted by SMTP, at {rate:.0f} events/s for {seconds:.0f} s "
        f"(goal p99 < {LATENCY_GOAL_MS:.0f} ms: {'met' if p99 < LATENCY_GOAL_MS else 'not met'}):",
        f"  SAE and lab-triggered: {summary(totals)}",
        f"  SAE/SUSAR:             {summary([j.total_ms for j in found if j.kind in SAE_KINDS and not j.lab])}",
        f"  lab-triggered:         {summary([j.total_ms for j in found if j.lab])}",
        "where the time goes (the worker's stages cover every alert it emitted; the rest are these messages):",
        *breakdown(spans, stages),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.passthrough_worker:
        passthrough_worker()
        return 0
    from aiosmtpd.controller import Controller

    from streams.dev.demo import demo_lines

    lines = demo_lines(args.subjects, None)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with embedded_broker() as broker, tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
            folder = Path(tmp)
            if not args.latency_only:
                compare(broker.bootstrap, lines, args.repeat, folder, smtp.port)
            if not args.overhead_only:
                load_before = os.getloadavg()[0]
                found, stages = latency(broker.bootstrap, lines, args, folder / "latency", inbox, smtp.port)
                print("\n".join(latency_report(found, stages, args.rate, args.seconds)), flush=True)
                print(
                    f"machine load average (1 min) before and after the latency run: {load_before:.1f}, "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                    flush=True,
                )
    finally:
        smtp.stop()
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subjects", type=int, default=48, help="subjects of the synthetic trial (default 48)")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s of the latency run (default 500)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run (default 30)")
    parser.add_argument("--probes", type=float, default=4.0, help="probe alerts per second in it (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="overhead runs of each (medians are compared)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--latency-only", action="store_true", help="skip the overhead runs")
    only.add_argument("--overhead-only", action="store_true", help="skip the latency run")
    parser.add_argument("--passthrough-worker", action="store_true", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    sys.exit(main())
