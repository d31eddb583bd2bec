"""The site's bilingual SAE report (严重不良事件报告表) as an A4 PDF: one label/value table per section."""

from __future__ import annotations

from datetime import tzinfo

from fpdf.fonts import FontFace

from safety.documents import CaseVersion, sae_report
from safety.rules.documents import Bilingual
from streams.documents.pdf import new_pdf, to_bytes


def _two_lines(text: Bilingual) -> str:
    return text.zh if text.zh == text.en else f"{text.zh}\n{text.en}"


def sae_report_pdf(case: CaseVersion, tz: tzinfo) -> bytes:
    report = sae_report(case, tz)
    pdf = new_pdf(f"{report.title.en} {report.case_id} v{report.version}", case.report_date)
    pdf.add_page()
    pdf.set_font_size(15)
    pdf.cell(0, 8, report.title.zh, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(12)
    pdf.cell(0, 6, report.title.en, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(10)
    pdf.cell(0, 6, f"{report.report_type.zh} / {report.report_type.en}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font_size(8.5)
    for section in report.sections:
        pdf.set_fill_color(225, 230, 240)
        pdf.cell(0, 6, f"{section.title.zh}  {section.title.en}", fill=True, new_x="LMARGIN", new_y="NEXT")
        with pdf.table(
            col_widths=(55, 131),
            first_row_as_headings=False,
            line_height=4.2,
            text_align="LEFT",
            borders_layout="HORIZONTAL_LINES",
            padding=1,
        ) as table:
            for row in section.rows:
                cells = table.row()
                cells.cell(_two_lines(row.label), style=FontFace(color=(70, 70, 70)))
                cells.cell(_two_lines(row.value))
        pdf.ln(1.5)
    pdf.ln(4)
    pdf.cell(
        0,
        6,
        "研究者签名 Investigator signature: ____________________     日期 Date: ____________",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return to_bytes(pdf)
