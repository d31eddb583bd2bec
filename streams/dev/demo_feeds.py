"""The demo's hospital: a few subjects of the synthetic trial reach the worker through the live adapters.

``safety demo`` produces most of the trial straight onto safety.events; the subjects of ``FEED_SUBJECTS`` come the
way a site's systems would send them (streams/feeds/live.py): each laboratory result as an HL7 v2 ORU^R01 over MLLP
(the results of one draw in one message, as a panel), each adverse event as a FHIR R4 AdverseEvent to ``POST
/fhir``, everything else of theirs (enrollment, infusions, vitals, results the site file does not map) as contract
events to ``POST /events``. They are sent one after another in the trial's order, each once the previous was
acknowledged, so every subject's events reach the topic in the order of the file.

The adapters give their results their own ids (``example-lis-<filler order>-<test>``, ``example-lis-ae-<id>``)
and fields (``loinc``; an AdverseEvent carries no expectedness or outcome in FHIR R4), so what reaches the topic
is not the file's lines. The demo therefore writes OUT/events.jsonl from the topic read back (``read_back``),
and ``replay_check`` replays that file and compares with the alerts the stream emitted: the replay promise is
checked on what the adapters produced, not assumed for what was sent.

The patients' record numbers are made up here (``mrn``) and mapped to subject codes by OUT/feeds/subjects.csv,
as a site holds its own mapping; the adapters drop them, so no topic or output holds them.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.dev.broker import free_port
from streams.dev.demo import DemoError
from streams.feeds.live import END, START
from streams.feeds.site import LOINC, RULES_DIR, load_site
from streams.settings import Settings

FEED_SUBJECTS = ("AA-001", "AA-003")  # AA-001's grade 4 neutropenia (DLT-4) is raised from HL7 results
SITE_FILE = RULES_DIR / "sites" / "example-lis.yaml"
MLLP_PORT = 2575  # the registered HL7 port, when free
READY_S = 120.0
CTCAE_SYSTEM = "urn:ctcae:v5"  # how the demo's EDC codes CTCAE terms and grades (streams/feeds/fhir.py)
CAUSALITY_CODES = {
    "related": "related",
    "probable": "probably-likely",
    "possible": "possible",
    "unlikely": "unlikely",
    "unrelated": "unrelated",
    "unassessable": "unassessable",
}
HL7_STATUS = {"final": "F", "corrected": "C", "cancelled": "W"}

Event = dict[str, Any]


def mrn(subject_id: str) -> str:
    """The made-up medical record number of a subject at the demo's hospital."""
    return str(70_000_000 + int(subject_id.rsplit("-", 1)[-1]))


def hl7_time(iso: str) -> str:
    """ISO 8601 -> HL7 v2 TS with its offset (``20260701074000+0800``)."""
    return datetime.fromisoformat(iso).strftime("%Y%m%d%H%M%S%z")


def loinc_codes(subjects_file: Path) -> dict[tuple[str, bool], str]:
    """(test, molar) -> the site file's LOINC code: a result in mol/L takes the molar code, as the site maps it."""
    codes: dict[tuple[str, bool], str] = {}
    for code, entry in load_site(SITE_FILE, subjects_file).spec.codes[LOINC].items():
        if entry.type == "lab":
            codes.setdefault((entry.test, "Moles" in (entry.name or "")), code)
    return codes


def oru_message(results: list[tuple[Event, str]]) -> str:
    """Results of one subject drawn and reported together (event, LOINC code) as one ORU^R01, a laboratory's panel:
    one OBR per result, whose filler order number (OBR-3) is the event's id, and its OBX."""
    first = results[0][0]
    recorded = hl7_time(first.get("recorded_at") or first["occurred_at"])
    segments = [
        f"MSH|^~\\&|DEMO-LIS|DEMO-HOSPITAL|SAFETY|SAFETY|{recorded}||ORU^R01^ORU_R01|"
        f"{first['event_id']}-{first.get('revision', 1)}|P|2.5.1",
        f"PID|1||{mrn(first['subject_id'])}^^^DEMO-HOSPITAL^MR",
    ]
    for number, (event, loinc) in enumerate(results, start=1):
        occurred = hl7_time(event["occurred_at"])
        status = HL7_STATUS[event.get("status", "final")]
        low, high = event.get("ref_low"), event.get("ref_high")
        ranges = (
            f"{low}-{high}"
            if low is not None and high is not None
            else f">{low}"
            if low is not None
            else f"<{high}"
            if high is not None
            else ""
        )
        obr = ["OBR", str(number), "", f"{event['event_id']}^DEMO-LIS", f"{loinc}^^LN", "", "", occurred] + [""] * 18
        obr[22], obr[25] = recorded, status
        obx = [
            "OBX",
            "1",
            "NM",
            f"{loinc}^^LN",
            "",
            str(event["value"]),
            event["unit"].replace("^", "*"),
            ranges,
            "",
            "",
            "",
            status,
            "",
            "",
            occurred,
        ]
        segments += ["|".join(obr), "|".join(obx)]
    return "\r".join(segments) + "\r"


def _same_draw(a: Event, b: Event) -> bool:
    return all(a.get(k) == b.get(k) for k in ("subject_id", "occurred_at", "recorded_at"))


def adverse_event_resource(event: Event) -> dict[str, Any]:
    """One adverse event as a FHIR R4 AdverseEvent (CTCAE term and grade coded, causality on the suspect)."""
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": event["event_id"],
        "meta": {"versionId": str(event.get("revision", 1))},
        "actuality": "actual",
        "subject": {"reference": f"Patient/{mrn(event['subject_id'])}"},
        "date": event["occurred_at"],
        "event": {"text": event["term"]},
        "severity": {"coding": [{"system": CTCAE_SYSTEM, "code": str(event["grade"])}]},
        "seriousness": {"coding": [{"code": c} for c in event.get("serious") or []] or [{"code": "non-serious"}]},
    }
    if event.get("recorded_at"):
        resource["recordedDate"] = event["recorded_at"]
    if event.get("ctcae_term"):
        resource["event"]["coding"] = [
            {"system": CTCAE_SYSTEM, "code": event["ctcae_term"], "display": event["ctcae_term"]}
        ]
    if event.get("causality"):
        resource["suspectEntity"] = [
            {
                "instance": {"display": "investigational product"},
                "causality": [{"assessment": {"coding": [{"code": CAUSALITY_CODES[event["causality"]]}]}}],
            }
        ]
    return resource


def port_or_free(port: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


class FeedError(DemoError):
    """An adapter refused what the demo sent, or did not answer; the message says which and why."""


@dataclass
class DemoFeeds:
    """What the demo sends through the adapters, and how to reach them."""

    out: Path
    direct: list[bytes]
    routed: list[Event]
    mllp_port: int = field(default_factory=lambda: port_or_free(MLLP_PORT))
    tokens: dict[str, str] = field(default_factory=lambda: {s: secrets.token_urlsafe(32) for s in ("lis", "edc")})

    @classmethod
    def plan(cls, lines: list[bytes], out: Path) -> DemoFeeds:
        """The trial's lines split: FEED_SUBJECTS' events go through the adapters, the rest straight to the topic."""
        direct: list[bytes] = []
        routed: list[Event] = []
        for line in lines:
            event = json.loads(line)
            if event["subject_id"] in FEED_SUBJECTS:
                routed.append(event)
            else:
                direct.append(line)
        return cls(out, direct, routed)

    @property
    def subjects_file(self) -> Path:
        return self.out / "feeds" / "subjects.csv"

    def worker_env(self, settings: Settings) -> dict[str, str]:
        """The worker's plug-in and its settings (SAFETY_FEEDS_*), with the subjects file written to OUT/feeds."""
        subjects = self.subjects_file
        subjects.parent.mkdir(parents=True, exist_ok=True)
        ids = sorted({e["subject_id"] for e in self.routed})
        subjects.write_text("identifier,subject_id\n" + "".join(f"{mrn(s)},{s}\n" for s in ids), encoding="utf-8")
        return {
            "SAFETY_PLUGINS": ",".join(filter(None, [settings.worker.plugins, "streams.feeds.live"])),
            "SAFETY_FEEDS_SITE_FILE": str(SITE_FILE),
            "SAFETY_FEEDS_SUBJECTS_FILE": str(subjects),
            "SAFETY_FEEDS_MLLP_PORT": str(self.mllp_port),
            "SAFETY_FEEDS_TOKENS": ",".join(f"{source}={token}" for source, token in self.tokens.items()),
        }

    def how_to_connect(self, base_url: str) -> list[str]:
        """Where a real laboratory system, EHR or script sends to this worker, and with which token."""
        return [
            f"HL7 v2 ORU^R01 over MLLP: 127.0.0.1:{self.mllp_port} (site file {SITE_FILE.name}, "
            f"subjects mapping {self.subjects_file})",
            f"FHIR R4 Observation / AdverseEvent / Bundle: POST {base_url}/fhir "
            f"(rest-hook {base_url}/fhir/subscription), Authorization: Bearer {self.tokens['lis']}",
            f"contract events, one or NDJSON: POST {base_url}/events, Authorization: Bearer {self.tokens['edc']}",
        ]

    def send(self, base_url: str, meanwhile: Callable[[], None], printer: Any = print) -> int:
        """Send the routed subjects' events in the trial's order, each after the previous was acknowledged
        (``meanwhile`` is called between sends: the demo prints the alerts as they arrive)."""
        codes = loinc_codes(self.subjects_file)
        deadline = time.monotonic() + READY_S
        while not (_answers(f"{base_url}/login") and _listening(self.mllp_port)):
            meanwhile()
            if time.monotonic() > deadline:
                raise FeedError(f"the worker's adapters did not start within {READY_S:.0f} s")
            time.sleep(0.2)
        counts = {"HL7": 0, "ORU": 0, "FHIR": 0, "JSON": 0}
        pending: list[Event] = []
        panel: list[tuple[Event, str]] = []
        with socket.create_connection(("127.0.0.1", self.mllp_port), timeout=60) as mllp:

            def flush() -> None:
                self._post_events(base_url, pending, counts)
                pending.clear()
                if panel:
                    _mllp_exchange(mllp, oru_message(panel))
                    counts["HL7"] += len(panel)
                    counts["ORU"] += 1
                    panel.clear()

            for number, event in enumerate(self.routed):
                if number % 50 == 0:
                    meanwhile()
                loinc = codes.get((event.get("test", ""), "mol/" in event.get("unit", "")))
                if event["type"] == "lab" and loinc is not None:
                    if pending or (panel and not _same_draw(panel[0][0], event)):
                        flush()
                    panel.append((event, loinc))
                elif event["type"] == "adverse_event":
                    flush()
                    self._post(f"{base_url}/fhir", json.dumps(adverse_event_resource(event)).encode(), "lis")
                    counts["FHIR"] += 1
                else:
                    if panel:
                        flush()
                    pending.append(event)
            flush()
        printer(
            f"through the adapters ({', '.join(FEED_SUBJECTS)}): {counts['HL7']} laboratory results in "
            f"{counts['ORU']} HL7 ORU^R01 messages over MLLP, {counts['FHIR']} FHIR AdverseEvents, "
            f"{counts['JSON']} contract events to /events"
        )
        return sum(counts.values())

    def _post_events(self, base_url: str, events: list[Event], counts: dict[str, int]) -> None:
        if events:
            body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()
            self._post(f"{base_url}/events", body, "edc")
            counts["JSON"] += len(events)

    def _post(self, url: str, body: bytes, source: str) -> None:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.tokens[source]}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise FeedError(f"POST {url} answered {exc.code}: {exc.read().decode(errors='replace')[:500]}") from exc
        if '"error"' in answer or '"rejected": [{' in answer:
            raise FeedError(f"POST {url} refused part of what the demo sent: {answer[:500]}")


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
        return True
    return False


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _mllp_exchange(sock: socket.socket, message: str) -> None:
    sock.sendall(START + message.encode() + END)
    answer = b""
    while not answer.endswith(END):
        chunk = sock.recv(4096)
        if not chunk:
            raise FeedError("the MLLP listener closed the connection without an answer")
        answer += chunk
    if b"MSA|AA|" not in answer:
        raise FeedError(f"the MLLP listener did not accept a result: {answer.decode(errors='replace')[:500]}")


def end_offsets(settings: Settings, produced: dict[int, int]) -> dict[int, int]:
    """Next offset of each partition of the events topic once the adapters' events are in: what the worker must
    have committed to be done. The broker's answer for a partition whose last batch held several records (the
    demo's own producer) can fall short on Tansu, so the producer's own count (``produced``) is the floor; the
    worker sends the adapters' events one record per batch, which the broker counts right."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers())
    try:
        parts = [
            TopicPartition(settings.topics.events, p)
            for p in consumer.partitions_for_topic(settings.topics.events) or []
        ]
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
        return {p: max(offset, produced.get(p, 0)) for p, offset in ends.items()}
    finally:
        consumer.close()


def read_back(settings: Settings, ends: dict[int, int]) -> list[bytes]:
    """Every record of the events topic up to ``ends``, partition by partition (each subject's in its order)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    values: dict[int, list[bytes]] = {p: [] for p in ends}
    try:
        parts = [TopicPartition(settings.topics.events, p) for p in ends]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        while any(consumer.position(tp) < ends[tp.partition] for tp in parts):
            for tp, records in consumer.poll(200).items():
                values[tp.partition].extend(r.value for r in records if r.offset < ends[tp.partition])
    finally:
        consumer.close()
    return [value for p in sorted(values) for value in values[p]]


def replay_check(out: Path, settings: Settings) -> str:
    """`safety replay` of OUT/events.jsonl against OUT/alerts.jsonl, compared as streams/dev/parity.py says: by
    alert id and content, the heartbeat's DATA_OVERDUE with `--as-of` (the demo waits for a heartbeat run after the
    stream caught up, so the open ones are the same set)."""
    from streams.dev.parity import clock_driven, differences, replayed
    from streams.rulefiles import load_rulebook

    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    rules = load_rulebook(settings.rules.file)
    streamed = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    differ = differences(streamed, lines, rules, settled=True)
    verdict = "the same" if not differ else f"{len(differ)} differing (first: {differ[0]})"
    plain = len(replayed(lines, rules))
    clock = len({a["alert_id"] for a in streamed if clock_driven(a)})
    return (
        f"replay check: safety replay {out / 'events.jsonl'} gives {plain} alerts, {verdict} as the stream "
        f"(and its {clock} heartbeat alerts as replay --as-of)"
    )
