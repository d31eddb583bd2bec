"""FHIR R4 Observation, AdverseEvent and Bundle (batch, transaction, subscription notification) -> events.

fhir.resources' R4B models, since its default R5 models reject an R4 AdverseEvent. Observation.status final,
amended and corrected are graded (amended/corrected as a correction), preliminary and registered are held back,
entered-in-error and cancelled retract with a ``cancelled`` revision (streams/feeds/results.py). The subject
reference (``Patient/<id>``) or identifier is mapped to the subject code by the site's mapping and dropped, with
the resource's narrative and display names: a rejection quotes only resourceType, id, status and code.

R4 seriousness says serious or not, without the criterion (R5 and ICH E2B name it): a serious AE becomes
``medically_important`` unless a coding names one of the contract's criteria, and a fatal outcome adds ``death``,
so the SAE path runs and the reviewer sees which criterion was assumed. The CTCAE term is a coding of
AdverseEvent.event whose system names CTCAE (an EDC codes its terms so), else the MedDRA coding's display.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from safety.vocab import SERIOUSNESS
from streams.feeds.results import Converted, Event, Rejected, ResultMemory
from streams.feeds.site import LOINC, Site

LOINC_SYSTEM = "http://loinc.org"
GRADED = {"final": False, "amended": True, "corrected": True}
HELD = frozenset({"preliminary", "registered"})
RETRACTING = frozenset({"entered-in-error", "cancelled"})
SEVERITY_GRADES = {"mild": 1, "moderate": 2, "severe": 3}
CAUSALITY = {
    "certain": "related",
    "probably-likely": "probable",
    "possible": "possible",
    "unlikely": "unlikely",
    "conditional": "unassessable",
    "unassessable": "unassessable",
    "unassessable-unclassifiable": "unassessable",
    "related": "related",
    "unrelated": "unrelated",
    "not related": "unrelated",
}
CRITERIA = SERIOUSNESS
BUNDLE_TYPES = frozenset({"batch", "transaction", "history", "collection", "subscription-notification"})


def _shown(resource: dict[str, Any]) -> str:
    """What a rejection may quote of a resource: never its subject, narrative, performer or identifiers."""
    return json.dumps({k: resource[k] for k in ("resourceType", "id", "status", "code") if k in resource})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _identifiers(ref: Reference | None) -> list[str]:
    if ref is None:
        return []
    found = []
    if ref.reference:
        found.append(ref.reference.rsplit("/", 1)[-1])
    if ref.identifier is not None and ref.identifier.value:
        found.append(ref.identifier.value)
    return found


def _codings(concept: CodeableConcept | None) -> list[tuple[str, str, str]]:
    if concept is None or not concept.coding:
        return []
    return [(c.system or "", c.code or "", c.display or "") for c in concept.coding]


def convert_observation(data: dict[str, Any], site: Site, memory: ResultMemory, where: str) -> Converted:
    out = Converted()
    try:
        obs = Observation.model_validate(data)
    except ValidationError as exc:
        out.rejected.append(Rejected(where, f"not a valid FHIR R4 Observation: {exc.errors()[0]['msg']}", _shown(data)))
        return out
    subject = site.subject(_identifiers(obs.subject))
    if subject is None:
        out.not_subjects += 1
        return out
    entry = loinc = None
    for system, code, _ in _codings(obs.code):
        entry = site.code(LOINC if system == LOINC_SYSTEM else system, code)
        if entry is not None:
            loinc = code if system == LOINC_SYSTEM else None
            break
    if entry is None:
        out.skipped.append(f"{where}: no coding of Observation.code is in the site mapping")
        return out
    event_id = f"{site.name}-obs-{obs.id or (obs.identifier[0].value if obs.identifier else '')}"
    if event_id.endswith("-obs-"):
        out.rejected.append(
            Rejected(where, "Observation without id or identifier: the result has no stable id", _shown(data))
        )
        return out
    occurred = (
        obs.effectiveDateTime
        or (obs.effectivePeriod.start if obs.effectivePeriod else None)
        or obs.effectiveInstant
        or obs.issued
    )
    quantity = obs.valueQuantity
    event: Event | None = None
    if occurred is not None and quantity is not None and quantity.value is not None:
        value: Any = float(quantity.value)
        if quantity.comparator:
            value = f"{quantity.comparator}{quantity.value}"
        event = {
            "type": entry.type,
            "event_id": event_id,
            "study_id": site.spec.study_id,
            "subject_id": subject,
            "occurred_at": occurred.isoformat() if isinstance(occurred, datetime) else str(occurred),
            "recorded_at": _iso(obs.issued),
            "source": "FHIR",
            "test": entry.test,
            "value": value,
            "unit": site.unit(quantity.code or quantity.unit),
        }
        if entry.type == "lab":
            ranges = obs.referenceRange or []
            low = ranges[0].low.value if ranges and ranges[0].low else None
            high = ranges[0].high.value if ranges and ranges[0].high else None
            event.update(
                ref_low=None if low is None else float(low),
                ref_high=None if high is None else float(high),
                status="corrected" if GRADED.get(obs.status or "") else "final",
                loinc=loinc,
            )
        event = {k: v for k, v in event.items() if v is not None}
    if obs.status in RETRACTING:
        retraction = memory.retract(event_id, event)
        if isinstance(retraction, dict):
            out.events.append(retraction)
        else:
            out.rejected.append(Rejected(where, f"{obs.status}: {retraction}", _shown(data)))
        return out
    if event is None:
        missing = "valueQuantity" if occurred is not None else "effective[x] or issued"
        out.rejected.append(Rejected(where, f"{entry.test} Observation without {missing}", _shown(data)))
        return out
    if obs.status in HELD:
        memory.hold(event)
        out.skipped.append(f"{where}: {obs.status} {entry.test} held until final")
        return out
    if obs.status not in GRADED:
        out.skipped.append(f"{where}: status {obs.status} is not a result")
        return out
    out.events.append(memory.revise(event, corrected=GRADED[obs.status]))
    return out


def _grade(ae: AdverseEvent) -> int | None:
    for system, code, _ in _codings(ae.severity):
        if code.isdigit() and 1 <= int(code) <= 5 and "ctcae" in system.lower():
            return int(code)
        if code.lower() in SEVERITY_GRADES:
            return SEVERITY_GRADES[code.lower()]
    return None


def _serious(ae: AdverseEvent) -> list[str]:
    codes = [code.lower().replace("-", "_") for _, code, _ in _codings(ae.seriousness)]
    named: list[str] = [c for c in CRITERIA if c in codes]
    if not named and "serious" in codes:
        named = ["medically_important"]
    if any(code.lower() == "fatal" for _, code, _ in _codings(ae.outcome)) and "death" not in named:
        named.insert(0, "death")
    return named


def _causality(ae: AdverseEvent) -> str | None:
    for suspect in ae.suspectEntity or []:
        for causality in suspect.causality or []:
            for _, code, display in _codings(causality.assessment):
                mapped = CAUSALITY.get(code.lower()) or CAUSALITY.get(display.lower())
                if mapped:
                    return mapped
    return None


def convert_adverse_event(data: dict[str, Any], site: Site, where: str) -> Converted:
    out = Converted()
    try:
        ae = AdverseEvent.model_validate(data)
    except ValidationError as exc:
        out.rejected.append(
            Rejected(where, f"not a valid FHIR R4 AdverseEvent: {exc.errors()[0]['msg']}", _shown(data))
        )
        return out
    subject = site.subject(_identifiers(ae.subject))
    if subject is None:
        out.not_subjects += 1
        return out
    if ae.actuality == "potential":
        out.skipped.append(f"{where}: a potential adverse event (actuality potential) is not an event")
        return out
    codings = _codings(ae.event)
    meddra = next(
        ((code, display) for system, code, display in codings if "mdr" in system.lower() or "meddra" in system.lower()),
        None,
    )
    ctcae = next((display or code for system, code, display in codings if "ctcae" in system.lower()), None)
    term = (ae.event.text if ae.event is not None else None) or next((d for _, _, d in codings if d), None)
    grade = _grade(ae)
    if ae.date is None or not term or grade is None:
        missing = "date" if ae.date is None else "event text or display" if not term else "severity"
        out.rejected.append(Rejected(where, f"AdverseEvent without {missing}", _shown(data)))
        return out
    ident = ae.id or (ae.identifier.value if ae.identifier else None)
    if not ident:
        out.rejected.append(Rejected(where, "AdverseEvent without id or identifier", _shown(data)))
        return out
    revision = int(ae.meta.versionId) if ae.meta and ae.meta.versionId and ae.meta.versionId.isdigit() else 1
    event: Event = {
        "type": "adverse_event",
        "event_id": f"{site.name}-ae-{ident}",
        "revision": revision,
        "study_id": site.spec.study_id,
        "subject_id": subject,
        "occurred_at": ae.date.isoformat(),
        "recorded_at": _iso(ae.recordedDate),
        "source": "FHIR",
        "term": term,
        "grade": grade,
        "serious": _serious(ae),
        "causality": _causality(ae),
        "meddra_code": meddra[0] if meddra else None,
        "ctcae_term": ctcae or (meddra[1] if meddra and meddra[1] else None),
    }
    out.events.append({k: v for k, v in event.items() if v is not None})
    return out


def convert_resource(data: Any, site: Site, memory: ResultMemory, where: str = "resource") -> Converted:
    """One resource of any supported type (a Bundle: each entry, located as ``entry[i]``)."""
    if not isinstance(data, dict):
        return Converted(rejected=[Rejected(where, "expected a FHIR resource (a JSON object)")])
    kind = data.get("resourceType")
    if kind == "Observation":
        return convert_observation(data, site, memory, where)
    if kind == "AdverseEvent":
        return convert_adverse_event(data, site, where)
    if kind == "Bundle":  # its entries are located as FHIRPath has them: Bundle.entry[i]
        return convert_bundle(data, site, memory, "Bundle" if where == "resource" else where)
    if kind in ("SubscriptionStatus", "Parameters"):  # the notification's own status entry
        return Converted()
    return Converted(
        rejected=[
            Rejected(
                where,
                f"resourceType {kind!r} is not accepted: send Observation, AdverseEvent or a Bundle of them",
                _shown(data),
            )
        ]
    )


def convert_bundle(data: dict[str, Any], site: Site, memory: ResultMemory, where: str = "Bundle") -> Converted:
    """Each entry on its own; a transaction is all or nothing (any rejected entry: no event at all)."""
    kind = data.get("type")
    if kind not in BUNDLE_TYPES:
        return Converted(
            rejected=[Rejected(where, f"Bundle.type {kind!r}: send a batch, transaction or subscription notification")]
        )
    out = Converted()
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            continue  # an id-only notification entry: nothing to convert
        out.extend(convert_resource(resource, site, memory, f"{where}.entry[{index}]"))
    if kind == "transaction" and out.rejected:
        out.skipped.extend(f"{where}: transaction not applied ({e['event_id']})" for e in out.events)
        out.events = []
    return out


def operation_outcome(rejected: list[Rejected]) -> dict[str, Any]:
    """An OperationOutcome with one issue per rejected part (location = where it was)."""
    issues = [
        {"severity": "error", "code": "processing", "diagnostics": r.reason, "location": [r.where]} for r in rejected
    ]
    if not issues:
        issues = [{"severity": "information", "code": "informational", "diagnostics": "accepted"}]
    return {"resourceType": "OperationOutcome", "issue": issues}
