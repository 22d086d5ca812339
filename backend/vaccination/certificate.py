"""The vaccination certificate: a signed minimal payload for the QR code, its verification, and the PDF.

Signature: a compact **JWS with ES256** (ECDSA P-256 / SHA-256, RFC 7515/7518) made with PyJWT. Chosen over
a COSE-like ``cryptography`` construction because it is a published, widely verifiable format (any JOSE
library checks it; the public key can be served as a JWK next to the identity domain's JWKS, which already
uses ES256), PyJWT is already a pinned dependency, and the token is URL-safe base64 (it rides in the
verification URL unchanged). Its header carries ``kid`` so our key can rotate; ``typ`` names this kind of
token so an access token signed with another of our keys is never accepted as a certificate.

The payload carries only the minimum a verifier may see: the holder's initials and birth year and, per
vaccination, the vaccine (its short code when the entry has one, so that a long list still fits a QR code)
and the date; plus the certificate id and the time it was issued. The JSON is UTF-8, not escaped. Any changed byte
(header, payload or signature) fails :func:`verify_certificate`.

The PDF (A4) lists the chosen vaccinations and carries a QR code (reportlab's own widget, as the kiosk
ticket does) holding the verification URL with the token; the same URL is a link over the QR code. The font
is DejaVu Sans, found the way :mod:`backend.booking.ticket` finds it. Pure functions: data and a key in, bytes
or a verdict out; no database, no clock (the caller passes ``issued_at``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from backend.core.pdf import FONT_NAME, FontUnavailable, register_font
from backend.vaccination.problems import russian_date

TOKEN_TYPE = "mz-vaccination-certificate+jwt"
ISSUER = "moe-zdorovye"
ALGORITHM = "ES256"


class CertificateUnavailable(Exception):
    """The PDF cannot be made here (no reportlab or no Cyrillic font)."""


@dataclass(frozen=True)
class CertificateHolder:
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date

    @property
    def initials(self) -> str:
        """«П. А. С.»: the first letters of the last, first and middle names."""
        parts = [self.last_name, self.first_name, self.middle_name or ""]
        return " ".join(f"{p.strip()[0].upper()}." for p in parts if p.strip())

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


@dataclass(frozen=True)
class CertificateEntry:
    """One vaccination listed on the certificate."""

    vaccine: str  # trade name («Вактривир») or the vaccine's name
    given_on: date
    infections: tuple[str, ...] = ()  # Russian names of the infections covered
    dose: str | None = None  # «Вторая вакцинация»
    lot: str | None = None  # серия
    clinic: str | None = None
    code: str | None = None  # a short code the QR payload carries instead of the name (the calendar's vaccine)


@dataclass(frozen=True)
class VerifiedVaccination:
    vaccine: str
    given_on: date


@dataclass(frozen=True)
class Verification:
    """What the public verification page may show."""

    valid: bool
    message: str  # Russian
    certificate_id: str | None = None
    initials: str | None = None
    birth_year: int | None = None
    vaccinations: tuple[VerifiedVaccination, ...] = ()
    issued_at: datetime | None = None


def _entry_order(entry: CertificateEntry) -> tuple[date, str]:
    return entry.given_on, entry.vaccine


def certificate_claims(
    holder: CertificateHolder,
    entries: Sequence[CertificateEntry],
    *,
    certificate_id: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The signed payload: the minimum and nothing else."""
    if not entries:
        raise ValueError("a certificate lists at least one vaccination")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    return {
        "iss": ISSUER,
        "cid": certificate_id,
        "iat": int(issued_at.timestamp()),
        "ini": holder.initials,
        "by": holder.birth_date.year,
        "vac": [[e.code or e.vaccine, e.given_on.isoformat()] for e in sorted(entries, key=_entry_order)],
    }


class _CompactJson(json.JSONEncoder):
    """Cyrillic as UTF-8, not ``\\uXXXX`` escapes: a third of the size, so the token fits a QR code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "ensure_ascii": False})


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key (tests, development; production loads its key from the secret store)."""
    return ec.generate_private_key(ec.SECP256R1())


def sign_certificate(
    holder: CertificateHolder,
    entries: Sequence[CertificateEntry],
    private_key: ec.EllipticCurvePrivateKey,
    *,
    kid: str,
    certificate_id: str,
    issued_at: datetime,
) -> str:
    """The compact JWS (ES256) of the certificate's minimal payload."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key")
    claims = certificate_claims(holder, entries, certificate_id=certificate_id, issued_at=issued_at)
    return jwt.encode(
        claims, private_key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE}, json_encoder=_CompactJson
    )


_FORGED = "Сертификат не подтвержден: QR-код изменен или подделан."


def verify_certificate(
    token: str,
    public_keys: Mapping[str, ec.EllipticCurvePublicKey] | ec.EllipticCurvePublicKey,
) -> Verification:
    """Check the signature (with the key named by ``kid``, or the one key given) and read the minimum."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
            return Verification(valid=False, message=_FORGED)
        if isinstance(public_keys, ec.EllipticCurvePublicKey):
            key = public_keys
        else:
            found = public_keys.get(str(header.get("kid")))
            if found is None:
                return Verification(valid=False, message="Сертификат не подтвержден: ключ подписи неизвестен.")
            key = found
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["iss", "iat", "cid"], "verify_iat": False},
        )
        vaccinations = tuple(
            VerifiedVaccination(vaccine=str(name), given_on=date.fromisoformat(str(day))) for name, day in claims["vac"]
        )
        return Verification(
            valid=True,
            message="Сертификат подлинный.",
            certificate_id=str(claims["cid"]),
            initials=str(claims["ini"]),
            birth_year=int(claims["by"]),
            vaccinations=vaccinations,
            issued_at=datetime.fromtimestamp(int(claims["iat"]), tz=UTC),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return Verification(valid=False, message=_FORGED)


def verification_url(base_url: str, token: str) -> str:
    """What the QR code holds: the public verification endpoint with the token in its query."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}c={quote(token, safe='.-_')}"


def certificate_lines(holder: CertificateHolder, entries: Sequence[CertificateEntry]) -> list[str]:
    """The text of the certificate, line by line, as the PDF prints it."""
    lines = [
        "СЕРТИФИКАТ О ПРОФИЛАКТИЧЕСКИХ ПРИВИВКАХ",
        f"Ф. И. О.: {holder.full_name}",
        f"Дата рождения: {russian_date(holder.birth_date)}",
        "Сведения о прививках:",
    ]
    for entry in sorted(entries, key=lambda e: (e.given_on, e.vaccine)):
        parts = [f"{entry.given_on.strftime('%d.%m.%Y')} — {entry.vaccine}"]
        if entry.infections:
            parts.append("против: " + ", ".join(i.lower() for i in entry.infections))
        if entry.dose:
            parts.append(entry.dose.lower())
        if entry.lot:
            parts.append(f"серия {entry.lot}")
        if entry.clinic:
            parts.append(entry.clinic)
        lines.append("; ".join(parts))
    return lines


def _register_font() -> None:
    try:
        register_font()
    except FontUnavailable as exc:
        raise CertificateUnavailable(str(exc)) from exc


def render_certificate_pdf(
    holder: CertificateHolder,
    entries: Sequence[CertificateEntry],
    *,
    verify_url: str,
    certificate_id: str,
    issued_at: datetime,
) -> bytes:
    """The certificate as A4 PDF bytes; raises :class:`CertificateUnavailable`."""
    _register_font()
    width, height = A4
    margin = 18 * mm
    qr_side = 45 * mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    pdf.setTitle("Сертификат о профилактических прививках")
    pdf.setAuthor("Мое здоровье")
    pdf.setSubject("Прививки: " + "; ".join(sorted({e.vaccine for e in entries})))
    y = height - margin

    def new_page() -> None:
        nonlocal y
        pdf.showPage()
        y = height - margin

    def line(text: str, size: float = 10, gap: float = 2) -> None:
        nonlocal y
        for part in simpleSplit(text, FONT_NAME, size, width - 2 * margin):
            if y < margin + qr_side + 10 * mm:
                new_page()
            pdf.setFont(FONT_NAME, size)
            pdf.drawString(margin, y, part)
            y -= size + gap
        y -= gap

    lines = certificate_lines(holder, entries)
    line(lines[0], 14, 6)
    for text in lines[1:4]:
        line(text, 11, 3)
    for text in lines[4:]:
        line(text, 10, 2)

    widget = QrCodeWidget(verify_url)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(qr_side, qr_side, transform=[qr_side / (x1 - x0), 0, 0, qr_side / (y1 - y0), 0, 0])
    drawing.add(widget)
    qr_x, qr_y = margin, margin
    renderPDF.draw(drawing, pdf, qr_x, qr_y)
    pdf.linkURL(verify_url, (qr_x, qr_y, qr_x + qr_side, qr_y + qr_side), relative=0)
    pdf.setFont(FONT_NAME, 8)
    text_x = qr_x + qr_side + 6 * mm
    pdf.drawString(text_x, qr_y + qr_side - 10, "Проверить подлинность: отсканируйте QR-код.")
    pdf.drawString(text_x, qr_y + qr_side - 22, f"Сертификат № {certificate_id}")
    pdf.drawString(text_x, qr_y + qr_side - 34, f"Выдан {russian_date(issued_at.date())}, «Мое здоровье»")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
