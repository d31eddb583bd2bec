"""Stream/replay parity with the heartbeat on: which alerts the stream and `safety replay` must agree on, and how.

Every alert the events alone decide is compared exactly, by id and content, without ``emitted_at`` (the one field
the stream adds). DELIVERY_FAILED comes from delivery, not from events, and is left out. The heartbeat's alerts
are decided by the wall clock (streams/worker/heartbeat.py), and replay gives them only with ``--as-of``
(docs/rules.md, "Expected data"), so they are compared as follows:

* FEED_SILENT says when a source last sent to this worker, which no event records: not compared.
* DATA_OVERDUE is compared with ``replay --as-of T``, T the latest ``emitted_at`` of the stream's DATA_OVERDUE:
  each one the stream raised and did not withdraw is one replay raised, with the same content (its ``raised_at`` is
  the moment the visit fell due, so its content does not depend on when the timer ran). When the timer ran after
  the stream had caught up (``settled``), the DATA_OVERDUE still open are the same set on both sides.
* Replay raises and withdraws a DATA_OVERDUE for a result that came late in event time; the stream does so only
  when its timer ran between the due moment and the result's arrival on the topic. So a DATA_OVERDUE that replay
  withdrew may be missing from the stream, one the stream withdrew (a timer run while ingest still had a backlog)
  may be missing from replay, and the stream's withdrawals ("received", raised at the wall clock, naming no event)
  are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from safety import heartbeat
from safety.model.outputs import Alert
from safety.replay import ReplayState, replay
from safety.rules.ruleset import RuleBook, RuleSet
from safety.vocab import AlertKind

CLOCK_KINDS = frozenset({AlertKind.DATA_OVERDUE.value, AlertKind.FEED_SILENT.value})


def clock_driven(alert: dict[str, Any]) -> bool:
    """DATA_OVERDUE, FEED_SILENT or the withdrawal of a DATA_OVERDUE: raised by the stream's timer."""
    withdrawal = alert["kind"] == AlertKind.ALERT_WITHDRAWN.value and alert["rule_id"] == heartbeat.RULE_ID
    return alert["kind"] in CLOCK_KINDS or withdrawal


def replayed(lines: Sequence[str], rules: RuleBook | RuleSet, as_of: datetime | None = None) -> dict[str, Any]:
    """What `safety replay [--as-of]` gives on ``lines``: alerts by id, as JSON objects."""
    return {
        o.alert_id: json.loads(o.to_json())
        for kind, o in replay(lines, rules, ReplayState(), as_of)
        if kind == "alert" and isinstance(o, Alert)
    }


def _content(alert: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in alert.items() if k != "emitted_at"}


def differences(
    streamed: Iterable[dict[str, Any]], lines: Sequence[str], rules: RuleBook | RuleSet, settled: bool = False
) -> list[str]:
    """Each way the stream's alerts (records of safety.alerts) differ from replay's of ``lines``; [] when they agree."""
    stream: dict[str, dict[str, Any]] = {}
    moments: list[datetime] = []
    for alert in streamed:
        if alert["kind"] == AlertKind.DELIVERY_FAILED.value:
            continue
        stream[alert["alert_id"]] = _content(alert)
        if alert["kind"] == AlertKind.DATA_OVERDUE.value and alert.get("emitted_at"):
            moments.append(datetime.fromisoformat(alert["emitted_at"]))
    found = []
    plain = replayed(lines, rules)
    events = {k: v for k, v in stream.items() if not clock_driven(v)}
    for alert_id in sorted(events.keys() | plain.keys()):
        if events.get(alert_id) != plain.get(alert_id):
            found.append(f"{alert_id}: stream {_kind(events.get(alert_id))}, replay {_kind(plain.get(alert_id))}")
    if not moments:
        return found
    as_of = max(moments)
    at = replayed(lines, rules, as_of)
    withdrawn = {a["withdraws"] for a in stream.values() if a["kind"] == AlertKind.ALERT_WITHDRAWN.value}
    opened = {k: v for k, v in stream.items() if v["kind"] == AlertKind.DATA_OVERDUE.value and k not in withdrawn}
    for alert_id, alert in sorted(opened.items()):
        if at.get(alert_id) != alert:
            found.append(f"{alert_id}: the stream's DATA_OVERDUE is not replay --as-of {as_of.isoformat()}'s")
    if settled:
        replay_withdrawn = {a["withdraws"] for a in at.values() if a["kind"] == AlertKind.ALERT_WITHDRAWN.value}
        still_open = {k for k, v in at.items() if v["kind"] == AlertKind.DATA_OVERDUE.value} - replay_withdrawn
        for alert_id in sorted(still_open ^ opened.keys()):
            side = "replay --as-of" if alert_id in still_open else "the stream"
            found.append(f"{alert_id}: DATA_OVERDUE open only in {side}")
    return found


def _kind(alert: dict[str, Any] | None) -> str:
    return "none" if alert is None else str(alert["kind"])


__all__ = ["CLOCK_KINDS", "clock_driven", "differences", "replayed"]
