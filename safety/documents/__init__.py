"""The documents of an SAE or a SUSAR as pure records: the case and its versions (``build_cases``), the site's
bilingual SAE report (``sae_report``), CIOMS I (``cioms``) and the E2B(R3) codes. The shell renders them
(streams/documents/): PDF, HTML and XML."""

from safety.documents.case import Case, CaseVersion, PiEntry, build_cases, pi_entries_from
from safety.documents.cioms import Cioms, cioms
from safety.documents.sae_report import SaeReport, sae_report

__all__ = [
    "Case",
    "CaseVersion",
    "Cioms",
    "PiEntry",
    "SaeReport",
    "build_cases",
    "cioms",
    "pi_entries_from",
    "sae_report",
]
