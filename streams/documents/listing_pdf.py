"""The cumulative SAE/SUSAR line listing of a period as an A4 landscape PDF, for the committee to file.

The rows are safety/documents/listing.py's (the CSV's and the HTML's), laid out with the CJK font of
streams/documents/pdf.py: fifteen columns fitted to the landscape page's 273 mm, wrapping inside their cells, the
header row repeated on every page, each page numbered. The creation date is the period's last day, so the same
inputs give the same bytes.
"""

from __future__ import annotations

from datetime import date, datetime, time

from fpdf.fonts import FontFace

from safety.documents import LISTING_COLUMNS, LISTING_HEADINGS, ListingRow
from streams.documents.pdf import new_pdf, number_pages, to_bytes

HEAD = FontFace(emphasis=None, fill_color=(225, 230, 240))
WIDTHS = {  # mm, 273 in all: the coded values are short, the term and the seriousness wrap
    "subject_id": 15,
    "case_id": 24,
    "term": 28,
    "onset": 17,
    "grade": 10,
    "seriousness": 26,
    "causality": 19,
    "related": 11,
    "expectedness": 17,
    "susar": 11,
    "outcome": 24,
    "first_reported": 18,
    "last_reported": 18,
    "versions": 12,
    "report_type": 23,
}


def listing_pdf(rows: list[ListingRow], study_id: str, start: date, end: date, zone: str) -> bytes:
    """The listing of the period ``start``..``end`` (both included, calendar days in ``zone``) as PDF bytes."""
    title = f"{study_id} SAE/SUSAR 累计一览表 / Cumulative line listing {start} – {end}"
    pdf = new_pdf(title, datetime.combine(end, time()), landscape=True)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font_size(13)
    pdf.cell(0, 7, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(8.5)
    pdf.cell(
        0,
        5,
        f"期间 / Period: {start} – {end} ({zone}) · 病例数 / Cases: {len(rows)} · "
        "每个病例一行，显示期末时的最新版本 / one row per case, as its latest version reported by the period's end",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.set_font_size(6.8)
    with pdf.table(
        col_widths=tuple(WIDTHS[c] for c in LISTING_COLUMNS),
        line_height=3.1,
        text_align="LEFT",
        headings_style=HEAD,
        padding=0.8,
        repeat_headings=1,
    ) as table:
        heads = table.row()
        for column in LISTING_COLUMNS:
            heads.cell(LISTING_HEADINGS[column].replace(" / ", "\n"))
        for row in rows or [ListingRow({c: ("无 / None" if i == 0 else "") for i, c in enumerate(LISTING_COLUMNS)})]:
            cells = table.row()
            for column in LISTING_COLUMNS:
                cells.cell(row.values[column])
    number_pages(pdf)
    return to_bytes(pdf)


__all__ = ["listing_pdf"]
