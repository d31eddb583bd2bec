"""Nothing lost: the worker, with every plug-in on, survives restarts, poison records, absurd values and a broker kill.

Each test runs real `safety worker` processes on the embedded broker (loopback only) with the default
SAFETY_PLUGINS, as `make demo` and production run them, and compares what they did with `safety replay` of the
same events: the same alert ids with the same content (0 lost, 0 alerts that replay does not give; a record
redelivered after a crash is the same alert), the pages answering, and the summary the pages show. The heartbeat's
timer is on: its DATA_OVERDUE and FEED_SILENT follow the wall clock, so they are compared with `replay --as-of`
as streams/dev/parity.py says (every other kind exactly). The delay of
good events (input record to its graded row) is printed, never asserted (`pytest -s` shows it).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from safety.replay import ReplayState, replay
from safety.reports import build_report
from streams.admin import produce_lines, producer
from streams.dev.parity import differences
from streams.rulefiles import load_ruleset

pytestmark = pytest.mark.slow

STUDY = "ChiCTR2600125907"
PAGES = ("/overview", "/alerts", "/edish", "/feeds/ethics.atom", "/reports/safety-summary.json")


def by_id(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Alerts by id without ``emitted_at`` (the one field the stream adds); one id never has two contents."""
    out: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        alert = {k: v for k, v in alert.items() if k != "emitted_at"}
        assert out.setdefault(alert["alert_id"], alert) == alert, "one alert_id, two contents"
    return out


def replay_of(lines: list[bytes]) -> tuple[dict[str, dict[str, Any]], Any]:
    """Alerts by id and the report `safety report` would build from the same lines (the uninterrupted run)."""
    state = ReplayState()
    alerts: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    for kind, output in replay([line.decode() for line in lines], load_ruleset(), state):
        if kind == "alert":
            alerts[output.alert_id] = json.loads(output.to_json())
        elif kind == "event":
            events.append(json.loads(output))
    report = build_report(events, list(alerts.values()), study_id=STUDY, generated_at=datetime.now(UTC))
    return alerts, report


def parity(stream: Any, lines: list[bytes]) -> list[str]:
    """How the stream's alerts differ from replay's of ``lines`` (streams/dev/parity.py); [] when they agree."""
    alerts = stream.alerts()
    by_id(alerts)  # one alert_id, one content
    return differences(alerts, [line.decode() for line in lines], load_ruleset())


def pages_differ(stream: Any, proc: Any, report: Any, subject: str) -> str | None:
    """None when every page answers 200 and the summary counts what replay counts (no alert lost, none twice)."""
    for path in (*PAGES, f"/subjects/{subject}"):
        status, body = stream.page(proc, path)
        if status != 200:
            return f"{path}: {status} {body[:300]}"
    summary = json.loads(stream.page(proc, "/reports/safety-summary.json")[1])
    ov = report.overview
    shown = {
        k: summary[k]
        for k in ("subjects_infused", "subjects_with_dlt", "subjects_with_sae", "sae_count", "susar_count")
    }
    shown["listing"] = sorted(r["alert_id"] for r in summary["line_listing"])
    expected = {
        "subjects_infused": ov.subjects_infused,
        "subjects_with_dlt": ov.subjects_with_dlt,
        "subjects_with_sae": ov.subjects_with_sae,
        "sae_count": ov.sae_count,
        "susar_count": ov.susar_count,
        "listing": sorted(r.alert_id for r in report.listing),
    }
    return None if shown == expected else f"summary {shown} != replay {expected}"


def assert_pages_show(stream: Any, proc: Any, report: Any, subject: str) -> None:
    """The pages show what replay gives, once the view has read what the workers wrote (a GlobalTable)."""
    deadline = time.monotonic() + 30
    while (differ := pages_differ(stream, proc, report, subject)) and time.monotonic() < deadline:
        time.sleep(1)
    assert differ is None, differ


def print_delays(stream: Any, what: str) -> None:
    """Input record -> first graded row of the same event, from the two topics' record timestamps."""
    produced: dict[str, float] = {}
    for value, stamp in stream.read_stamped(stream.settings.topics.events):
        try:
            event_id = json.loads(value).get("event_id")
        except (ValueError, RecursionError, AttributeError):
            continue
        if isinstance(event_id, str):
            produced.setdefault(event_id, stamp)
    graded: dict[str, float] = {}
    for value, stamp in stream.read_stamped(stream.settings.topics.graded):
        graded.setdefault(json.loads(value)["event_id"], stamp)
    delays = sorted(graded[e] - produced[e] for e in graded if e in produced)
    if not delays:
        print(f"\n[{what}] no graded rows")
        return
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(
        f"\n[{what}] delay of good events to their graded row over {len(delays)} events: "
        f"p50 {statistics.median(delays):.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s"
    )


def committed_total(stream: Any) -> int:
    return sum(stream.committed(stream.settings.topics.events).values())


def first_subject(lines: list[bytes]) -> str:
    return str(json.loads(lines[0])["subject_id"])


def test_a_sigterm_and_three_kill_9_mid_stream_lose_no_alert_and_add_none(full_stream, trial_lines) -> None:
    # Before: the dashboard_view and delivery_ledger tables had json changelogs, so after any restart recovery
    # logged "Error in recovery Expecting value" ~84 times a second and the worker never processed again.
    stream = full_stream
    ends: dict[int, int] = {}
    feeder = threading.Thread(  # the trial arrives over ~45 s, across every restart
        target=lambda: ends.update(produce_lines(stream.settings, trial_lines, rate=60)), daemon=True
    )
    worker = stream.start_worker("w1")
    feeder.start()
    started, done = time.monotonic(), 0
    for n, stop in enumerate(("sigterm", "kill9", "kill9", "kill9"), start=1):
        # Stop as soon as the worker commits again: mid-way through the backlog its restart left.
        stream.wait_for(lambda: committed_total(stream) > done + 50, 90, f"processing after restart {n - 1}")
        done = committed_total(stream)
        print(f"\n[restarts] {stop} at {time.monotonic() - started:.1f} s, {done} events committed")
        if stop == "sigterm":
            assert stream.sigterm(worker) == 0
        else:
            stream.kill9(worker)
        done = committed_total(stream)  # a clean stop commits what it finished: count from there
        worker = stream.start_worker(f"w{n + 1}")
    feeder.join(120)
    stream.wait_for(lambda: stream.caught_up(ends), 120, "the last worker to finish")
    assert parity(stream, trial_lines) == []
    _, report = replay_of(trial_lines)
    assert_pages_show(stream, worker, report, first_subject(trial_lines))
    print_delays(stream, "sigterm + 3 x kill -9")


def poison_records(lines: list[bytes]) -> list[bytes]:
    """Lone surrogates, JSON nested 1,000 deep, invalid UTF-8, records of 0.6-1 MB (a graded row over 1 MB)."""
    lab = json.loads(next(line for line in lines if b'"type":"lab"' in line))
    out = []
    for n in range(40):
        out.append(json.dumps(lab | {"event_id": f"P-S{n}", "unit": "U/L \ud800"}, ensure_ascii=True).encode())
        out.append(
            b'{"type":"lab","subject_id":"' + lab["subject_id"].encode() + b'","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
        )
    out += [b"\xff\xfe not json " + bytes([n]) for n in range(20)]
    out += [json.dumps(lab | {"event_id": f"P-L{n}", "unit": "\\" * 300_000}).encode() for n in range(3)]
    out.append(json.dumps(lab | {"event_id": "P-XL", "unit": "u" * 950_000}).encode())  # graded row > 1 MB
    return out


def test_a_poison_burst_with_oversize_and_deeply_nested_records_is_dead_lettered_and_delays_no_alert(
    full_stream, trial_lines
) -> None:
    # Before: each dead letter of a 0.6-1 MB record was over the 1 MB record limit and killed the ingest agent,
    # and every lone surrogate or deep record crashed a dashboard agent for 5 s: alerts came minutes late.
    stream = full_stream
    poison = poison_records(trial_lines)
    key = json.loads(trial_lines[0])["subject_id"].encode()
    worker = stream.start_worker()
    stream.wait_for(lambda: stream.page(worker, "/overview")[0] == 200, 90, "the worker to be ready")
    kafka = producer(stream.settings)
    every = len(trial_lines) // len(poison)
    for n, line in enumerate(trial_lines):
        kafka.send(stream.settings.topics.events, key=json.loads(line)["subject_id"].encode(), value=line)
        if n % every == 0 and n // every < len(poison):
            kafka.send(stream.settings.topics.events, key=key, value=poison[n // every])
    kafka.flush()
    kafka.close()
    ends = stream.end_offsets(stream.settings.topics.events)
    stream.wait_for(lambda: stream.caught_up(ends), 150, "the worker to process the trial and the poison")
    assert parity(stream, trial_lines) == []
    letters = stream.read(stream.settings.topics.deadletter)
    assert all(len(letter) < 1_000_000 for letter in letters)
    offsets = {json.loads(letter)["offset"] for letter in letters}
    assert len(offsets) >= len(poison)  # every poison record has its letter (ungradable good labs have theirs)
    big = [json.loads(letter) for letter in letters if json.loads(letter).get("raw_truncated")]
    assert len(big) == 4 and {letter["reason_code"] for letter in big} == {"record_too_large"}
    _, report = replay_of(trial_lines)
    assert_pages_show(stream, worker, report, first_subject(trial_lines))
    print_delays(stream, f"poison burst of {len(poison)} records in {len(trial_lines)}")


def test_a_value_of_10_to_the_400_and_rejected_records_leave_every_page_answering_also_after_a_restart(
    full_stream, trial_lines
) -> None:
    # Before: the dashboard stored raw input; reading the 10^400 lab raised OverflowError and every page answered
    # 500, also after a restart (the view is in a changelog). Rejected records replaced accepted ones in the view.
    stream = full_stream
    good = trial_lines[:600]
    subject = first_subject(good)
    lab = json.loads(next(line for line in good if b'"type":"lab"' in line))
    ae = json.loads(next(line for line in good if b'"type":"adverse_event"' in line))
    records = [(json.loads(line)["subject_id"].encode(), line) for line in good] + [
        (lab["subject_id"].encode(), json.dumps(lab | {"event_id": "L-HUGE", "value": 10**400}).encode()),
        (ae["subject_id"].encode(), json.dumps(ae | {"term": "conflicting duplicate"}).encode()),
        (subject.encode(), json.dumps(ae | {"event_id": "AE-OTHER-KEY", "subject_id": "AA-999"}).encode()),
    ]
    kafka = producer(stream.settings)
    for key, value in records:
        kafka.send(stream.settings.topics.events, key=key, value=value)
    kafka.flush()
    kafka.close()
    ends = stream.end_offsets(stream.settings.topics.events)
    _, report = replay_of(good)
    worker = stream.start_worker("w1")
    stream.wait_for(lambda: stream.caught_up(ends), 120, "the worker to process the events")
    assert parity(stream, good) == []
    assert_pages_show(stream, worker, report, subject)
    status, body = stream.page(worker, f"/subjects/{subject}")
    assert "conflicting duplicate" not in body and "AE-OTHER-KEY" not in body
    assert stream.sigterm(worker) == 0
    worker = stream.start_worker("w2")
    stream.wait_for(lambda: stream.page(worker, "/overview")[0] == 200, 90, "the restarted worker's pages")
    assert_pages_show(stream, worker, report, subject)
    print_delays(stream, "10^400 value and rejected records, one restart (sent before the worker started)")


def test_a_broker_kill_is_seen_on_metrics_and_pages_and_the_worker_exits_within_the_bound(
    own_broker_stream, trial_lines
) -> None:
    # Before: after kill -9 of the broker the worker ran on for 90 s and more, served stale pages with 200, wrote
    # 13 KB of log a second and ignored SIGTERM for over 15 s.
    stream, broker = own_broker_stream
    run_broker_kill(stream, broker, trial_lines[:900])


def run_broker_kill(stream: Any, broker: Any, lines: list[bytes]) -> None:
    bound = 20.0
    stream.extra_env = {"SAFETY_BROKER_DOWN_EXIT_SECONDS": str(bound)}
    worker = stream.start_worker()
    ends = stream.produce(lines)
    stream.wait_for(lambda: stream.caught_up(ends), 120, "the worker to process the events")
    _, report = replay_of(lines)
    assert parity(stream, lines) == []
    assert_pages_show(stream, worker, report, first_subject(lines))
    assert "safety_broker_up 1.0" in stream.metrics(worker)

    broker.process.kill()
    broker.process.wait(10)
    killed = time.monotonic()
    stream.wait_for(lambda: "safety_broker_up 0.0" in stream.metrics(worker), 30, "safety_broker_up 0")
    print(f"\n[broker kill] safety_broker_up 0 after {time.monotonic() - killed:.1f} s")
    status, body = stream.page(worker, "/overview")
    assert status == 503 and "stale" in body
    log = stream.workdir / "w1.log"
    before = log.stat().st_size
    time.sleep(8)
    grown = log.stat().st_size - before
    print(f"[broker kill] the worker logged {grown / 8:.0f} bytes/s while the broker was down")
    assert grown < 8 * 1024  # one line per repeated message and 30 s, not a stream of reconnect errors
    assert worker.wait(bound + 20) == 75
    print(
        f"[broker kill] the worker exited with 75 at {time.monotonic() - killed:.1f} s "
        f"(SAFETY_BROKER_DOWN_EXIT_SECONDS={bound:.0f})"
    )
