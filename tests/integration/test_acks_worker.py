"""Acknowledgements against a real `safety worker` with every plug-in on (docs/rules.md, "Who may acknowledge").

The worker raises DLT alerts from the synthetic trial and sends them (local sink, the demo's delivery) with a
signed link. Its HTTP endpoints must find the alert in the dashboard view (the GlobalTable every worker reads),
refuse an unknown id (404), a role the alert was not sent to (403) and another site's page (403). The link, sent on
a channel no one person owns (the local sink), asks whoever opens it to sign in; the PI signed in acknowledges once,
and the delivery ledger must record exactly that one acknowledgement, under the PI's name.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from argon2 import PasswordHasher

from streams.dev.broker import free_port
from streams.dev.demo import demo_lines
from streams.settings import Settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PI, ETHICS, OFFICER = (f"itest-{role}-token-0123456789abcdefghijklmnop" for role in ("pi", "ethics", "officer"))
TOKENS = f"pi:{PI},ethics:{ETHICS},safety_officer:{OFFICER}"
LINK = re.compile(r"Acknowledge: (http\S+)")
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "itest password of the principal investigator"


class Browser:
    """A person's browser: keeps the session cookie and posts forms with their CSRF token."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, url: str, form: dict[str, str] | None = None, origin: str | None = None) -> tuple[int, str]:
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers={"Origin": origin} if origin else {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def sign_in(self, base: str, name: str, password: str) -> None:
        _, page = self.request(f"{base}/login")
        (csrf,) = CSRF_FIELD.findall(page)
        status, _ = self.request(f"{base}/login", {"name": name, "password": password, "csrf": csrf}, base)
        assert status == 200  # redirected to the overview


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _ack(base: str, alert_id: str, token: str, **headers: str) -> int:
    body = json.dumps({"who": "Dr Itest", "conclusion": "assessed"}).encode()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
    return _request(f"{base}/alerts/{alert_id}/ack", body, auth)[0]


def test_a_real_worker_acknowledges_only_known_alerts_by_their_recipients_and_each_link_once(stream: Any) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    outbox = stream.workdir / "outbox"
    env = stream.env("w1")
    users = stream.workdir / "users.yaml"
    users.write_text(
        "users:\n"
        f"  - {{name: dr.li, display: Dr Li, roles: [pi], studies: ['*'], "
        f"password_hash: '{PasswordHasher().hash(PASSWORD)}'}}\n",
        encoding="utf-8",
    )
    env.update(
        SAFETY_USERS_FILE=str(users),
        SAFETY_SESSION_SECRET="itest-session-secret-0123456789abcdefghijkl",
        SAFETY_PLUGINS=Settings().worker.plugins,  # every plug-in, as make demo
        SAFETY_AUTH_TOKENS=TOKENS,
        SAFETY_LINK_SECRET="itest-link-secret-0123456789abcdefghijklmnop",
        SAFETY_PUBLIC_URL=base,
        SAFETY_OUTBOX_DIR=str(outbox),
    )
    with open(stream.workdir / "w1.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.worker.run", "--web-port", str(port), "--loglevel", "warn"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    stream.workers.append(proc)
    stream.ports[proc.pid] = port
    stream.produce(demo_lines(2, None))  # two subjects: DLT alerts, sent to the PI only

    def pi_dlt_links() -> list[str]:
        if not (outbox / "outbox.jsonl").exists():
            return []
        records = [json.loads(x) for x in (outbox / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
        return [
            m.group(1)
            for r in records
            if r["recipient"] == "pi" and "DLT" in r["title"] and (m := LINK.search(r["text"]))
        ]

    stream.wait_for(lambda: bool(pi_dlt_links()), 120, "a DLT message to the PI with a link")
    link = pi_dlt_links()[0]
    alert_id = urlsplit(link).path.split("/")[2]
    stream.wait_for(lambda: _ack(base, alert_id, ETHICS) != 404, 30, "the alert in the dashboard view")

    assert _ack(base, "f" * 24, PI) == 404
    assert _ack(base, alert_id, ETHICS) == 403  # a DLT goes to the PI only
    assert _ack(base, alert_id, PI, Origin="http://evil.example") == 403
    status, page = _request(link)
    assert status == 401 and "/login?next=" in page  # a shared channel's link: whoever opens it signs in first
    pi = Browser()
    pi.sign_in(base, "dr.li", PASSWORD)
    status, page = pi.request(link)
    assert status == 200 and "<form" in page and "DLT" in page
    (csrf,) = CSRF_FIELD.findall(page)
    form = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    confirm = f"{base}{urlsplit(link).path}/link"
    posted = [pi.request(confirm, {**form, "csrf": csrf}, base)[0] for _ in range(3)]
    assert posted == [200, 409, 409]

    def ledger_acks() -> list[dict[str, Any]]:
        entries = [json.loads(v) for v in stream.read(stream.settings.topics.deliveries)]
        mine = [e for e in entries if e["alert"]["alert_id"] == alert_id]
        return list(mine[-1]["acks"]) if mine else []

    stream.wait_for(lambda: bool(ledger_acks()), 30, "the link's ack in the delivery ledger")
    ((recorded,),) = [ledger_acks()]
    assert (recorded["who"], recorded["role"], recorded["via"]) == ("Dr Li", "pi", "link")


SCENARIOS = ROOT / "tests" / "scenarios"


def test_the_pi_attributes_a_suspected_dlt_as_related_over_http_and_the_dlt_follows(stream: Any) -> None:
    """docs/rules.md, "The PI's attribution": the PI's causality, posted to a real worker,
    comes back through the rules as an adverse_event; DLT-2 and the stopping boundary are raised from it, and
    replaying the event log (which now holds the attribution) gives the stream's alerts."""
    from streams.dev.parity import differences
    from streams.rulefiles import load_ruleset

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stream.env("w1")
    env.update(SAFETY_PLUGINS=Settings().worker.plugins, SAFETY_AUTH_TOKENS=TOKENS, SAFETY_PUBLIC_URL=base)
    with open(stream.workdir / "w1.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.worker.run", "--web-port", str(port), "--loglevel", "warn"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    stream.workers.append(proc)
    stream.ports[proc.pid] = port
    # three infused subjects, AA-001 with a DLT, AA-002 with a grade 3 ALT increase: a suspected DLT for the PI
    timeline = (SCENARIOS / "attribution_related_raises_dlt2.jsonl").read_bytes().splitlines()[:-1]
    stream.produce(timeline)

    def kinds() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for alert in stream.alerts():
            found.setdefault(alert["kind"], []).append(alert)
        return found

    stream.wait_for(lambda: "SUSPECTED_DLT" in kinds(), 120, "the suspected DLT")
    (suspected,) = kinds()["SUSPECTED_DLT"]
    assert "STOPPING_BOUNDARY" not in kinds()  # 1 of 3 subjects with a DLT: 0.652
    url = f"{base}/alerts/{suspected['alert_id']}/ack"
    body = json.dumps({"who": "staff-07", "conclusion": "drug-induced liver injury", "causality": "related"})
    headers = {"Authorization": f"Bearer {PI}", "Content-Type": "application/json"}
    stream.wait_for(lambda: _request(url, body.encode(), headers)[0] == 202, 30, "the PI's attribution accepted")

    stream.wait_for(lambda: "STOPPING_BOUNDARY" in kinds(), 60, "the DLT and the stopping boundary it crosses")
    attribution = f"ATTR-{suspected['alert_id']}"
    dlts = [a for a in kinds()["DLT"] if a["subject_id"] == "AA-002"]
    assert [(a["rule_id"], a["event_ids"], a["study_day"]) for a in dlts] == [("DLT-2", [attribution], 6)]
    (boundary,) = kinds()["STOPPING_BOUNDARY"]
    assert (boundary["event_ids"], boundary["basis"]["x"], boundary["basis"]["n"]) == ([attribution], 2, 3)

    log_lines = [v.decode() for v in stream.read(stream.settings.topics.events)]
    assert sum(json.loads(line)["event_id"] == attribution for line in log_lines) == 1  # exactly once
    assert differences(stream.alerts(), log_lines, load_ruleset()) == []  # the heartbeat's: streams/dev/parity.py
