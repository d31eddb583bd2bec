"""HL7 v2 ORU^R01 (a laboratory information system's results) -> contract ``lab``/``vital`` events.

One event per mapped OBX: ``event_id`` = site, filler order number (OBR-3) and test code, because a corrected
result arrives in a new message with a new message id; the revision comes from the status change (see
streams/feeds/results.py). OBX-11: F final and C corrected are emitted (graded); P preliminary is held, never
graded; U promotes a held preliminary; W (wrong patient) and D (deleted) retract the result with a ``cancelled``
revision, which withdraws the alerts it raised (the contract's correction path); X (cannot obtain) retracts a
result sent before, else nothing. PID identifiers are mapped to the subject code through the site's mapping and
dropped: no event, rejection or log line carries them (rejections quote only the offending OBR/OBX segment).
"""

from __future__ import annotations

import re

import hl7  # type: ignore[import-untyped]

from streams.feeds.results import Converted, Event, Rejected, ResultMemory
from streams.feeds.site import LOINC, Site

BOM = "\ufeff"
RETRACTING = frozenset("WD")
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?([+-]\d{4})?$")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|_|to|~|–)\s*(-?\d+(?:\.\d+)?)\s*$")
_BOUND = re.compile(r"^\s*(<=?|>=?)\s*(-?\d+(?:\.\d+)?)\s*$")
_LOINC_CODE = re.compile(r"^\d{1,7}-\d$")
_NUMBER = re.compile(r"^\s*(<=?|>=?)?\s*(\d+(?:\.\d+)?)\s*$")


def hl7_time(text: str) -> str | None:
    """``20141006064500+0700`` -> ``2014-10-06T06:45:00+07:00``; no offset: read in the study's time zone."""
    match = _TS.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    stamp = f"{year}-{month}-{day}T{hour or '00'}:{minute or '00'}:{second or '00'}"
    return stamp + (f"{offset[:3]}:{offset[3:]}" if offset else "")


def reference_range(text: str) -> tuple[float | None, float | None]:
    """OBX-7: ``3.5-5.5``, ``4.3 to 6.2``, ``70_105``, ``<40`` (upper limit only), ``>60`` (lower only)."""
    match = _RANGE.match(text)
    if match:
        return float(match.group(1)), float(match.group(2))
    match = _BOUND.match(text)
    if match:
        return (None, float(match.group(2))) if match.group(1).startswith("<") else (float(match.group(2)), None)
    return None, None


def _value(value_type: str, text: str) -> str | float | None:
    """OBX-5 as the contract's value: a number, or text with a comparator (SN ``<^0.1`` -> ``"<0.1"``)."""
    if value_type == "SN":
        comparator, _, number = text.partition("^")
        text = f"{comparator}{number.split('^')[0]}"
    match = _NUMBER.match(text)
    if match is None:
        return None
    return f"{match.group(1)}{match.group(2)}" if match.group(1) else float(match.group(2))


def split_messages(text: str) -> list[str]:
    """The messages of a file (each starts with MSH), with a BOM dropped and any line ending read as HL7's CR."""
    text = text.replace(BOM, "").replace("\r\n", "\r").replace("\n", "\r")
    chunks = re.split(r"\r(?=MSH\|)", text.strip("\r"))
    return [chunk for chunk in chunks if chunk.strip()]


def _comp(field: object, index: int = 0) -> str:
    parts = str(field).split("~")[0].split("^")
    return parts[index].strip() if index < len(parts) else ""


def _field(segment: hl7.Segment, number: int) -> str:
    return str(segment[number]) if len(segment) > number else ""


def control_id(message: str) -> str:
    """MSH-10 of a raw message (for the ACK), read without parsing the rest."""
    for line in message.replace(BOM, "").replace("\n", "\r").split("\r"):
        if line.startswith("MSH"):
            fields = line.split(line[3:4] or "|")
            return fields[9].strip() if len(fields) > 9 else ""
    return ""


def convert_message(text: str, site: Site, memory: ResultMemory, *, label: str = "message") -> Converted:
    """One ORU^R01 -> events. A message that cannot be read is one rejection naming why."""
    out = Converted()
    try:
        message = hl7.parse(text.replace(BOM, "").replace("\r\n", "\r").replace("\n", "\r"))
        msh = message.segment("MSH")
    except (hl7.ParseException, KeyError, IndexError, ValueError) as exc:
        out.rejected.append(Rejected(label, f"not an HL7 v2 message: {exc}"))
        return out
    kind = _field(msh, 9)
    if not kind.startswith("ORU^R01"):
        out.rejected.append(Rejected(label, f"expected an ORU^R01 result message, got {kind or 'no MSH-9'}"))
        return out
    try:
        pid = message.segment("PID")
    except KeyError:
        out.rejected.append(Rejected(label, "no PID segment: the patient cannot be mapped to a subject"))
        return out
    identifiers = [_comp(rep) for rep in _field(pid, 3).split("~")]
    subject = site.subject([i for i in identifiers if i])
    if subject is None:
        out.not_subjects += 1
        return out
    sent_at = hl7_time(_field(msh, 7))
    obr: hl7.Segment | None = None
    obx_number = 0
    for segment in message:
        name = str(segment[0])
        if name == "OBR":
            obr, obx_number = segment, 0
        elif name == "OBX":
            obx_number += 1
            where = f"{label} OBR {_field(obr, 1) if obr else '?'} OBX {obx_number}"
            _convert_obx(segment, obr, subject, sent_at, site, memory, out, where)
    return out


def _convert_obx(
    obx: hl7.Segment,
    obr: hl7.Segment | None,
    subject: str,
    sent_at: str | None,
    site: Site,
    memory: ResultMemory,
    out: Converted,
    where: str,
) -> None:
    raw = str(obx)
    code, system = _comp(obx[3], 0), _comp(obx[3], 2)
    if system not in site.spec.codes and _LOINC_CODE.match(code):
        system = LOINC  # OBX-3.3 left out or holding text: a LOINC-shaped code is read as LOINC
    entry = site.code(system or LOINC, code)
    if entry is None:
        out.skipped.append(f"{where}: code {code or '(none)'} ({system or 'no system'}) is not in the site mapping")
        return
    status = _field(obx, 11).strip().upper() or "F"
    filler = _comp(obr[3]) if obr is not None and len(obr) > 3 else ""
    if not filler:
        out.rejected.append(Rejected(where, "no filler order number (OBR-3): the result has no stable id", raw))
        return
    event_id = f"{site.name}-{filler}-{entry.test}"
    if status == "U":
        promoted = memory.promote(event_id)
        if promoted is None:
            out.rejected.append(Rejected(where, f"status U for {event_id}: no preliminary result of it is held", raw))
        else:
            out.events.append(promoted)
        return
    occurred = hl7_time(_field(obr, 7) if obr is not None else "") or hl7_time(_field(obx, 14))
    recorded = (hl7_time(_field(obr, 22)) if obr is not None else None) or sent_at
    value = _value(_field(obx, 2).strip().upper(), _field(obx, 5))
    event: Event | None = None
    if occurred is not None and value is not None:
        low, high = reference_range(_field(obx, 7))
        event = {
            "type": entry.type,
            "event_id": event_id,
            "study_id": site.spec.study_id,
            "subject_id": subject,
            "occurred_at": occurred,
            "recorded_at": recorded,
            "source": site.spec.source,
            "test": entry.test,
            "value": value,
            "unit": site.unit(_comp(obx[6])),
        }
        if entry.type == "lab":
            event.update(ref_low=low, ref_high=high, status="corrected" if status == "C" else "final")
            if system == LOINC:
                event["loinc"] = code
        event = {k: v for k, v in event.items() if v is not None}
    if status in RETRACTING or status == "X":
        retraction = memory.retract(event_id, event if status != "X" else None)
        if isinstance(retraction, dict):
            out.events.append(retraction)
        elif status != "X" or event_id in memory.emitted:
            out.rejected.append(Rejected(where, f"status {status}: {retraction}", raw))
        return
    if status not in ("F", "C", "P"):
        out.skipped.append(f"{where}: status {status} is not a result")
        return
    if event is None:
        missing = "a numeric value (OBX-5)" if value is None else "a time (OBR-7 or OBX-14)"
        out.rejected.append(Rejected(where, f"{entry.test} result without {missing}", raw))
        return
    if status == "P":
        memory.hold(event)
        out.skipped.append(f"{where}: preliminary {entry.test} held until final")
        return
    out.events.append(memory.revise(event, corrected=status == "C"))


def convert_text(text: str, site: Site, memory: ResultMemory, *, label: str = "file") -> Converted:
    """Every message of a file, in order."""
    out = Converted()
    for number, message in enumerate(split_messages(text), start=1):
        out.extend(convert_message(message, site, memory, label=f"{label} message {number}"))
    return out
