"""Every document of every case version into a folder, with an index the alert page and the feed link to.

Layout: ``<case_id>/v<version>/`` holds ``sae-report.pdf``, ``sae-report.html``, ``cioms-i.pdf`` and, for a
version that is a SUSAR, ``e2b-r3.xml``; ``documents.json`` lists each case's versions (initial first, follow-ups
after, same case id), their alerts, files and the E2B elements still missing. The same cases give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from safety.documents import Case, CaseVersion, sae_report
from streams.documents.cioms_pdf import cioms_pdf
from streams.documents.e2b_xml import icsr
from streams.documents.sae_pdf import sae_report_pdf
from streams.web.templating import render


@dataclass(frozen=True)
class DocumentIndex:
    cases: list[dict[str, Any]]

    def files(self) -> list[str]:
        return [f for case in self.cases for version in case["versions"] for f in version["files"]]


def render_files(
    version: CaseVersion, tz: tzinfo, schemas: Path | None = None
) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """The files of one case version by name, and the E2B elements still missing (a SUSAR's XML only; checked
    against the ICH schemas too when ``schemas`` is given: Settings ``documents.e2b_schemas``)."""
    documents: dict[str, bytes] = {
        "sae-report.pdf": sae_report_pdf(version, tz),
        "sae-report.html": render("sae_report.html", report=sae_report(version, tz)).encode(),
        "cioms-i.pdf": cioms_pdf(version, tz),
    }
    missing: tuple[str, ...] = ()
    if version.susar:
        report = icsr(version, schemas)
        documents["e2b-r3.xml"], missing = report.xml, report.missing
    return documents, missing


def write_documents(cases: Sequence[Case], out: Path, tz: tzinfo, schemas: Path | None = None) -> DocumentIndex:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for case in cases:
        versions = []
        for version in case.versions:
            folder = Path(case.case_id) / f"v{version.version}"
            (out / folder).mkdir(parents=True, exist_ok=True)
            documents, missing = render_files(version, tz, schemas)
            for name, content in documents.items():
                (out / folder / name).write_bytes(content)
            versions.append(
                {
                    "version": version.version,
                    "report_type": version.report_kind,
                    "revision": version.revision,
                    "report_date": version.report_date.isoformat(),
                    "susar": version.susar,
                    "files": [str(folder / name) for name in documents],
                    "e2b_missing": list(missing),
                }
            )
        first = case.versions[0]
        index.append(
            {
                "case_id": case.case_id,
                "subject_id": first.subject_code,
                "event_id": first.event_id,
                "ctcae_term": first.ctcae_term,
                "alert_ids": list(case.versions[-1].alert_ids),
                "versions": versions,
            }
        )
    (out / "documents.json").write_text(
        json.dumps({"cases": index}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return DocumentIndex(index)


def render_version(
    version_json: str, time_zone: str, schemas: Path | None = None
) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """``render_files`` of a version sent as JSON: what the worker's renderer process runs
    (streams/worker/documents.py), so the PDFs' CPU time is not spent on the worker's event loop."""
    return render_files(CaseVersion.model_validate_json(version_json), ZoneInfo(time_zone), schemas)
