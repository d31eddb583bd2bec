"""The documents of an SAE or a SUSAR as pure records: the case and its versions (``build_cases``), the site's
bilingual SAE report (``sae_report``), CIOMS I (``cioms``), the E2B(R3) codes and the cumulative line listing of
a period (``line_listing``). The shell renders them
(streams/documents/): PDF, HTML and XML."""

from safety.documents.case import Case, CaseVersion, PiEntry, build_cases, pi_entries_from
from safety.documents.cioms import Cioms, cioms
from safety.documents.listing import COLUMNS as LISTING_COLUMNS
from safety.documents.listing import HEADINGS as LISTING_HEADINGS
from safety.documents.listing import ListingRow, line_listing
from safety.documents.sae_report import SaeReport, sae_report

__all__ = [
    "Case",
    "CaseVersion",
    "Cioms",
    "LISTING_COLUMNS",
    "LISTING_HEADINGS",
    "ListingRow",
    "PiEntry",
    "SaeReport",
    "build_cases",
    "cioms",
    "line_listing",
    "pi_entries_from",
    "sae_report",
]
