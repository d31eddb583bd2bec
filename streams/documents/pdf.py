"""A4 PDFs with the CJK font the repository installs, identical bytes for the same content.

fpdf2 embeds a subset of a TrueType collection (``collection_font_number``) so Chinese and English print in one
font: WenQuanYi Micro Hei, Debian's fonts-wqy-microhei, which ``make browser`` installs. The creation date is the
case version's report date, never the clock, so a re-run writes the same file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Final

from fpdf import FPDF

from safety.errors import SafetyError

CJK_FONT: Final = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FAMILY: Final = "wqy"


def new_pdf(title: str, created: datetime, font: Path = CJK_FONT) -> FPDF:
    """An empty A4 document whose metadata hold ``title`` and ``created`` and whose font writes Chinese."""
    if not font.exists():
        raise SafetyError(
            f"{font}: the CJK font of the PDF documents is missing; install the Debian package "
            "fonts-wqy-microhei (`make browser`)"
        )
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_creator("safety")
    pdf.set_producer("safety (fpdf2)")
    pdf.add_font(FAMILY, "", str(font), collection_font_number=0)
    pdf.set_font(FAMILY, size=9)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_margins(12, 12, 12)
    return pdf


def to_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())
