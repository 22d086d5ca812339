"""The printable digital policy: an 80 mm receipt-width PDF (a kiosk's printer) with the policy's QR code.

Drawn with ``reportlab`` (its own QR widget, as the kiosk ticket and the vaccination certificate) in the
Cyrillic font of :mod:`backend.core.pdf`. The QR code holds :attr:`PolicyView.machine_code` (the ЕНП and the
birth date): a clinic scanning it checks the insurance in the register. :class:`PolicyPrintUnavailable` is
raised when no font is found; the route answers 503 then.
"""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from backend.core.pdf import FONT_NAME, FontUnavailable, register_font
from backend.insurance.service.policy import PolicyView


class PolicyPrintUnavailable(Exception):
    """No Cyrillic font: the policy cannot be drawn here."""


def policy_lines(view: PolicyView) -> list[tuple[str, float]]:
    """What the print says, line by line with its size (tests read it; the PDF draws it)."""
    lines: list[tuple[str, float]] = [
        ("ПОЛИС ОМС (выписка из единого регистра застрахованных лиц)", 10),
        (f"Номер полиса (ЕНП): {view.enp[:4]} {view.enp[4:8]} {view.enp[8:12]} {view.enp[12:]}", 11),
        (f"Застрахованное лицо: {view.holder_name}", 9),
        (f"Дата рождения: {view.birth_date:%d.%m.%Y}", 9),
        (f"Статус: {view.status_label}" + (f" с {view.start_date:%d.%m.%Y}" if view.start_date else ""), 9),
        (f"Страховая компания: {view.insurer.name}", 9),
    ]
    if view.insurer.phone:
        lines.append((f"Горячая линия страховой: {view.insurer.phone}", 9))
    if view.insurer.address:
        lines.append((f"Адрес: {view.insurer.address}", 8))
    if not view.fresh:
        lines.append((f"Сведения на {view.fetched_at:%d.%m.%Y}: регистр сейчас недоступен", 8))
    return lines


def render_policy(view: PolicyView) -> bytes:
    """The policy as PDF bytes; raises :class:`PolicyPrintUnavailable`."""
    try:
        register_font()
    except FontUnavailable as exc:
        raise PolicyPrintUnavailable(str(exc)) from exc
    width, height = 80 * mm, 140 * mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle("Полис ОМС")
    pdf.setAuthor("Мое здоровье")
    margin = 5 * mm
    y = height - margin - 4 * mm
    for text, size in policy_lines(view):
        for part in simpleSplit(text, FONT_NAME, size, width - 2 * margin):
            pdf.setFont(FONT_NAME, size)
            pdf.drawString(margin, y, part)
            y -= size + 1.5
        y -= 1.5
    widget = QrCodeWidget(view.machine_code)
    x0, y0, x1, y1 = widget.getBounds()
    side = 36 * mm
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, (width - side) / 2, max(y - side, 12 * mm))
    pdf.setFont(FONT_NAME, 7)
    pdf.drawString(margin, 7 * mm, "Бумажный полис не нужен: в поликлинике достаточно")
    pdf.drawString(margin, 4 * mm, "назвать номер полиса или показать этот QR-код.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
