"""A rules file as the shell read it: the core parses and validates rules, it never opens them.

``name`` locates the file in error messages ("rules/ctcae_v5.yaml", or the path a study file was given as);
``data`` is its bytes, parsed here and hashed into each alert's ``rules_version`` (safety/rules/ruleset.py), so the
rules an alert was raised under are exactly the bytes that were validated.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import yaml

from safety.errors import RuleFileError

_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Document(NamedTuple):
    """One rules file: where it came from (for messages only) and its bytes."""

    name: str
    data: bytes


def parse_yaml(document: Document) -> Any:
    """The YAML of ``document`` (a safe loader: data only, never objects), or a RuleFileError naming the file."""
    try:
        return yaml.load(document.data, Loader=_LOADER)  # noqa: S506 - a safe loader (C when available)
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{document.name}: not valid YAML: {exc}") from None
