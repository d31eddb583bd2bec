"""CIOMS I as a one-page A4 PDF in the form's international layout: four parts of numbered boxes."""

from __future__ import annotations

from datetime import tzinfo

from fpdf import FPDF

from safety.documents import CaseVersion, cioms
from streams.documents.pdf import new_pdf, to_bytes

LEFT = 10.0
WIDTH = 190.0


def _box(pdf: FPDF, x: float, y: float, w: float, h: float, label: str, value: str) -> None:
    pdf.rect(x, y, w, h)
    pdf.set_xy(x + 0.8, y + 0.6)
    pdf.set_font_size(5.8)
    pdf.set_text_color(70, 70, 70)
    pdf.multi_cell(w - 1.6, 2.5, label, new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font_size(7.5)
    pdf.set_x(x + 0.8)
    pdf.multi_cell(w - 1.6, 3.2, value, new_x="LEFT", new_y="NEXT")


def _tick(pdf: FPDF, x: float, y: float, checked: bool, label: str, width: float = 26) -> None:
    pdf.rect(x, y, 3, 3)
    if checked:
        pdf.line(x, y, x + 3, y + 3)
        pdf.line(x, y + 3, x + 3, y)
    pdf.set_xy(x + 4, y - 0.3)
    pdf.set_font_size(6.5)
    pdf.multi_cell(width, 2.8, label)


def _part(pdf: FPDF, y: float, title: str) -> float:
    pdf.set_fill_color(225, 225, 225)
    pdf.set_xy(LEFT, y)
    pdf.set_font_size(8)
    pdf.cell(WIDTH, 5, title, border=1, fill=True, align="C")
    return y + 5


def cioms_pdf(case: CaseVersion, tz: tzinfo) -> bytes:
    form = cioms(case, tz)
    pdf = new_pdf(f"CIOMS I {form.case_id} v{form.version}", case.report_date)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.set_font_size(12)
    pdf.set_xy(LEFT, 8)
    pdf.cell(WIDTH, 6, "CIOMS FORM — SUSPECT ADVERSE REACTION REPORT", align="C")
    pdf.set_font_size(7)
    pdf.set_xy(LEFT, 14)
    pdf.cell(WIDTH, 4, f"Case {form.case_id}, version {form.version} ({form.report_type})", align="C")
    y = _part(pdf, 19, "I. REACTION INFORMATION")
    widths = (38, 20, 26, 18, 12, 12, 14)
    labels = ("1. PATIENT (subject code)", "1a. COUNTRY", "2. DATE OF BIRTH", "2a. AGE", "3. SEX", "4-6. ONSET", "")
    values = (form.patient, form.country, "not collected", form.age, form.sex, "/".join(form.onset), "")
    x = LEFT
    for w, label, value in zip(widths[:6], labels[:6], values[:6], strict=True):
        _box(pdf, x, y, w, 12, label, value)
        x += w
    _box(pdf, x, y, LEFT + WIDTH - x, 12, "8-12. CHECK ALL APPROPRIATE TO ADVERSE REACTION", "")
    ticks_x = x + 1.5
    _tick(pdf, ticks_x, y + 4, form.died, "PATIENT DIED")
    _tick(pdf, ticks_x + 30, y + 4, form.hospitalised, "HOSPITALISATION")
    _tick(pdf, ticks_x, y + 8, form.life_threatening, "LIFE THREATENING")
    _tick(pdf, ticks_x + 30, y + 8, form.disability, "DISABILITY")
    y += 12
    _box(
        pdf, LEFT, y, WIDTH - 42, 62, "7 + 13. DESCRIBE REACTION(S) (including relevant tests/lab data)", form.reaction
    )
    _box(pdf, LEFT + WIDTH - 42, y, 42, 62, "OTHER SERIOUS", "")
    _tick(
        pdf,
        LEFT + WIDTH - 40,
        y + 7,
        form.other_serious,
        "congenital anomaly or other important medical event",
        width=34,
    )
    y = _part(pdf, y + 62, "II. SUSPECT DRUG(S) INFORMATION")
    _box(pdf, LEFT, y, WIDTH, 12, "14. SUSPECT DRUG(S) (include generic name)", form.suspect_drug)
    y += 12
    _box(pdf, LEFT, y, 95, 12, "15. DAILY DOSE(S)", form.daily_dose)
    _box(pdf, LEFT + 95, y, 95, 12, "16. ROUTE(S) OF ADMINISTRATION", form.route)
    y += 12
    _box(pdf, LEFT, y, WIDTH, 10, "17. INDICATION(S) FOR USE", form.indication)
    y += 10
    _box(pdf, LEFT, y, 95, 12, "18. THERAPY DATES (from/to)", form.therapy_dates)
    _box(pdf, LEFT + 95, y, 95, 12, "19. THERAPY DURATION", form.therapy_duration)
    y += 12
    _box(pdf, LEFT, y, 95, 12, "20. DID REACTION ABATE AFTER STOPPING DRUG?", form.dechallenge)
    _box(pdf, LEFT + 95, y, 95, 12, "21. DID REACTION REAPPEAR AFTER REINTRODUCTION?", form.rechallenge)
    y = _part(pdf, y + 12, "III. CONCOMITANT DRUG(S) AND HISTORY")
    _box(pdf, LEFT, y, WIDTH, 16, "22. CONCOMITANT DRUG(S) AND DATES OF ADMINISTRATION", form.concomitant)
    y += 16
    _box(pdf, LEFT, y, WIDTH, 12, "23. OTHER RELEVANT HISTORY", form.history)
    y = _part(pdf, y + 12, "IV. MANUFACTURER INFORMATION")
    _box(pdf, LEFT, y, 95, 14, "24a. NAME AND ADDRESS OF MANUFACTURER / SPONSOR", form.sponsor)
    _box(pdf, LEFT + 95, y, 95, 14, "24b. MFR CONTROL NO.", form.control_number)
    y += 14
    _box(pdf, LEFT, y, 63, 12, "24c. DATE RECEIVED BY MANUFACTURER", form.date_received)
    _box(pdf, LEFT + 63, y, 64, 12, "24d. REPORT SOURCE", form.report_source)
    _box(
        pdf, LEFT + 127, y, 63, 12, "DATE OF THIS REPORT / 25a. REPORT TYPE", f"{form.report_date} — {form.report_type}"
    )
    return to_bytes(pdf)
