"""`safety demo` (what `make demo` runs): the synthetic trial through the real stream, end to end.

Without SAFETY_KAFKA_BOOTSTRAP it starts the embedded Tansu broker on a free loopback port (streams.dev.broker),
creates the topics, starts `safety worker` as a subprocess (the production shape), produces the synthetic 48-subject
trial (streams.dev.synthetic) keyed by subject_id, a few subjects of it through the live adapters (HL7 v2 over MLLP,
FHIR, /events: streams.dev.demo_feeds), prints every alert as the stream emits it, and writes OUT/events.jsonl (the
events topic read back, one record per line: what replay must reproduce the alerts from, checked at the end) and
OUT/alerts.jsonl (exactly the alert records read from safety.model.outputs). It stops once the worker has committed
every input event and every study signal (so all alerts are out), its heartbeat (every ``HEARTBEAT_S``) has checked
the expected data since, the late results (``late_result``, sent after that check) have been processed and checked
likewise, and the delivery ledger (safety.deliveries, read
here) shows every (alert, recipient) delivery final, or keeps running with --serve. The closing summary counts
delivered, failed and pending messages; the exit status is 1 while a message of an SAE, SUSAR, DLT or
STOPPING_BOUNDARY is pending when DELIVERY_DEADLINE_S runs out. With the local sink it also checks
OUT/outbox/outbox.jsonl against OUT/alerts.jsonl (``outbox_check``). Logs: OUT/worker.log, OUT/broker.log.

The trial's calendar is moved by whole days so its last data arrive now (streams.dev.synthetic.anchored_start). The
pages are on one port on every run (``--port``, else SAFETY_WEB_PORT, 6066; a taken port is refused with what to
do), and the run ends by printing how each role signs in: its page, its user name and OUT/access.txt, the owner-only
file holding this run's passwords and tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click

from safety.delivery.ledger import Tally
from safety.vocab import ROLES
from streams.dev.broker import free_port, start_broker
from streams.settings import Settings, reveal

DEADLINE_S = 600.0  # a hang guard; the demo is meant to take < 3 min on 2 cores, measured ~85-120 s here
DELIVERY_DEADLINE_S = 300.0  # a hang guard for the delivery stage after the last alert (a dead channel)
SETTLED_S = 1.0  # every delivery final for this long: the run's messages are all out
HEARTBEAT_S = 5.0  # the demo's heartbeat interval (SAFETY_EXPECTED_CHECK_SECONDS, 60 in production), at most
# A result recorded later than this after its draw is sent after the others (``late_result``): the scripted late
# results (streams.dev.synthetic.LATE_RESULTS, 9 days). An outside laboratory's 2-6 days are sent in order: they are
# within the +-7-day windows and 2-day grace of the visits after day 28 (rules/studies), so a laboratory sending in
# real time would never have made them overdue, and holding them back raised DATA_OVERDUE no one would have seen.
LATE_DAYS = 7


class DemoError(RuntimeError):
    """The demo could not finish; the message names the log to read."""


def demo_lines(subjects: int, seed: int | None, start: datetime | None = None) -> list[bytes]:
    """The synthetic trial as JSON lines (one event per line, compact, in the generator's order); ``start`` moves its
    calendar (streams.dev.synthetic.anchored_start), the default is the generator's fixed one."""
    from streams.dev.synthetic import DEFAULT_SEED, generate_trial

    events = generate_trial(subjects=subjects, seed=DEFAULT_SEED if seed is None else seed, start=start)
    return [json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() for event in events]


def alert_line(alert: dict[str, Any]) -> str:
    """One readable line per alert: subject, study day, kind, rule, term, grade, due."""
    due = alert.get("report_due_at")
    due_text = datetime.fromisoformat(due).strftime("%Y-%m-%d %H:%M%z") if due else "-"
    grade = alert.get("grade")
    day = alert.get("study_day")
    term = alert.get("ctcae_term") or alert.get("reason") or ""
    return (
        f"{alert.get('subject_id', '?'):<8} day {'-' if day is None else day:>4}  {alert.get('kind', ''):<18}"
        f"{alert.get('rule_id', ''):<21}{term[:38]:<39}{'G' + str(grade) if grade else '  '}  due {due_text}"
    )


@dataclass
class OutboxTail:
    """Prints each message the worker's local sink delivered (OUT/outbox/outbox.jsonl) as it appears."""

    path: Path
    printer: Any = print
    offset: int = 0
    delivered: int = 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a line still being written
                self.offset += len(line)
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    self.delivered += 1
                    self.printer(f"    -> {message.get('recipient', '?'):<14} {message.get('title', '')}")


def demo_tokens(settings: Settings) -> dict[str, str]:
    """Role -> token for the run's pages (SAFETY_AUTH_TOKENS wins); random, never written to disk."""
    configured = settings.auth.role_tokens()
    if configured:
        return {role: token for token, role in configured.items()}
    return {role: secrets.token_urlsafe(32) for role in ROLES}  # >= 32 characters (streams/web/auth.py)


def web_port(settings: Settings, port: int | None = None) -> int:
    """The pages' port: ``port`` (``--port``), else the worker's own (SAFETY_WEB_PORT, 6066), the same on every run
    so the links of an earlier run and `safety ack`'s default --url still reach it; 0 takes any free port.

    A taken port is refused with what to do, never silently replaced: a moved port breaks every printed link."""
    wanted = settings.web.port if port is None else port
    if wanted == 0:
        return free_port()
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            raise DemoError(
                f"port {wanted} is taken (another `safety demo --serve` or worker? `ss -ltnp 'sport = :{wanted}'` "
                f"names it); stop it, or choose another port: `safety demo --port {wanted + 1}` "
                f"(`make demo DEMO_ARGS='--port {wanted + 1}'`, or SAFETY_WEB_PORT={wanted + 1}); --port 0 takes any "
                "free port"
            ) from None
    return wanted


DEMO_PEOPLE = (("officer", "safety_officer"), ("pi", "pi"), ("ethics", "ethics"))


def demo_people(out: Path) -> tuple[Path, dict[str, str]]:
    """A users file with one person per role (OUT/users.yaml, argon2 hashes) and their one-run passwords.

    The pages take no credential in a URL (streams/web/guard.py): a person signs in at /login. The demo's people
    are made up for each run, so the passwords open only this demo's worker.
    """
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    passwords = {name: secrets.token_urlsafe(12) for name, _ in DEMO_PEOPLE}
    lines = ["users:"] + [
        f"  - {{name: {name}, roles: [{role}], studies: ['*'], password_hash: '{hasher.hash(passwords[name])}'}}"
        for name, role in DEMO_PEOPLE
    ]
    path = out / "users.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, passwords


ACCESS_FILE = "access.txt"
ROLE_NAMES = {"safety_officer": "safety officer", "pi": "PI", "ethics": "ethics committee"}
LANDING = {"safety_officer": "/overview", "pi": "/alerts", "ethics": "/ethics"}


def write_access(out: Path, passwords: dict[str, str], tokens: dict[str, str], metrics_token: str) -> Path:
    """OUT/access.txt, readable by its owner only: each person's password, each role's token for scripts and the
    scrape token. The terminal shows where it is, not what it holds (a terminal is shared, scrolled and logged)."""
    path = out / ACCESS_FILE
    lines = [
        "# safety demo: this run's credentials (new on every run; they open only this demo's worker)",
        *(f"password {name:<8} {passwords[name]}" for name, _ in DEMO_PEOPLE),
        *(f"token    {role:<14} {token}   (Authorization: Bearer ...)" for role, token in tokens.items()),
        f"token    metrics        {metrics_token}   (GET /metrics)",
    ]
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ways_in(base: str, access: Path) -> list[str]:
    """How each role gets in: its page, its user name, where its password is; then what scripts use."""
    return [
        *(
            f"{ROLE_NAMES[role] + ':':<18} {base}/login?next={LANDING[role]}  user {name!r}, password in {access}"
            for name, role in DEMO_PEOPLE
        ),
        f"{'scripts:':<18} role tokens and the metrics token in {access} (Authorization: Bearer <token>)",
        f"{'safety summary:':<18} {base}/reports/safety-summary.html and .pdf (every role)",
    ]


@dataclass
class Watcher:
    """Reads safety.alerts from the start, and the study topic's end offsets, with a group-less consumer."""

    settings: Settings
    sink: IO[bytes]
    printer: Any = print
    alerts: int = 0
    consumer: Any = None
    study_partitions: Any = None
    grades: Counter[str] = field(default_factory=Counter)  # graded observations by grade, from safety.graded
    alerts_by_id: dict[str, bytes] = field(default_factory=dict)
    ledger: dict[str, bytes] = field(default_factory=dict)  # alert_id -> its latest LedgerEntry (safety.deliveries)

    def __post_init__(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers(),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            client_id="safety-demo",
        )

        def partitions(topic: str) -> list[Any]:
            return [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or [])]

        self.study_partitions = partitions(self.settings.topics.study)
        parts = (
            partitions(self.settings.topics.alerts)
            + partitions(self.settings.topics.graded)
            + partitions(self.settings.topics.deliveries)
        )
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)

    def poll(self, timeout_ms: int = 200) -> None:
        for tp, records in self.consumer.poll(timeout_ms).items():
            if tp.topic == self.settings.topics.graded:
                for record in records:
                    with contextlib.suppress(ValueError):
                        grade = json.loads(record.value).get("grade")
                        self.grades["null" if grade is None else f"G{grade}"] += 1
                continue
            if tp.topic == self.settings.topics.deliveries:
                for record in records:
                    if record.key is not None and record.value is not None:
                        self.ledger[record.key.decode()] = record.value
                continue
            for record in records:
                self.sink.write(record.value + b"\n")
                self.sink.flush()
                self.alerts += 1
                with contextlib.suppress(ValueError):
                    alert = json.loads(record.value)
                    self.alerts_by_id[str(alert.get("alert_id"))] = record.value
                    self.printer(alert_line(alert))

    def deliveries(self) -> Tally:
        """Where the deliveries of every alert read so far stand; an alert with no ledger entry yet counts as
        pending for each of its recipients (safety.delivery.ledger.tally)."""
        from safety.delivery.ledger import LedgerEntry, tally
        from safety.model.outputs import Alert

        entries = []
        for alert_id, raw_alert in self.alerts_by_id.items():
            raw = self.ledger.get(alert_id)
            if raw is not None:
                entries.append(LedgerEntry.model_validate_json(raw))
            else:
                alert = Alert.model_validate_json(raw_alert)
                entries.append(LedgerEntry(alert=alert, opened_at=alert.raised_at))
        return tally(entries)

    def study_end_offsets(self) -> dict[Any, int]:
        """End offsets of the study topic (correct on Tansu only with one record per batch: app.py)."""
        return dict(self.consumer.end_offsets(self.study_partitions))

    def close(self) -> None:
        self.consumer.close()


def start_worker(
    settings: Settings, log: Path, web_port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m streams.worker.run` with the demo's settings in its environment, in the nested form
    (``SAFETY_KAFKA__BOOTSTRAP``), which wins over the documented variables the demo inherits."""
    env = dict(
        os.environ,
        SAFETY_KAFKA__BOOTSTRAP=settings.kafka.bootstrap or "",
        SAFETY_WEB__PORT=str(web_port),
        SAFETY_WORKER__DATA_DIR=str(settings.worker.data_dir),
        SAFETY_WORKER__STORE=settings.worker.store,
        **(extra_env or {}),
    )
    if settings.kafka.embedded_workarounds:
        env["SAFETY_KAFKA__EMBEDDED_WORKAROUNDS"] = "1"
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.worker.run", "--loglevel", "warn"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def caught_up(admin: Any, settings: Settings, events_end: dict[int, int], watcher: Watcher) -> bool:
    """True once the worker's group committed every produced event and then every study signal.

    A subject event's study signals are acknowledged by the broker before its offset can be committed
    (streams.worker.ingest), so once the events are committed the study topic's end offsets are final.
    """
    from streams.admin import committed_offsets

    done_events = committed_offsets(admin, settings.kafka.app_id, settings.topics.events)
    if not all(done_events.get(p, 0) >= end for p, end in events_end.items()):
        return False
    done_study = committed_offsets(admin, settings.kafka.app_id, settings.topics.study)
    return all(done_study.get(tp.partition, 0) >= end for tp, end in watcher.study_end_offsets().items())


@contextlib.contextmanager
def broker_for(settings: Settings, out: Path) -> Iterator[Settings]:
    """The configured broker, or an embedded one for the duration (with the Tansu workarounds on)."""
    if settings.kafka.bootstrap:
        yield settings
        return
    broker = start_broker(log_path=out / "broker.log")
    try:
        yield settings.updated(kafka={"bootstrap": broker.bootstrap, "embedded_workarounds": True})
    finally:
        broker.stop()


def late_result(line: bytes) -> bool:
    """A laboratory result recorded more than ``LATE_DAYS`` after its draw. The demo sends these after the
    heartbeat has checked the rest, as a laboratory that sends them late would: the DATA_OVERDUE they complete is
    raised first and then withdrawn, reason "received" (streams/worker/heartbeat.py)."""
    if b'"type":"lab"' not in line:
        return False
    event = json.loads(line)
    recorded = event.get("recorded_at")
    if not recorded:
        return False
    delay = datetime.fromisoformat(recorded) - datetime.fromisoformat(event["occurred_at"])
    return delay > timedelta(days=LATE_DAYS)


def heartbeat_s(settings: Settings) -> float:
    """The worker's heartbeat interval in the demo: short, so its DATA_OVERDUE show before the demo ends."""
    return min(settings.worker.expected_check_seconds, HEARTBEAT_S)


def settle_heartbeat(watcher: Watcher, outbox: OutboxTail, interval: float) -> None:
    """Read alerts for two heartbeat intervals after the stream caught up: one run of the timer has then seen every
    subject's whole data (streams/worker/heartbeat.py), and its DATA_OVERDUE are printed with the others."""
    until = time.monotonic() + 2 * interval + 1
    while time.monotonic() < until:
        watcher.poll()
        outbox.poll()


@dataclass(frozen=True)
class DemoResult:
    alerts: int
    deliveries: Tally


def wait_for_deliveries(watcher: Watcher, outbox: OutboxTail, worker: subprocess.Popen[bytes], out: Path) -> Tally:
    """Wait until every (alert, recipient) delivery is final in the ledger and stays so for SETTLED_S (a
    DELIVERY_FAILED notice raised by the last failure is then read too), or DELIVERY_DEADLINE_S has passed."""
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    final_since: float | None = None
    while True:
        watcher.poll()
        outbox.poll()
        counts = watcher.deliveries()
        now = time.monotonic()
        final_since = (final_since or now) if counts.final else None
        if (final_since is not None and now - final_since >= SETTLED_S) or now > deadline:
            return counts
        if worker.poll() is not None:
            raise DemoError(f"the worker exited with code {worker.returncode}; see {out / 'worker.log'}")


@dataclass(frozen=True)
class OutboxCheck:
    """Every (alert, recipient) pair of OUT/alerts.jsonl against the local sink's OUT/outbox/outbox.jsonl."""

    alerts: int
    pairs: int
    once: int
    missing: list[str]
    duplicated: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated

    def line(self) -> str:
        return (
            f"outbox check: {self.alerts} alerts, {self.pairs} (alert, recipient) pairs, {self.once} with exactly "
            f"one message, {len(self.missing)} missing, {len(self.duplicated)} duplicated"
            + "".join(f"\n  missing: {pair}" for pair in self.missing)
            + "".join(f"\n  duplicated: {pair}" for pair in self.duplicated)
        )


def outbox_check(out: Path) -> OutboxCheck:
    """Each pair's message is found by its delivery id (streams.worker.delivery.delivery_id of the alert message to
    the recipient's local channel), so the check does not rely on titles."""
    from safety.delivery.ledger import ALERT_MESSAGE, delivery_key
    from streams.worker.delivery import delivery_id

    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines() if line]
    path = out / "outbox" / "outbox.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    seen = Counter(json.loads(line).get("delivery_id") for line in lines if line.strip())
    pairs = {
        f"{alert['alert_id']} {alert['kind']} {alert['subject_id']} -> {recipient}": delivery_id(
            alert["alert_id"], delivery_key(ALERT_MESSAGE, f"{recipient}:local")
        )
        for alert in alerts
        for recipient in alert["recipients"]
    }
    return OutboxCheck(
        alerts=len({alert["alert_id"] for alert in alerts}),
        pairs=len(pairs),
        once=sum(1 for ident in pairs.values() if seen[ident] == 1),
        missing=sorted(pair for pair, ident in pairs.items() if seen[ident] == 0),
        duplicated=sorted(pair for pair, ident in pairs.items() if seen[ident] > 1),
    )


def run_demo(
    out: Path,
    subjects: int = 48,
    seed: int | None = None,
    serve: bool = False,
    settings: Settings | None = None,
    printer: Any = print,
    port: int | None = None,
) -> DemoResult:
    """The whole demo; returns the number of alerts the stream emitted and where their deliveries stand.

    The trial's calendar is anchored to the wall clock (streams.dev.synthetic.anchored_start): its last data
    arrive now, so nothing is raised in the future. OUT/events.jsonl holds the dates as streamed, so replaying it
    gives the same alerts on any later day."""
    from streams.admin import admin_client, create_topics, produce_lines
    from streams.dev import demo_feeds
    from streams.dev.synthetic import DEFAULT_SEED, anchored_start

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    base = (settings or Settings.load()).updated(worker={"data_dir": out / "worker-data"})
    web = web_port(base, port)  # before anything starts: a taken port is the first thing said
    start = anchored_start(datetime.now(UTC), subjects, DEFAULT_SEED if seed is None else seed)
    lines = demo_lines(subjects, seed, start)
    feeds = demo_feeds.DemoFeeds.plan(lines, out)  # a few subjects go through the HL7, FHIR and JSON adapters
    outbox = out / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)  # this run's deliveries only (the broker starts empty too)
    tokens = demo_tokens(base)
    users_file, passwords = demo_people(out)
    metrics_token = reveal(base.auth.metrics_token) or secrets.token_urlsafe(32)
    access = write_access(out, passwords, tokens, metrics_token)
    with broker_for(base, out) as settings, open(out / "alerts.jsonl", "wb") as sink:
        create_topics(settings)
        base_url = f"http://127.0.0.1:{web}"
        worker = start_worker(
            settings,
            out / "worker.log",
            web,
            {
                "SAFETY_DELIVERY__OUTBOX_DIR": str(outbox),
                "SAFETY_AUTH__TOKENS": ",".join(f"{role}:{token}" for role, token in tokens.items()),
                "SAFETY_AUTH__LINK_SECRET": reveal(base.auth.link_secret) or secrets.token_urlsafe(32),
                "SAFETY_WEB__PUBLIC_URL": base.web.public_url or base_url,
                "SAFETY_USERS_FILE": str(users_file),
                "SAFETY_METRICS_TOKEN": metrics_token,
                "SAFETY_WORKER__EXPECTED_CHECK_SECONDS": str(heartbeat_s(base)),
                **feeds.worker_env(settings),
            },
        )
        if base.delivery.notify_config is None:
            printer(
                f"delivery: SAFETY_NOTIFY_CONFIG is not set, so messages go to the local sink "
                f"{outbox / 'outbox.jsonl'} (shown below as '->')"
            )
        watcher = Watcher(settings, sink, printer)
        deliveries = OutboxTail(outbox / "outbox.jsonl", printer)
        admin = admin_client(settings)
        try:
            printer(
                f"trial calendar: {_first_day(lines)} to {_last_day(lines)}, moved by whole days so the last data "
                "have just arrived (study days and the seed's data unchanged)"
            )
            printer(f"streaming {len(lines)} events of {subjects} subjects via {settings.kafka.bootstrap} ...")
            on_time = [line for line in feeds.direct if not late_result(line)]
            produced = produce_lines(settings, on_time)
            feeds.send(base_url, watcher.poll, printer)
            events_end = demo_feeds.end_offsets(settings, produced)

            def catch_up() -> None:
                while not caught_up(admin, settings, events_end, watcher):
                    watcher.poll()
                    deliveries.poll()
                    if worker.poll() is not None:
                        raise DemoError(f"the worker exited with code {worker.returncode}; see {out / 'worker.log'}")
                    if time.monotonic() - started > DEADLINE_S:
                        raise DemoError(
                            f"the worker did not catch up within {DEADLINE_S:.0f} s; see {out / 'worker.log'}"
                        )
                for _ in range(5):  # alerts of the last events were acked before the commit: read them now
                    watcher.poll()
                settle_heartbeat(watcher, deliveries, heartbeat_s(base))

            catch_up()
            late = [line for line in feeds.direct if late_result(line)]
            if late:
                printer(f"the laboratory sends {len(late)} late results ...")
                for partition, end in produce_lines(settings, late).items():
                    events_end[partition] = max(end, events_end.get(partition, 0))
                catch_up()
            lines = demo_feeds.read_back(settings, events_end)  # what the adapters made of their part
            (out / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
            counts = wait_for_deliveries(watcher, deliveries, worker, out)
            graded = sum(watcher.grades.values())
            printer(
                f"graded observations: {graded} ("
                + ", ".join(f"{grade}: {watcher.grades[grade]}" for grade in sorted(watcher.grades))
                + ")"
            )
            printer(
                f"{len(lines)} events -> {watcher.alerts} alerts, {deliveries.delivered} messages delivered, in "
                f"{time.monotonic() - started:.1f} s; wrote {out / 'events.jsonl'}, {out / 'alerts.jsonl'} and "
                f"{outbox / 'outbox.jsonl'}"
            )
            printer(
                f"deliveries: {counts.delivered} delivered, {counts.failed} failed, {counts.pending} pending "
                f"({counts.owed} of an SAE, SUSAR, DLT or STOPPING_BOUNDARY)"
            )
            if base.delivery.notify_config is None:
                printer(outbox_check(out).line())
            sink.flush()
            printer(demo_feeds.replay_check(out, settings))
            printer("a laboratory system, EHR or script sends to this worker at:")
            for line in feeds.how_to_connect(base_url):
                printer(f"  {line}")
            if not serve:
                printer(
                    "the pages stop with this run; `safety demo --serve` (`make demo DEMO_SERVE=--serve`) keeps "
                    f"them at {base_url}, signed in as below with that run's passwords:"
                )
            else:
                printer(f"serving the pages at {base_url} (Ctrl-C to stop); each role signs in:")
            for line in ways_in(base_url, access):
                printer(f"  {line}")
            if serve:
                with contextlib.suppress(KeyboardInterrupt):
                    while worker.poll() is None:
                        watcher.poll(1000)
                        deliveries.poll()
        finally:
            admin.close()
            watcher.close()
            stop_process(worker)
    return DemoResult(watcher.alerts, counts)


def _first_day(lines: list[bytes]) -> str:
    return str(json.loads(lines[0])["recorded_at"])[:10]


def _last_day(lines: list[bytes]) -> str:
    return max(str(json.loads(line)["recorded_at"]) for line in lines)[:10]


@click.command(
    "demo",
    short_help="run the synthetic trial through the stream (embedded broker default)",
    help="Stream the synthetic trial through the worker (embedded broker unless SAFETY_KAFKA_BOOTSTRAP is set), "
    "print alerts as they arrive, write OUT/events.jsonl and OUT/alerts.jsonl.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out/demo"),
    show_default=False,
    help="output folder (default out/demo)",
)
@click.option("--serve", is_flag=True, help="keep the worker and its pages running")
@click.option("--subjects", type=click.IntRange(min=1), default=48, help="subjects in the synthetic trial (default 48)")
@click.option("--seed", type=int, default=None, help="random seed of the synthetic trial")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="port of the pages (default SAFETY_WEB_PORT, 6066; 0 takes any free port)",
)
def demo_command(out: Path, serve: bool, subjects: int, seed: int | None, port: int | None) -> int:
    try:
        result = run_demo(out, subjects=subjects, seed=seed, serve=serve, port=port)
    except DemoError as exc:
        print(f"safety demo: {exc}", file=sys.stderr)
        return 1
    if result.deliveries.owed:
        print(
            f"safety demo: {result.deliveries.owed} message(s) of an SAE, SUSAR, DLT or STOPPING_BOUNDARY were not "
            f"delivered within {DELIVERY_DEADLINE_S:.0f} s; see {out / 'worker.log'} for the failing channel",
            file=sys.stderr,
        )
        return 1
    return 0
