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


def new_pdf(title: str, created: datetime, font: Path = CJK_FONT, landscape: bool = False) -> FPDF:
    """An empty A4 document whose metadata hold ``title`` and ``created`` and whose font writes Chinese."""
    if not font.exists():
        raise SafetyError(
            f"{font}: the CJK font of the PDF documents is missing; install the Debian package "
            "fonts-wqy-microhei (`make browser`)"
        )
    pdf = FPDF(orientation="landscape" if landscape else "portrait", unit="mm", format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_creator("safety")
    pdf.set_producer("safety (fpdf2)")
    pdf.add_font(FAMILY, "", str(font), collection_font_number=0)
    pdf.set_font(FAMILY, size=9)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_margins(12, 12, 12)
    return pdf


def number_pages(pdf: FPDF) -> None:
    """'第 i / n 页 · Page i of n' at the foot of every page, written once the page count is known."""
    pdf.set_auto_page_break(auto=False)
    total = pdf.pages_count
    for i in range(1, total + 1):
        pdf.page = i
        pdf.set_xy(pdf.l_margin, pdf.h - 9)
        pdf.set_font_size(7.5)
        pdf.cell(pdf.epw, 4, f"第 {i} / {total} 页 · Page {i} of {total}", align="C")


def to_bytes(pdf: FPDF) -> bytes:
    return bytes(pdf.output())
