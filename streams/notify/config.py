"""Checks of the apprise configuration file (SAFETY_NOTIFY_CONFIG) that apprise itself does not refuse.

apprise drops an invalid e-mail address with a WARNING log line only ("Dropped invalid To email"), and some it
drops silently ("b@exa mple.org"): the recipient gets nothing, or, when every ``to`` of a URL is dropped, the mail
goes to the sender's own address. A misspelt tag ("ethic") leaves its URL unused. Either is a misrouted alert, so
``streams.notify.channels.load_apprise_channels`` refuses to start on them, with one line naming the file, the key, the
bad value and, for a tag, the nearest recipient role (README, "Settings are checked the same way").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from safety.errors import DeliveryConfigError
from safety.rules.protocol import did_you_mean
from safety.vocab import ROLES

ADDRESS_KEYS = ("to", "cc", "bcc")
_DROPPED = re.compile(r"(?:Dropped|Ignoring) invalid (.+?) \((.*)\) specified")


def _valid_email(text: str) -> bool:
    """Every character of ``text`` belongs to an address apprise accepts (``Name <a@b.org>`` included)."""
    from apprise.utils.parse import is_email, parse_emails

    found: list[str] = parse_emails(text)  # type: ignore[no-untyped-call]
    every_one_valid = all(is_email(a) for a in found)  # type: ignore[no-untyped-call]
    nothing_dropped = "".join(found).replace(" ", "") == text.replace(" ", "")
    return bool(found) and every_one_valid and nothing_dropped


def _addresses(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [part.strip() for item in items if isinstance(item, str) for part in re.split(r"[,;]", item) if part.strip()]


def check_addresses(path: Path) -> None:
    """Refuse a ``to``/``cc``/``bcc`` of a YAML config that is not an e-mail address (``${VAR}``: checked later)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # apprise reads the file next and reports what is wrong with it
    if not isinstance(data, dict):
        return  # a TEXT config: addresses live in the URLs, checked through apprise's own warnings
    for i, entry in enumerate(data.get("urls") or []):
        for options in entry.values() if isinstance(entry, dict) else ():
            for j, block in enumerate(options if isinstance(options, list) else [options]):
                if not isinstance(block, dict):
                    continue
                for key in ADDRESS_KEYS:
                    for address in _addresses(block.get(key)):
                        if "${" not in address and not _valid_email(address):
                            raise DeliveryConfigError(
                                f"{path}: urls[{i}][{j}].{key}: {address!r} is not an e-mail address; write it as "
                                "name@domain (apprise would drop it and that recipient silently gets nothing)"
                            )


def dropped_target(path: Path, log_lines: Iterable[str]) -> str | None:
    """The refusal for an address or number apprise dropped while loading (its WARNING lines), else None."""
    for line in log_lines:
        match = _DROPPED.search(line)
        if match:
            return (
                f"{path}: apprise dropped an invalid {match.group(1)} {match.group(2)!r}; correct it (name@domain "
                "for e-mail), a dropped address is a recipient who silently gets nothing"
            )
    return None


def check_roles(path: Path, services: Iterable[Any]) -> None:
    """Refuse a tag that is not a recipient role, bare or as ``<study_id>:<role>`` (README, "Recipients per
    study"): its URL would never be used. Whether the study is known is checked where the studies are loaded."""
    for service in services:
        for tag in sorted(str(t) for t in service.tags):
            if tag.rpartition(":")[2] not in ROLES:
                scheme = str(service.url(privacy=True).split("://", 1)[0]).lower()
                raise DeliveryConfigError(
                    f"{path}: tag {tag!r} of a {scheme} URL is not a recipient role ({', '.join(ROLES)})"
                    f"{did_you_mean(tag, ROLES)}; a URL without a role is never used"
                )
