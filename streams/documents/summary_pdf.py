"""The safety summary as an A4 PDF for filing: the view the HTML shows (safety.reports.summary_view), laid out with
the CJK font of streams/documents/pdf.py.

The listing's twelve columns are fitted to the portrait page's 186 mm (``SummaryView.widths``) and wrap inside
their cells, so no column is cut off; the header row repeats on every page and each page is numbered "page i of n".
The creation date is the report's ``generated_at``, so the same inputs give the same bytes.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from safety.reports import Report, SummaryView, summary_view
from streams.documents.pdf import new_pdf, number_pages, to_bytes
from streams.web.times import shown

GREY = FontFace(color=(70, 70, 70))
HEAD = FontFace(emphasis=None, fill_color=(225, 230, 240))


def _two(pair: tuple[str, str]) -> str:
    return pair[0] if pair[0] == pair[1] else f"{pair[0]}\n{pair[1]}"


def summary_pdf(report: Report) -> bytes:
    """The summary of ``report`` as A4 PDF bytes; times in the study's zone (that of ``generated_at``)."""
    tz = report.overview.generated_at.tzinfo
    view: SummaryView = summary_view(report, lambda t: shown(t, tz))
    pdf = new_pdf(view.title[1], report.overview.generated_at)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    pdf.set_font_size(14)
    pdf.cell(0, 7, view.title[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(11)
    pdf.cell(0, 6, view.title[1], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font_size(8.5)
    for line in (
        f"数据截止 / Data cut-off: {view.data_cutoff}  (最新纳入事件的时间 / time of the latest event included)",
        f"生成时间 / Generated at: {view.generated_at}    规则版本 / Rules version: {view.rules_version}",
    ):
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _section(pdf, "累计发生率与停止规则 / Cumulative incidence and stopping rule")
    with pdf.table(
        col_widths=(72, 114),
        first_row_as_headings=False,
        line_height=4.2,
        text_align="LEFT",
        borders_layout="HORIZONTAL_LINES",
        padding=1,
    ) as table:
        for label, value, testid in view.stats:
            cells = table.row()
            cells.cell(_two(label), style=GREY)
            alarm = testid == "stopping-crossed" and view.crossed
            cells.cell(value, style=FontFace(color=(198, 40, 40)) if alarm else None)
    pdf.ln(3)
    _section(pdf, "SAE/SUSAR 一览表 / SAE/SUSAR line listing")
    pdf.set_font_size(6.8)
    with pdf.table(
        col_widths=tuple(view.widths),
        line_height=3.1,
        text_align="LEFT",
        headings_style=HEAD,
        padding=0.8,
        repeat_headings=1,
    ) as table:
        heads = table.row()
        for head in view.heads:
            heads.cell(_two(head))
        for values in view.rows or [[("无", "None")] + [("", "")] * (len(view.heads) - 1)]:
            listed = table.row()
            for cell in values:
                listed.cell(_two(cell))
    number_pages(pdf)
    return to_bytes(pdf)


def _section(pdf: FPDF, title: str) -> None:
    pdf.set_font_size(10)
    pdf.set_fill_color(225, 230, 240)
    pdf.cell(0, 6, title, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_font_size(8.5)


__all__ = ["summary_pdf"]
