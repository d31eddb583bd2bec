"""The heartbeat: alerts on expected data that did not arrive (docs/rules.md, "Expected data").

Two pure functions over a subject's state and the study's schedule (``Protocol.schedule``, safety/rules/schedule.py):

* :func:`observe`, called by :func:`safety.pipeline.step` for every applied event, records what arrived: a
  ``final`` or ``corrected`` lab, or a vital sign or ECG, whose study day falls in a visit's window counts for that
  visit's test, each test on its own; ``end_of_study`` and death end what is expected. A result that completes an
  overdue visit withdraws its DATA_OVERDUE alert (reason "received").
* :func:`check` settles every visit whose window's last local day has ended, plus the grace period, by ``as_of``:
  one DATA_OVERDUE per (subject, visit, group) that misses a test, naming the missing tests and the window.

The core reads no clock: ``as_of`` is an argument. The stream passes the wall clock on a timer
(streams/worker/heartbeat.py); replay passes ``--as-of`` only, so without it its output does not change. An alert's
``raised_at`` is the moment the visit became overdue, not when it was noticed, so its content, and its id, are the
same whenever and wherever it is checked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

from safety.clocks import in_study_time
from safety.model.events import Death, Ecg, EndOfStudy, Lab, Vital
from safety.model.expectations import Expectations, GroupProgress, OverdueRef
from safety.model.outputs import Alert, alert_id
from safety.vocab import AlertKind

if TYPE_CHECKING:
    from safety.model.events import Event
    from safety.model.state import SubjectState
    from safety.rules.protocol import Protocol
    from safety.rules.ruleset import RuleSet
    from safety.rules.schedule import GroupIndex

RULE_ID: Final = "DATA_OVERDUE"
RECEIVED: Final = "received"
_COUNTED_STATUSES: Final = frozenset({"final", "corrected"})


def observe(state: SubjectState, event: Event, rules: RuleSet, day: int | None) -> list[Alert]:
    """Record what ``event`` brings to the subject's expectations; the withdrawals of overdue alerts it completes.

    ``day`` is the event's study day (``occurred_at``; None before day 0 is known), computed once by the caller."""
    if isinstance(event, (Lab, Vital, Ecg)):
        if isinstance(event, Lab) and event.status not in _COUNTED_STATUSES:
            return []
        groups = rules.expected.groups_of.get(event.test)
        if groups is None or day is None:
            return []
        expected = state.expected
        for group in groups:
            _receive(expected, group, event.test, day)
        if expected.overdue:
            return _late(state, event, rules, groups, day)
        return []
    if isinstance(event, (EndOfStudy, Death)) and day is not None:
        ended = state.expected.ended_day
        state.expected.ended_day = day if ended is None else min(ended, day)
    return []


def _receive(expected: Expectations, group: GroupIndex, test: str, day: int) -> None:
    """Count ``test`` for every open visit of ``group`` whose window holds ``day``; settle completed visits."""
    progress = expected.groups.get(group.name)
    if progress is None:
        progress = expected.groups[group.name] = GroupProgress()
    days = group.days
    windows = group.windows
    for index in range(progress.next, len(days)):
        visit = days[index]
        first, last = windows[index]
        if first > day:
            break
        if day > last or visit in progress.complete:
            continue
        got = progress.received.setdefault(visit, [])
        if test not in got:
            got.append(test)
        if len(got) == group.size:
            del progress.received[visit]
            progress.complete.append(visit)
    while progress.next < len(days) and days[progress.next] in progress.complete:
        progress.complete.remove(days[progress.next])
        progress.next += 1


def _late(state: SubjectState, event: Event, rules: RuleSet, groups: tuple[GroupIndex, ...], day: int) -> list[Alert]:
    """Withdraw each overdue alert of ``groups`` that this late result completes (reason: received)."""
    names = {group.name for group in groups}
    withdrawn: list[Alert] = []
    test = event.test  # type: ignore[union-attr]
    overdue = state.expected.overdue
    for key, ref in list(overdue.items()):
        if ref.group not in names or test not in ref.missing or not ref.first_day <= day <= ref.last_day:
            continue
        ref.missing.remove(test)
        if ref.missing:
            continue
        del overdue[key]
        withdrawn.append(
            Alert(
                alert_id=alert_id("ALERT_WITHDRAWN", RULE_ID, event.subject_id, [event.event_id], ref.alert_id),
                kind=AlertKind.ALERT_WITHDRAWN,
                rule_id=RULE_ID,
                study_id=event.study_id,
                subject_id=event.subject_id,
                study_day=ref.visit_day,
                event_ids=[event.event_id],
                recipients=rules.protocol.recipients_of("DATA_OVERDUE"),
                raised_at=in_study_time(event.clock_start, rules.tz),
                rules_version=rules.version,
                withdraws=ref.alert_id,
                reason=RECEIVED,
            )
        )
    return withdrawn


def check(state: SubjectState, as_of: datetime, rules: RuleSet) -> list[Alert]:
    """Settle every visit of the subject due by ``as_of``; a DATA_OVERDUE for each that misses a test.

    A visit is due when its window's last local day has ended and the grace period has passed. Nothing is expected
    before day 0 is known, nor on a visit day after the subject's end of study or death. The alerts come in the
    order the visits fell due.
    """
    day0 = state.day0
    if day0 is None:
        return []
    protocol = rules.protocol
    schedule = protocol.schedule
    expected = state.expected
    ended = expected.ended_day
    raised: list[tuple[datetime, Alert]] = []
    for name, group in schedule.groups.items():
        progress = expected.groups.get(name) or GroupProgress()
        days = group.days
        while progress.next < len(days):
            visit = days[progress.next]
            if ended is not None and visit > ended:
                break
            due = schedule.due_at(visit, day0, rules.tz)
            if due > as_of:
                break
            got = progress.received.pop(visit, [])
            missing = [test for test in group.tests if test not in got]
            raised.append((due, _overdue(state, protocol, rules, name, visit, missing, due)))
            progress.next += 1
            while progress.next < len(days) and days[progress.next] in progress.complete:
                progress.complete.remove(days[progress.next])
                progress.next += 1
        if progress.next or progress.received or progress.complete:
            expected.groups[name] = progress
    raised.sort(key=lambda pair: pair[0])
    return [alert for _, alert in raised]


def _overdue(
    state: SubjectState, protocol: Protocol, rules: RuleSet, name: str, visit: int, missing: list[str], due: datetime
) -> Alert:
    schedule = protocol.schedule
    first, last = schedule.window(visit)
    new_id = alert_id(RULE_ID, RULE_ID, state.subject_id, [], name, str(visit))
    state.expected.overdue[f"{name}/{visit}"] = OverdueRef(
        alert_id=new_id, group=name, visit_day=visit, first_day=first, last_day=last, missing=list(missing)
    )
    return Alert(
        alert_id=new_id,
        kind=AlertKind.DATA_OVERDUE,
        rule_id=RULE_ID,
        study_id=state.study_id,
        subject_id=state.subject_id,
        study_day=visit,
        event_ids=[],
        recipients=protocol.recipients_of("DATA_OVERDUE"),
        raised_at=in_study_time(due, rules.tz),
        rules_version=rules.version,
        basis={
            "criterion": f"{name} of visit day {visit}: {', '.join(missing)} not received for study days "
            f"{first}..{last} within {schedule.grace_days} days after the window",
            "group": name,
            "visit_day": visit,
            "window_first_day": first,
            "window_last_day": last,
            "missing": missing,
            "expected": list(schedule.groups[name].tests),
            "grace_days": schedule.grace_days,
        },
    )


__all__ = ["RECEIVED", "RULE_ID", "check", "observe"]
