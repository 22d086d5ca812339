"""The printable ticket (талон) of an appointment: an 80 mm receipt-width PDF with a QR code.

Drawn with ``reportlab`` (its own QR widget, ``reportlab.graphics.barcode.qr``) in the Cyrillic font of
:mod:`backend.core.pdf`. :class:`TicketUnavailable` is raised when no such font is found; the route
answers 503 then.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from backend.core.pdf import FONT_NAME, FontUnavailable, register_font

_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


class TicketUnavailable(Exception):
    """The PDF cannot be made here (no Cyrillic font)."""


@dataclass(frozen=True)
class TicketData:
    appointment_id: str
    clinic: str
    address: str | None
    doctor: str
    specialty: str
    start: datetime  # aware
    room: str | None
    patient: str  # short name, «Петрова А. С.»
    verify_url: str  # what the QR code holds


def _register_font() -> None:
    try:
        register_font()
    except FontUnavailable as exc:
        raise TicketUnavailable(str(exc)) from exc


def local_when(start: datetime, timezone: str) -> tuple[str, str]:
    """(«4 марта 2025 г.», «08:00») in the region's time."""
    local = start.astimezone(ZoneInfo(timezone))
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} г.", local.strftime("%H:%M")


def render_ticket(data: TicketData, *, timezone: str) -> bytes:
    """The ticket as PDF bytes; raises :class:`TicketUnavailable`."""
    _register_font()
    width, height = 80 * mm, 150 * mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle("Талон на прием к врачу")
    pdf.setAuthor("Мое здоровье")
    margin = 5 * mm
    y = height - margin - 4 * mm

    def line(text: str, size: float = 9, gap: float = 1.5) -> None:
        nonlocal y
        for part in simpleSplit(text, FONT_NAME, size, width - 2 * margin):
            pdf.setFont(FONT_NAME, size)
            pdf.drawString(margin, y, part)
            y -= size + gap
        y -= gap

    day, time_text = local_when(data.start, timezone)
    line("ТАЛОН НА ПРИЕМ К ВРАЧУ", 11)
    line(data.clinic, 9)
    if data.address:
        line(data.address, 8)
    line(f"Дата: {day}", 10)
    line(f"Время: {time_text}", 14, 3)
    line(f"Кабинет: {data.room or 'уточните в регистратуре'}", 12, 2)
    line(f"Врач: {data.doctor}", 9)
    line(f"Специальность: {data.specialty}", 9)
    line(f"Пациент: {data.patient}", 9)
    widget = QrCodeWidget(data.verify_url)
    x0, y0, x1, y1 = widget.getBounds()
    side = 32 * mm
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, (width - side) / 2, max(y - side, 14 * mm))
    pdf.setFont(FONT_NAME, 7)
    pdf.drawString(margin, 8 * mm, "Приходите за 10 минут до приема. Не сможете прийти —")
    pdf.drawString(margin, 5 * mm, "отмените запись в приложении «Мое здоровье» или по 122.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
