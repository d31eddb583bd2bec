"""Lazy re-exports for the shell's packages, so importing one module does not import its package's frameworks.

``from streams.web import make_web_app`` works, yet ``import streams.web.auth`` (which the settings need) does not
load aiohttp, and ``import streams.cli`` loads no faust: each name is imported from its module on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` resolving each name to ``<package>.<homes[name]>.<name>``."""

    def attribute(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return attribute
