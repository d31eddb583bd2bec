"""Adapters that turn what a site's systems send (HL7 v2, FHIR R4, JSON, SDTM exports) into contract events
(docs/architecture.md). Names are imported on first use (streams/exports.py), so a module of this package loads alone.
"""

from typing import TYPE_CHECKING

from streams.exports import lazy_exports

if TYPE_CHECKING:
    from streams.feeds.fhir import convert_resource as convert_resource
    from streams.feeds.hl7v2 import convert_text as convert_text
    from streams.feeds.live import register as register
    from streams.feeds.results import Converted as Converted
    from streams.feeds.sdtm import SdtmMapper as SdtmMapper
    from streams.feeds.site import Site as Site
    from streams.feeds.site import load_site as load_site

_HOMES = {
    "Converted": "results",
    "SdtmMapper": "sdtm",
    "Site": "site",
    "convert_resource": "fhir",
    "convert_text": "hl7v2",
    "load_site": "site",
    "register": "live",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
