"""An SAE raised in a real `safety worker` on the embedded broker yields its documents: the alert page links the
SAE report, and the link downloads the PDF (streams/worker/documents.py, streams/web/case_documents.py)."""

from __future__ import annotations

import json
import re
import urllib.request
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from tests.integration.conftest import PAGE_TOKEN

pytestmark = pytest.mark.slow

BASE = {"study_id": "ChiCTR2600125907", "subject_id": "AA-951", "source": "EDC"}
EVENTS = [
    {**BASE, "type": "enrollment", "event_id": "E1", "occurred_at": "2026-07-01T08:00:00+08:00", "sex": "M"},
    {
        **BASE,
        "type": "infusion",
        "event_id": "I1",
        "occurred_at": "2026-07-02T08:00:00+08:00",
        "infusion_number": 1,
        "dose_per_kg": 1000000,
    },
    {
        **BASE,
        "type": "adverse_event",
        "event_id": "AE1",
        "occurred_at": "2026-07-03T08:00:00+08:00",
        "recorded_at": "2026-07-03T10:00:00+08:00",
        "term": "fever, admitted",
        "ctcae_term": "Fever",
        "grade": 3,
        "serious": ["hospitalization"],
    },
]


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {PAGE_TOKEN}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        body: bytes = response.read()
        return body


def test_an_sae_raised_in_the_worker_gets_a_pdf_linked_from_its_alert_page(full_stream: Any) -> None:
    stream = full_stream
    stream.extra_env["SAFETY_SWEEP_INTERVAL"] = "2"
    proc = stream.start_worker()
    stream.produce([json.dumps(e).encode() for e in EVENTS])

    def sae() -> dict[str, Any] | None:
        return next((a for a in stream.alerts() if a["kind"] == "SAE"), None)

    stream.wait_for(lambda: sae() is not None, 120, "the SAE alert")
    alert_id = sae()["alert_id"]  # type: ignore[index]
    page = f"/alerts/{alert_id}"
    stream.wait_for(lambda: 'data-testid="document-link"' in stream.page(proc, page)[1], 120, "the document links")
    html = stream.page(proc, page)[1]
    links = re.findall(r'href="([^"]+)" data-testid="document-link"', html)
    assert f"/alerts/{alert_id}/documents/v1/sae-report.pdf" in links
    pdf = _get(f"http://127.0.0.1:{stream.ports[proc.pid]}/alerts/{alert_id}/documents/v1/sae-report.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert "严重不良事件报告表" in text and "首次报告" in text and "AA-951" in text
