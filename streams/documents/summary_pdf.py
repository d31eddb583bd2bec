"""The safety summary as an A4 PDF for filing: the view the HTML shows (safety.reports.summary_view), laid out with
the CJK font of streams/documents/pdf.py.

The listing's twelve columns are fitted to the portrait page's 186 mm (``SummaryView.widths``) and wrap inside
their cells, so no column is cut off; the header row repeats on every page and each page is numbered "page i of n".
The data completeness per visit follows the listing, as on the HTML page (safety/reports/completeness.py; a report
built without the study's schedule says no visit is due). The creation date is the report's ``generated_at``, so
the same inputs give the same bytes.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from safety.reports import Report, SummaryView, summary_view
from safety.reports.completeness import summary_lines
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
    pdf.ln(3)
    _completeness(pdf, summary_lines(report.completeness))
    number_pages(pdf)
    return to_bytes(pdf)


def _completeness(pdf: FPDF, lines: list[tuple[str, int, int, int, str]]) -> None:
    """Per group and visit day: the subjects whose visit is due, those complete and the share complete."""
    _section(pdf, "数据完整性 / Data completeness per visit")
    pdf.set_font_size(7.5)
    pdf.multi_cell(
        0,
        3.6,
        "每次访视：已到期的受试者中，按计划所有检测均已收到者 / Per visit: of the subjects whose visit is due, those "
        "with every scheduled test received (late results count).",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    with pdf.table(
        col_widths=(50, 34, 34, 34, 34),
        line_height=3.6,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=HEAD,
        padding=0.8,
        repeat_headings=1,
    ) as table:
        heads = table.row()
        for head in ("检测组\nGroup", "访视日\nVisit day", "到期\nDue", "完整\nComplete", "完整率\nComplete share"):
            heads.cell(head)
        for group, day, due, complete, share in lines:
            row = table.row()
            for value in (group, str(day), str(due), str(complete), share):
                row.cell(value)
        if not lines:
            table.row().cell("无到期访视 / No visit due", colspan=5)


def _section(pdf: FPDF, title: str) -> None:
    pdf.set_font_size(10)
    pdf.set_fill_color(225, 230, 240)
    pdf.cell(0, 6, title, fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_font_size(8.5)


__all__ = ["summary_pdf"]
