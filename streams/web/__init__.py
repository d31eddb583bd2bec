"""The web side of the worker: the safety pages and the ethics feed, acknowledgements, role tokens and signed links,
and the metrics page. Names are imported on first use (streams/exports.py), so a module of this package loads alone.
"""

from typing import TYPE_CHECKING

from streams.exports import lazy_exports

if TYPE_CHECKING:
    from streams.web.acks import make_web_app as make_web_app
    from streams.web.auth import ack_link as ack_link
    from streams.web.auth import parse_tokens as parse_tokens
    from streams.web.metrics import SafetyMetrics as SafetyMetrics
    from streams.web.pages import Pages as Pages

_HOMES = {
    "Pages": "pages",
    "SafetyMetrics": "metrics",
    "ack_link": "auth",
    "make_web_app": "acks",
    "parse_tokens": "auth",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
