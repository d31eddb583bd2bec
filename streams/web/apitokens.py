"""Per-person API tokens: a script acts as the person who created its token, with that person's roles and studies.

A shared role token says only "someone with the PI's token"; an acknowledgement made by a script must be as
attributable as one made in the browser (docs/architecture.md, "Identity"). So each person gets their own tokens,
made by ``safety users token create --user NAME --name LABEL``, which prints the token once. The worker accepts it as
``Authorization: Bearer <token>`` and the request acts for that person: their roles and studies come from the users
file at the time of the request (a person removed from the file loses every token at once).

The tokens file (``SAFETY_API_TOKENS_FILE``) is append-only JSON lines, one ``create`` or ``revoke`` record per line,
never rewritten, so it is also the history of who was given a token and when it was withdrawn::

    {"op": "create", "id": "3f9c0a1b2e4d", "user": "dr.wang", "name": "export", "sha256": "…", "at": …, "by": …}
    {"op": "revoke", "id": "3f9c0a1b2e4d", "at": …, "by": …}

Only the SHA-256 of a token is stored, not an argon2 hash: a token is 32 random bytes from ``secrets`` (256 bits),
so there is no dictionary to search and a brute force of the digest is out of reach; a slow, salted hash protects
low-entropy secrets (passwords) and would cost tens of milliseconds of CPU on every API request (a lever for
anyone who can send requests) and a verification per stored token, where the digest finds its record in one
lookup. The worker re-reads the file when it changes, so a revocation holds from the next request on.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from safety.errors import SafetyError

PREFIX = "sst_"  # recognisable in a leaked config or a secret scanner, and never a role token's spelling
LABEL_MAX = 60


class TokensFileError(SafetyError, ValueError):
    """The tokens file cannot be read or written, or a command names a token it does not hold."""


@dataclass(frozen=True)
class TokenRecord:
    """One token as the file knows it: never the token itself."""

    id: str
    user: str
    name: str
    created: str
    revoked: str | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _read(path: Path) -> tuple[dict[str, TokenRecord], dict[str, str]]:
    """(records by id, id by digest) folded from the file's lines; a missing file holds no tokens."""
    records: dict[str, TokenRecord] = {}
    by_digest: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records, by_digest
    except OSError as exc:
        raise TokensFileError(f"{path}: cannot be read ({exc.strerror}); check SAFETY_API_TOKENS_FILE") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if entry["op"] == "create":
                records[entry["id"]] = TokenRecord(entry["id"], entry["user"], entry["name"], entry["at"])
                by_digest[entry["sha256"]] = entry["id"]
            elif entry["op"] == "revoke" and entry["id"] in records:
                old = records[entry["id"]]
                records[old.id] = TokenRecord(old.id, old.user, old.name, old.created, old.revoked or entry["at"])
        except (ValueError, KeyError, TypeError):
            raise TokensFileError(
                f"{path}:{number}: not a token record; the file is written by `safety users token` only"
            ) from None
    return records, by_digest


def _append(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # readable by the service's account only
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def create(path: Path, user: str, name: str, at: datetime, by: str) -> tuple[str, TokenRecord]:
    """A new token for ``user`` (returned once, never stored) and its record."""
    label = " ".join(name.split())
    if not 0 < len(label) <= LABEL_MAX or not label.isprintable():
        raise TokensFileError(f"--name must be one line of 1 to {LABEL_MAX} characters, e.g. 'nightly export'")
    token = new_token()
    record = TokenRecord(secrets.token_hex(6), user, label, at.isoformat())
    _append(
        path,
        {
            "op": "create",
            "id": record.id,
            "user": user,
            "name": label,
            "sha256": digest(token),
            "at": record.created,
            "by": by,
        },
    )
    return token, record


def revocable(path: Path, token_id: str) -> TokenRecord:
    """The active token ``token_id``; refused when the file has no such token or it is revoked already."""
    record = _read(path)[0].get(token_id)
    if record is None:
        raise TokensFileError(f"no token {token_id[:20]!r} in {path}; `safety users token list` shows the ids")
    if record.revoked:
        raise TokensFileError(f"token {token_id} was revoked at {record.revoked} already")
    return record


def revoke(path: Path, token_id: str, at: datetime, by: str) -> TokenRecord:
    """Withdraw the token ``token_id`` (``revocable`` refuses what cannot be withdrawn)."""
    record = revocable(path, token_id)
    _append(path, {"op": "revoke", "id": token_id, "at": at.isoformat(), "by": by})
    return TokenRecord(record.id, record.user, record.name, record.created, at.isoformat())


def listing(path: Path) -> list[TokenRecord]:
    return sorted(_read(path)[0].values(), key=lambda r: (r.user, r.created))


class ApiTokens:
    """The worker's view of the tokens file, read again whenever the file changes (size, time or inode)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._records: dict[str, TokenRecord] = {}
        self._by_digest: dict[str, str] = {}

    def find(self, token: str) -> TokenRecord | None:
        """The record of ``token`` (revoked or not), else None. A digest is looked up, never the token compared."""
        if self.path is None or not token.startswith(PREFIX):
            return None
        self._refresh()
        token_id = self._by_digest.get(digest(token))
        return self._records.get(token_id) if token_id is not None else None

    def _refresh(self) -> None:
        assert self.path is not None
        try:
            stat = self.path.stat()
            seen: tuple[int, int, int] | None = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            self._records, self._by_digest = _read(self.path)
            self._seen = seen


NO_TOKENS = ApiTokens(None)
