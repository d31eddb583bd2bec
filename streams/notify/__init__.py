"""Sending messages: the apprise channels and their configuration, checked at start against what the protocols
require. Names are imported on first use (streams/exports.py), so a module of this package loads alone.
"""

from typing import TYPE_CHECKING

from streams.exports import lazy_exports

if TYPE_CHECKING:
    from streams.notify.channels import Notifier as Notifier
    from streams.notify.channels import load_notifier as load_notifier

_HOMES = {
    "Notifier": "channels",
    "load_notifier": "channels",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
