"""The ICH E2B(R3) code values an ICSR of a case uses, and its identifiers; the XML is built in the shell
(streams/documents/e2b_xml.py).

Codes are the ICH E2B(R3) implementation guide's code lists (OIDs 2.16.840.1.113883.3.989.2.1.1.*). MedDRA codes
are never made up: a reaction carries one only when the event sent a MedDRA code (a licence the site may not have);
without it the report's own check names the missing element.
"""

from __future__ import annotations

from typing import Final

from safety.documents.case import CaseVersion

OID_OBSERVATION: Final = "2.16.840.1.113883.3.989.2.1.1.19"  # observation codes: seriousness, outcome, age ...
OID_OUTCOME: Final = "2.16.840.1.113883.3.989.2.1.1.11"
OID_REPORT_TYPE: Final = "2.16.840.1.113883.3.989.2.1.1.2"
OID_CHARACTERISTIC: Final = "2.16.840.1.113883.3.989.2.1.1.23"
OID_STUDY_TYPE: Final = "2.16.840.1.113883.3.989.2.1.1.8"
OID_ROUTE: Final = "2.16.840.1.113883.3.989.2.1.1.14"
OID_DRUG_ROLE: Final = "2.16.840.1.113883.3.989.2.1.1.20"
OID_ACTION: Final = "2.16.840.1.113883.3.989.2.1.1.15"
OID_MEDDRA: Final = "2.16.840.1.113883.6.163"
OID_SEX: Final = "1.0.5218"
OID_COUNTRY: Final = "1.0.3166.1.2.2"
OID_QUALIFICATION: Final = "2.16.840.1.113883.3.989.2.1.1.6"

SERIOUSNESS_CODES: Final = {  # E.i.3.2a-f
    "death": "34",
    "life_threatening": "21",
    "hospitalization": "33",
    "disability": "35",
    "congenital_anomaly": "12",
    "medically_important": "26",
}
OUTCOME_CODES: Final = {  # E.i.7
    "recovered": "1",
    "recovering": "2",
    "not recovered": "3",
    "recovered with sequelae": "4",
    "fatal": "5",
    "unknown": "0",
}
ACTION_CODES: Final = {  # G.k.8
    "withdrawn": "1",
    "dose_reduced": "2",
    "not_changed": "4",
    "unknown": "0",
    "not_applicable": "9",
}
SEX_CODES: Final = {"M": "1", "F": "2"}  # D.5, ISO 5218
REPORT_FROM_STUDY: Final = "2"  # C.1.3
CLINICAL_TRIAL: Final = "1"  # C.5.4
PHYSICIAN: Final = "1"  # C.2.r.4 qualification
SUSPECT: Final = "1"  # G.k.1 characterisation of drug role


def safety_report_id(case: CaseVersion) -> str:
    """C.1.1 / C.1.8.1: country-sender-case, the same for every version of the case."""
    return f"{case.constants.country}-{case.constants.sender_identifier}-{case.case_id}"


def message_id(case: CaseVersion) -> str:
    """N.2.r.1: one message per version."""
    return f"{safety_report_id(case)}-v{case.version}"
