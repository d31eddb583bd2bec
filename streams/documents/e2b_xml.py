"""ICH E2B(R3) ICSR XML (HL7 v3 MCCI_IN200100UV01 batch, one PORR_IN049016UV message) for a case version.

The structure follows the ICH implementation guide's reference instance and FDA's public E2B(R3) examples (the
trial safety report scenario): C (administrative, study), D (patient, code only), E (reaction), G (suspect
product), H (narrative). ``check`` names every mandatory element the message lacks (a MedDRA code the event did
not send is reported missing, never invented); when Settings ``documents.e2b_schemas`` (``SAFETY_E2B_SCHEMAS``)
points at the unpacked ICH IG package (its ``multicacheschemas/MCCI_IN200100UV01.xsd``), the message is also
validated against the ICH schemas, which are not redistributable and so not in this repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs; lxml-stubs is not a dependency

from safety.documents import CaseVersion, e2b
from safety.errors import SafetyError

HL7: Final = "urn:hl7-org:v3"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
NS: Final = {"h": HL7}
SCHEMA_ENV: Final = "SAFETY_E2B_SCHEMAS"
SCHEMA_FILE: Final = Path("multicacheschemas") / "MCCI_IN200100UV01.xsd"

# (E2B item, what it is, where it is in the message): the elements a receiver refuses a report without.
MANDATORY: Final = (
    ("N.1.2", "batch number", "h:id/@extension"),
    ("N.1.5", "batch transmission date", "h:creationTime/@value"),
    ("N.2.r.1", "message identifier", "h:PORR_IN049016UV/h:id/@extension"),
    (
        "C.1.1",
        "sender's safety report unique identifier",
        "//h:investigationEvent/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension",
    ),
    ("C.1.2", "date of creation", "//h:controlActProcess/h:effectiveTime/@value"),
    ("C.1.3", "type of report", "//h:investigationCharacteristic[h:code/@code='1']/h:value/@code"),
    ("C.1.4", "date report was first received from source", "//h:investigationEvent/h:effectiveTime/h:low/@value"),
    ("C.1.5", "date of most recent information", "//h:investigationEvent/h:availabilityTime/@value"),
    (
        "C.1.7",
        "does this case fulfil the local criteria for an expedited report",
        "//h:investigationCharacteristic[h:code/@code='3']/h:value/@value",
    ),
    (
        "C.1.8.1",
        "worldwide unique case identification number",
        "//h:investigationEvent/h:id[@root='2.16.840.1.113883.3.989.2.1.3.2']/@extension",
    ),
    (
        "C.2.r.4",
        "primary source qualification",
        "//h:relatedInvestigation/h:subjectOf2/h:controlActEvent/h:author/h:assignedEntity/h:code/@code",
    ),
    (
        "C.3.1",
        "sender type",
        "//h:investigationEvent/h:subjectOf1/h:controlActEvent/h:author/h:assignedEntity/h:code/@code",
    ),
    ("C.5.1.r.1", "study registration number", "//h:researchStudy/h:authorization/h:studyRegistration/h:id/@extension"),
    ("C.5.3", "sponsor study number", "//h:researchStudy/h:id/@extension"),
    ("C.5.4", "study type where the reaction was observed", "//h:researchStudy/h:code/@code"),
    ("D.1", "patient (name or initials, masked: the subject code is elsewhere)", "//h:primaryRole/h:player1/h:name"),
    (
        "E.i.2.1b",
        "reaction MedDRA code",
        f"//h:observation[h:code/@code='29']/h:value[@codeSystem='{e2b.OID_MEDDRA}']/@code",
    ),
    ("E.i.7", "outcome of reaction", "//h:observation[h:code/@code='27']/h:value/@code"),
    ("G.k.1", "characterisation of drug role", "//h:causalityAssessment[h:code/@code='20']/h:value/@code"),
    ("G.k.2.2", "medicinal product name as reported", "//h:kindOfProduct/h:name"),
)
WHY: Final = {
    "E.i.2.1b": "the event carries no MedDRA code, and none is invented: code the term in MedDRA (a licence the "
    "site may need to obtain) and send a revision with meddra_code",
    "E.i.7": "the event reports no outcome: send a revision with the outcome",
}


@dataclass(frozen=True)
class Icsr:
    xml: bytes
    missing: tuple[str, ...]  # one line per mandatory element the message lacks, naming it and what to do


def _ts(at: datetime) -> str:
    return at.strftime("%Y%m%d%H%M%S%z")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(
        parent,
        f"{{{HL7}}}{tag}",
        {k.replace("_", ":") if k == "xsi_type" else k: v for k, v in attrs.items() if k != "xsi_type"},
    )
    if "xsi_type" in attrs:
        element.set(f"{{{XSI}}}type", attrs["xsi_type"])
    if text is not None:
        element.text = text
    return element


def _observation(parent: etree._Element, obs_code: str, value_type: str, **value: str) -> etree._Element:
    obs = _el(parent, "observation", classCode="OBS", moodCode="EVN")
    _el(obs, "code", code=obs_code, codeSystem=e2b.OID_OBSERVATION)
    _el(obs, "value", xsi_type=value_type, **value)
    return obs


def _characteristic(parent: etree._Element, char_code: str, value_type: str, **value: str) -> None:
    subject = _el(parent, "subjectOf2", typeCode="SUBJ")
    ch = _el(subject, "investigationCharacteristic", classCode="OBS", moodCode="EVN")
    _el(ch, "code", code=char_code, codeSystem=e2b.OID_CHARACTERISTIC)
    _el(ch, "value", xsi_type=value_type, **value)


def build(case: CaseVersion) -> etree._Element:
    c = case.constants
    report_id = e2b.safety_report_id(case)
    created = _ts(case.report_date)
    root = etree.Element(f"{{{HL7}}}MCCI_IN200100UV01", nsmap={None: HL7, "xsi": XSI}, ITSVersion="XML_1.0")
    root.set(f"{{{XSI}}}schemaLocation", "urn:hl7-org:v3 multicacheschemas/MCCI_IN200100UV01.xsd")
    _el(root, "id", root="2.16.840.1.113883.3.989.2.1.3.22", extension=e2b.message_id(case))
    _el(root, "creationTime", value=created)
    _el(root, "responseModeCode", code="D")
    _el(root, "interactionId", root="2.16.840.1.113883.1.6", extension="MCCI_IN200100UV01")
    _el(root, "name", code="1", codeSystem="2.16.840.1.113883.3.989.2.1.1.1")
    msg = _el(root, "PORR_IN049016UV")
    _el(msg, "id", root="2.16.840.1.113883.3.989.2.1.3.1", extension=e2b.message_id(case))
    _el(msg, "creationTime", value=created)
    _el(msg, "interactionId", root="2.16.840.1.113883.1.6", extension="PORR_IN049016UV")
    _el(msg, "processingCode", code="P")
    _el(msg, "processingModeCode", code="T")
    _el(msg, "acceptAckCode", code="AL")
    for role, oid, ident in (
        ("receiver", "2.16.840.1.113883.3.989.2.1.3.12", c.receiver_identifier),
        ("sender", "2.16.840.1.113883.3.989.2.1.3.11", c.sender_identifier),
    ):
        party = _el(msg, role, typeCode="RCV" if role == "receiver" else "SND")
        device = _el(party, "device", classCode="DEV", determinerCode="INSTANCE")
        _el(device, "id", root=oid, extension=ident)
    act = _el(msg, "controlActProcess", classCode="CACT", moodCode="EVN")
    _el(act, "code", code="PORR_TE049016UV", codeSystem="2.16.840.1.113883.1.18")
    _el(act, "effectiveTime", value=created)
    inv = _el(_el(act, "subject", typeCode="SUBJ"), "investigationEvent", classCode="INVSTG", moodCode="EVN")
    _el(inv, "id", root="2.16.840.1.113883.3.989.2.1.3.1", extension=report_id)
    _el(inv, "id", root="2.16.840.1.113883.3.989.2.1.3.2", extension=report_id)
    _el(inv, "code", code="PAT_ADV_EVNT", codeSystem="2.16.840.1.113883.5.4")
    if case.pi is not None and case.pi.narrative:
        _el(inv, "text", case.pi.narrative)  # H.1: written by the investigator for the report
    _el(inv, "statusCode", code="active")
    _el(_el(inv, "effectiveTime"), "low", value=_ts(case.first_known))
    _el(inv, "availabilityTime", value=created)
    assessment = _el(
        _el(inv, "component", typeCode="COMP"), "adverseEventAssessment", classCode="INVSTG", moodCode="EVN"
    )
    role = _el(_el(assessment, "subject1", typeCode="SBJ"), "primaryRole", classCode="INVSBJ")
    player = _el(role, "player1", classCode="PSN", determinerCode="INSTANCE")
    _el(player, "name", nullFlavor="MSK")  # D.1: the trial identifies its subjects by code only
    if case.sex:
        _el(player, "administrativeGenderCode", code=e2b.SEX_CODES[case.sex], codeSystem=e2b.OID_SEX)
    study = _el(_el(role, "subjectOf1", typeCode="SBJ"), "researchStudy", classCode="CLNTRL", moodCode="EVN")
    _el(study, "id", root="2.16.840.1.113883.3.989.2.1.3.5", extension=c.sponsor_study_number)
    _el(study, "code", code=e2b.CLINICAL_TRIAL, codeSystem=e2b.OID_STUDY_TYPE)
    _el(study, "title", c.trial_title.en)
    registration = _el(
        _el(study, "authorization", typeCode="AUTH"), "studyRegistration", classCode="ACT", moodCode="EVN"
    )
    _el(registration, "id", root="2.16.840.1.113883.3.989.2.1.3.6", extension=c.registration_number)
    place = _el(
        _el(_el(registration, "author", typeCode="AUT"), "territorialAuthority", classCode="TERR"),
        "governingPlace",
        classCode="COUNTRY",
        determinerCode="INSTANCE",
    )
    _el(place, "code", code=c.country, codeSystem=e2b.OID_COUNTRY)
    if case.age is not None:  # D.2.2: age at onset (the age given at enrolment)
        _observation(_el(role, "subjectOf2", typeCode="SBJ"), "3", "PQ", value=str(case.age), unit="a")
    reaction = _observation(_el(role, "subjectOf2", typeCode="SBJ"), "29", "CE")
    reaction_id = f"{report_id}-reaction-1"
    reaction.insert(0, etree.Element(f"{{{HL7}}}id", root="2.16.840.1.113883.3.989.2.1.3.20", extension=reaction_id))
    value = reaction.find("h:value", NS)
    assert value is not None
    if case.meddra_code:
        value.set("code", case.meddra_code)
        value.set("codeSystem", e2b.OID_MEDDRA)
    _el(value, "originalText", f"{case.ctcae_term} (CTCAE v{case.ctcae_version}, grade {case.grade})")
    when = etree.Element(f"{{{HL7}}}effectiveTime")
    when.set(f"{{{XSI}}}type", "IVL_TS")
    _el(when, "low", value=_ts(case.onset))
    if case.ended_at:
        _el(when, "high", value=_ts(case.ended_at))
    value.addprevious(when)
    for criterion, code in e2b.SERIOUSNESS_CODES.items():
        related = _el(reaction, "outboundRelationship2", typeCode="PERT")
        _observation(related, code, "BL", value="true" if criterion in case.seriousness else "false")
    if case.outcome in e2b.OUTCOME_CODES:
        related = _el(reaction, "outboundRelationship2", typeCode="PERT")
        _observation(related, "27", "CE", code=e2b.OUTCOME_CODES[case.outcome or ""], codeSystem=e2b.OID_OUTCOME)
    drugs = _el(_el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN")
    _el(drugs, "code", code="4", codeSystem="2.16.840.1.113883.3.989.2.1.1.20")
    drug_id = f"{report_id}-drug-1"
    admin = _el(_el(drugs, "component", typeCode="COMP"), "substanceAdministration", classCode="SBADM", moodCode="EVN")
    _el(admin, "id", root="2.16.840.1.113883.3.989.2.1.3.21", extension=drug_id)
    product = _el(
        _el(_el(admin, "consumable", typeCode="CSM"), "instanceOfKind", classCode="INST"),
        "kindOfProduct",
        classCode="MMAT",
        determinerCode="KIND",
    )
    _el(product, "name", c.product.name.en)
    for infusion in case.infusions:  # G.k.4.r: one dosage per infusion
        dosage = _el(
            _el(admin, "outboundRelationship2", typeCode="COMP"),
            "substanceAdministration",
            classCode="SBADM",
            moodCode="EVN",
        )
        period = _el(dosage, "effectiveTime", xsi_type="IVL_TS")
        _el(period, "low", value=_ts(infusion.at))
        _el(period, "high", value=_ts(infusion.at))
        _el(dosage, "routeCode", code=c.product.route_code, codeSystem=e2b.OID_ROUTE)
        if infusion.dose_per_kg is not None:
            _el(
                dosage,
                "doseQuantity",
                value=f"{infusion.dose_per_kg / c.product.dose_scale:g}",
                unit=c.product.dose_unit,
            )
    if case.pi is not None and case.pi.action_taken:
        act_taken = _el(_el(admin, "inboundRelationship", typeCode="CAUS"), "act", classCode="ACT", moodCode="EVN")
        _el(act_taken, "code", code=e2b.ACTION_CODES[case.pi.action_taken], codeSystem=e2b.OID_ACTION)
    role_assessment = _el(
        _el(assessment, "component", typeCode="COMP"), "causalityAssessment", classCode="OBS", moodCode="EVN"
    )
    _el(role_assessment, "code", code="20", codeSystem=e2b.OID_OBSERVATION)
    _el(role_assessment, "value", xsi_type="CE", code=e2b.SUSPECT, codeSystem=e2b.OID_DRUG_ROLE)
    _el(
        _el(role_assessment, "subject2", typeCode="SUBJ"), "productUseReference", classCode="SBADM", moodCode="EVN"
    ).append(etree.Element(f"{{{HL7}}}id", root="2.16.840.1.113883.3.989.2.1.3.21", extension=drug_id))
    if case.causality_wording is not None:  # G.k.9.i.2.r: the investigator's assessment, as the site words it
        causality = _el(
            _el(assessment, "component", typeCode="COMP"), "causalityAssessment", classCode="OBS", moodCode="EVN"
        )
        _el(causality, "code", code="39", codeSystem=e2b.OID_OBSERVATION)
        _el(causality, "value", case.causality_wording.en, xsi_type="ST")
        _el(_el(causality, "methodCode"), "originalText", "Site five-level causality scale")
        source = _el(_el(_el(causality, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED"), "code")
        _el(source, "originalText", "Investigator")
        _el(
            _el(causality, "subject1", typeCode="SUBJ"), "adverseEffectReference", classCode="OBS", moodCode="EVN"
        ).append(etree.Element(f"{{{HL7}}}id", root="2.16.840.1.113883.3.989.2.1.3.20", extension=reaction_id))
        _el(
            _el(causality, "subject2", typeCode="SUBJ"), "productUseReference", classCode="SBADM", moodCode="EVN"
        ).append(etree.Element(f"{{{HL7}}}id", root="2.16.840.1.113883.3.989.2.1.3.21", extension=drug_id))
    source_report = _el(
        _el(inv, "outboundRelationship", typeCode="SPRT"), "relatedInvestigation", classCode="INVSTG", moodCode="EVN"
    )
    _el(source_report, "code", code="2", codeSystem="2.16.840.1.113883.3.989.2.1.1.22")
    primary = _el(
        _el(_el(source_report, "subjectOf2", typeCode="SUBJ"), "controlActEvent", classCode="CACT", moodCode="EVN"),
        "author",
        typeCode="AUT",
    )
    reporter = _el(primary, "assignedEntity", classCode="ASSIGNED")
    _el(reporter, "code", code=e2b.PHYSICIAN, codeSystem=e2b.OID_QUALIFICATION)
    sender = _el(
        _el(_el(inv, "subjectOf1", typeCode="SUBJ"), "controlActEvent", classCode="CACT", moodCode="EVN"),
        "author",
        typeCode="AUT",
    )
    sender_entity = _el(sender, "assignedEntity", classCode="ASSIGNED")
    _el(sender_entity, "code", code="3", codeSystem="2.16.840.1.113883.3.989.2.1.1.7")  # C.3.1: health professional
    _characteristic(inv, "1", "CE", code=e2b.REPORT_FROM_STUDY, codeSystem=e2b.OID_REPORT_TYPE)
    _characteristic(inv, "3", "BL", value="true" if case.susar else "false")
    return root


def check(root: etree._Element) -> tuple[str, ...]:
    """Each mandatory element the message lacks, as 'item (what): why / what to do'."""
    missing = []
    for item, what, path in MANDATORY:
        found = root.xpath(path, namespaces=NS)
        if not found or (isinstance(found, list) and not any(str(f).strip() or len(f) for f in found)):
            missing.append(f"{item} ({what}): {WHY.get(item, 'missing')}")
    return tuple(missing)


def validate_against_ich(xml: bytes, schemas: Path) -> tuple[str, ...]:
    """Errors of ``xml`` against the ICH E2B(R3) schemas unpacked at ``schemas`` (xmlschema)."""
    import xmlschema

    xsd = schemas / SCHEMA_FILE
    if not xsd.exists():
        raise SafetyError(
            f"{SCHEMA_ENV}={schemas}: {SCHEMA_FILE} not found; point it at the unpacked ICH E2B(R3) "
            "implementation guide package (the folder that holds multicacheschemas/)"
        )
    schema = xmlschema.XMLSchema(str(xsd))
    return tuple(f"ICH schema: {error.reason} at {error.path}" for error in schema.iter_errors(xml.decode()))


def icsr(case: CaseVersion, schemas: Path | None = None) -> Icsr:
    """The ICSR of ``case`` and what it lacks; with ``schemas`` (Settings ``documents.e2b_schemas``) also its
    errors against the ICH schemas."""
    root = build(case)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = check(root)
    if schemas is not None:
        problems += validate_against_ich(xml, schemas)
    return Icsr(xml=xml, missing=problems)
