"""Where the worker keeps the documents of each case: the bytes and their index in one table, every version kept.

The table is the worker's ``case_documents`` GlobalTable (streams/worker/documents.py), changelog-backed, so every
worker serves every document (a page request reaches any worker) and a restarted or replaced worker still has
them. Files under the worker's data directory would be neither: a partition taken over by another host would leave
its documents behind. A version's files are ~70 KB together (the PDFs embed a subset of the CJK font), well under a
Kafka record's limit, and each file is a key of its own.

Keys (str, UTF-8): ``c:<case_id>`` the case's index (``CaseIndex`` JSON: its versions, initial first, their files
with size and SHA-256, what the E2B check found missing), ``f:<case_id>/v<n>/<name>`` a file's bytes,
``n:<case_id>`` the investigator's notes (``PiEntry`` JSON list, attributable: who, when, why), ``i:<alert_id>``
the case an SAE or SUSAR alert belongs to. A version once stored is never rewritten: new information is the next
version, with the same case id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, Final
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from safety.documents import PiEntry

FILE_NAMES: Final = ("sae-report.pdf", "sae-report.html", "cioms-i.pdf", "e2b-r3.xml")
CONTENT_TYPES: Final = {
    "sae-report.pdf": "application/pdf",
    "sae-report.html": "text/html; charset=utf-8",
    "cioms-i.pdf": "application/pdf",
    "e2b-r3.xml": "application/xml",
}
FILE_LABELS: Final = {
    "sae-report.pdf": "SAE 报告表 / SAE report (PDF)",
    "sae-report.html": "SAE 报告表 / SAE report (HTML)",
    "cioms-i.pdf": "CIOMS I (PDF)",
    "e2b-r3.xml": "E2B(R3) ICSR (XML)",
}
DOCUMENT_REF: Final = re.compile(r"^([0-9a-f]{24})/v([1-9][0-9]{0,3})$")


class StoredFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    size: int
    sha256: str


class StoredVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    report_type: str  # CaseVersion.report_kind: initial, follow-up n, summary (follow-up n)
    revision: int
    report_date: str  # ISO 8601, the version's report date
    susar: bool
    digest: str  # what the version says (safety/documents/case.py CaseVersion, without its number and alerts)
    note_id: str | None = None  # the investigator's note this version carries
    files: tuple[StoredFile, ...]
    e2b_missing: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"v{self.version}"


class CaseIndex(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    study_id: str
    subject_id: str
    event_id: str
    ctcae_term: str
    alert_ids: tuple[str, ...]
    inputs: str  # fingerprint of what the versions were built from: when it changes, the case is looked at again
    versions: tuple[StoredVersion, ...] = ()
    problem: str | None = None  # why no document could be made (e.g. no document constants for the study)

    def version(self, number: int) -> StoredVersion | None:
        return next((v for v in self.versions if v.version == number), None)

    def document(self, number: int) -> str:
        """The reference an ethics submission records: ``<case_id>/v<n>``."""
        return f"{self.case_id}/v{number}"


def case_key(case_id: str) -> bytes:
    return f"c:{case_id}".encode()


def file_key(case_id: str, version: int, name: str) -> bytes:
    return f"f:{case_id}/v{version}/{name}".encode()


def notes_key(case_id: str) -> bytes:
    return f"n:{case_id}".encode()


def alert_index_key(alert_id: str) -> bytes:
    return f"i:{alert_id}".encode()


def document_href(alert_id: str, version: int, name: str) -> str:
    """Where the worker serves a stored file (streams/web/pages.py): under the alert's page."""
    return f"/alerts/{quote(alert_id)}/documents/v{version}/{quote(name)}"


def feed_documents(case: CaseIndex | None, alert_id: str) -> list[dict[str, str]]:
    """The feed entry's links to the documents, every version (streams/web/ethics.py)."""
    if case is None:
        return []
    return [
        {
            "href": document_href(alert_id, v.version, f.name),
            "type": CONTENT_TYPES[f.name].split(";")[0],
            "title": f"v{v.version} {v.report_type}: {FILE_LABELS[f.name]}",
        }
        for v in case.versions
        for f in v.files
    ]


class DocumentShelf:
    """Reads (and, for the one writer, writes) the table; ``table`` is the GlobalTable or a dict (tests)."""

    def __init__(self, table: Mapping[bytes, Any]) -> None:
        self.table = table

    def _raw(self, key: bytes) -> bytes | None:
        value = self.table.get(key)
        return None if value is None else bytes(value)

    def case(self, case_id: str) -> CaseIndex | None:
        raw = self._raw(case_key(case_id))
        try:
            return None if raw is None else CaseIndex.model_validate_json(raw)
        except ValidationError:
            return None

    def case_of(self, alert_id: str) -> CaseIndex | None:
        """The case an SAE or SUSAR alert belongs to, once its documents were made."""
        case_id = self._raw(alert_index_key(alert_id))
        return None if case_id is None else self.case(case_id.decode())

    def file(self, case_id: str, version: int, name: str) -> bytes | None:
        return self._raw(file_key(case_id, version, name))

    def notes(self, case_id: str) -> list[PiEntry]:
        raw = self._raw(notes_key(case_id))
        if raw is None:
            return []
        try:
            return [PiEntry.model_validate(item) for item in json.loads(raw)]
        except (ValueError, ValidationError):
            return []

    def submitted_version(self, alert_id: str, document: str) -> StoredVersion | None:
        """The stored version ``document`` (``<case_id>/v<n>``) names, when it belongs to this alert's case."""
        match = DOCUMENT_REF.fullmatch(document)
        case = self.case_of(alert_id)
        if match is None or case is None or match.group(1) != case.case_id:
            return None
        return case.version(int(match.group(2)))


class WritableShelf(DocumentShelf):
    """The writer's view: only the documents agent of the case's partition writes (one writer per key)."""

    table: MutableMapping[bytes, Any]

    def __init__(self, table: MutableMapping[bytes, Any]) -> None:
        super().__init__(table)

    def put_file(self, case_id: str, version: int, name: str, content: bytes) -> None:
        self.table[file_key(case_id, version, name)] = content

    def put_case(self, case: CaseIndex) -> None:
        self.table[case_key(case.case_id)] = case.model_dump_json().encode()
        for alert_id in case.alert_ids:
            if self._raw(alert_index_key(alert_id)) != case.case_id.encode():
                self.table[alert_index_key(alert_id)] = case.case_id.encode()

    def add_note(self, case_id: str, note: PiEntry) -> bool:
        """Append a note (False when the same note id is already there: a redelivered command)."""
        notes = self.notes(case_id)
        if any(n.note_id == note.note_id for n in notes):
            return False
        data = [n.model_dump(mode="json", exclude_none=True) for n in [*notes, note]]
        self.table[notes_key(case_id)] = json.dumps(data, ensure_ascii=False).encode()
        return True


__all__ = [
    "CONTENT_TYPES",
    "FILE_LABELS",
    "FILE_NAMES",
    "CaseIndex",
    "DocumentShelf",
    "StoredFile",
    "StoredVersion",
    "WritableShelf",
    "document_href",
    "feed_documents",
]
