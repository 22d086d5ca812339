"""The kiosk's printout of a prescription: its code (a QR code and the Code 128 barcode the pharmacy scans),
the drug and validity, and the pharmacies nearest first with hours and stock. An 80 mm receipt-width PDF drawn
with ``reportlab`` in the Cyrillic font of :mod:`backend.core.pdf` (as the booking ticket)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from backend.core.pdf import FONT_NAME, FontUnavailable, register_font


class PrintUnavailable(Exception):
    """No Cyrillic font here: the PDF cannot be drawn."""


@dataclass(frozen=True)
class PharmacyLine:
    name: str
    address: str
    hours: str
    distance_km: float | None
    quantity: int


@dataclass(frozen=True)
class PrescriptionPrint:
    patient: str
    series: str
    number: str
    barcode: str
    qr_payload: str
    drug: str
    quantity: int
    dosing: str | None
    valid_until: str
    status: str
    deferral: str | None
    pharmacies: tuple[PharmacyLine, ...]
    pharmacies_title: str


def render(data: PrescriptionPrint) -> bytes:
    try:
        register_font()
    except FontUnavailable as exc:
        raise PrintUnavailable(str(exc)) from exc
    width = 80 * mm
    height = (150 + 18 * len(data.pharmacies)) * mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle("Электронный рецепт")
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

    line("ЭЛЕКТРОННЫЙ РЕЦЕПТ", 11)
    line(f"Серия {data.series} № {data.number}", 10)
    line(f"Пациент: {data.patient}", 9)
    line(f"{data.drug}, {data.quantity} уп.", 10)
    if data.dosing:
        line(data.dosing, 8)
    line(f"Действует до {data.valid_until}. {data.status}", 9)
    if data.deferral:
        line(data.deferral, 9)
    side = 30 * mm
    widget = QrCodeWidget(data.qr_payload)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, (width - side) / 2, y - side)
    y -= side + 3 * mm
    barcode = code128.Code128(data.barcode, barHeight=10 * mm, barWidth=0.25 * mm)
    barcode.drawOn(pdf, max((width - barcode.width) / 2, 0), y - 10 * mm)
    y -= 13 * mm
    line(data.barcode, 8, 3)
    line(data.pharmacies_title, 10)
    for p in data.pharmacies:
        distance = f", {p.distance_km:.1f} км" if p.distance_km is not None else ""
        stock = f"в наличии: {p.quantity}" if p.quantity else "нет в наличии"
        line(f"{p.name}{distance}", 8, 0.5)
        line(f"{p.address}. {p.hours}. {stock}", 7)
    pdf.setFont(FONT_NAME, 7)
    pdf.drawString(margin, 5 * mm, "Покажите QR-код или штрихкод в аптеке вместе с паспортом.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
