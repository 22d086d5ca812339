"""The certificate: ES256 JWS round trip, a changed byte fails, the PDF lists the vaccinations and the QR URL.

pypdf is not installed, so the PDF is checked without a text extractor: the lines the renderer draws come
from :func:`certificate_lines` (checked for the vaccine names), the PDF's document-information ``Subject``
(a UTF-16 PDF string, decoded here) names the vaccines, and the link annotation over the QR code holds the
verification URL with the signed token verbatim (annotations are not compressed).
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from backend.core.pdf import font_path
from backend.vaccination.certificate import (
    TOKEN_TYPE,
    CertificateEntry,
    CertificateHolder,
    certificate_claims,
    certificate_lines,
    generate_signing_key,
    render_certificate_pdf,
    sign_certificate,
    verification_url,
    verify_certificate,
)

HOLDER = CertificateHolder(last_name="Петрова", first_name="Анна", middle_name="Сергеевна", birth_date=date(2021, 4, 3))
ENTRIES = (
    CertificateEntry(
        vaccine="Вактривир",
        given_on=date(2022, 4, 5),
        infections=("Корь", "Краснуха", "Эпидемический паротит"),
        dose="Вакцинация",
        lot="12-34",
        clinic="ГП № 1",
    ),
    CertificateEntry(
        vaccine="Пентаксим", given_on=date(2021, 7, 3), infections=("Дифтерия",), dose="Первая вакцинация"
    ),
)
ISSUED = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
KEY = generate_signing_key()
BASE = "https://moe-zdorovye.example/api/v1/vaccination/verify"


def _sign() -> str:
    return sign_certificate(HOLDER, ENTRIES, KEY, kid="vc-2026", certificate_id="c-1", issued_at=ISSUED)


def test_round_trip_shows_only_the_minimum() -> None:
    result = verify_certificate(_sign(), {"vc-2026": KEY.public_key()})
    assert result.valid
    assert result.message == "Сертификат подлинный."
    assert result.initials == "П. А. С."
    assert result.birth_year == 2021
    assert [(v.vaccine, v.given_on) for v in result.vaccinations] == [
        ("Пентаксим", date(2021, 7, 3)),
        ("Вактривир", date(2022, 4, 5)),
    ]
    assert result.issued_at == ISSUED
    assert result.certificate_id == "c-1"


def test_payload_carries_nothing_more() -> None:
    token = _sign()
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "typ": TOKEN_TYPE, "kid": "vc-2026"}
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert set(payload) == {"iss", "cid", "iat", "ini", "by", "vac"}
    text = json.dumps(payload, ensure_ascii=False)
    for secret in ("Петрова", "Анна", "Сергеевна", "2021-04-03", "12-34", "ГП № 1"):
        assert secret not in text


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_changed_byte_fails(part: int) -> None:
    token = _sign()
    pieces = token.split(".")
    for position in (0, len(pieces[part]) // 2, len(pieces[part]) - 2):
        changed = list(pieces[part])
        changed[position] = "A" if changed[position] != "A" else "B"
        forged = ".".join([*pieces[:part], "".join(changed), *pieces[part + 1 :]])
        result = verify_certificate(forged, {"vc-2026": KEY.public_key()})
        assert not result.valid
        assert result.initials is None
        assert "не подтвержден" in result.message


def test_a_forged_payload_signed_by_another_key_fails() -> None:
    other = generate_signing_key()
    forged = sign_certificate(HOLDER, ENTRIES, other, kid="vc-2026", certificate_id="c-1", issued_at=ISSUED)
    assert not verify_certificate(forged, {"vc-2026": KEY.public_key()}).valid
    assert not verify_certificate(_sign(), {"other": KEY.public_key()}).valid  # unknown kid
    assert verify_certificate(_sign(), KEY.public_key()).valid  # one key, kid not needed


def test_a_token_of_another_type_is_refused() -> None:
    claims = certificate_claims(HOLDER, ENTRIES, certificate_id="c-1", issued_at=ISSUED)
    access_like = jwt.encode(claims, KEY, algorithm="ES256", headers={"kid": "vc-2026"})
    assert not verify_certificate(access_like, {"vc-2026": KEY.public_key()}).valid
    assert not verify_certificate("not-a-token", {"vc-2026": KEY.public_key()}).valid


def test_claims_need_entries_and_an_aware_time() -> None:
    with pytest.raises(ValueError):
        certificate_claims(HOLDER, (), certificate_id="c", issued_at=ISSUED)
    with pytest.raises(ValueError):
        certificate_claims(HOLDER, ENTRIES, certificate_id="c", issued_at=datetime(2026, 1, 1))


def test_verification_url_carries_the_token_verbatim() -> None:
    token = _sign()
    url = verification_url(BASE, token)
    assert parse_qs(urlsplit(url).query)["c"] == [token]
    assert verification_url(BASE + "?lang=ru", token).startswith(BASE + "?lang=ru&c=")


def test_certificate_lines_list_the_vaccinations() -> None:
    lines = certificate_lines(HOLDER, ENTRIES)
    assert lines[0] == "СЕРТИФИКАТ О ПРОФИЛАКТИЧЕСКИХ ПРИВИВКАХ"
    assert "Петрова Анна Сергеевна" in lines[1]
    assert "3 апреля 2021 г." in lines[2]
    assert lines[4].startswith("03.07.2021 — Пентаксим")
    assert lines[5].startswith("05.04.2022 — Вактривир")
    assert "корь, краснуха, эпидемический паротит" in lines[5]
    assert "серия 12-34" in lines[5]


def _pdf_string(pdf: bytes, key: bytes) -> str:
    """The document-information string ``key`` (a UTF-16BE literal with octal escapes) decoded."""
    match = re.search(rb"/" + key + rb" \((.*?)(?<!\\)\)", pdf, re.S)
    assert match is not None
    raw = re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit() else m.group(1),
        match.group(1),
    )
    return raw.decode("utf-16")


@pytest.mark.skipif(font_path() is None, reason="no DejaVu Sans here (scripts/ensure-services.sh installs it)")
def test_pdf_lists_the_vaccines_and_links_the_qr_to_the_verification_url() -> None:
    token = _sign()
    url = verification_url(BASE, token)
    pdf = render_certificate_pdf(HOLDER, ENTRIES, verify_url=url, certificate_id="c-1", issued_at=ISSUED)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert url.encode() in pdf  # the link annotation over the QR code
    subject = _pdf_string(pdf, b"Subject")
    assert "Вактривир" in subject
    assert "Пентаксим" in subject
    assert _pdf_string(pdf, b"Title") == "Сертификат о профилактических прививках"
    # the URL in the PDF verifies; the same URL with one byte of the token changed does not
    found = re.search(rb"c=([A-Za-z0-9_.-]+)", pdf)
    assert found is not None
    assert verify_certificate(found.group(1).decode(), KEY.public_key()).valid


@pytest.mark.skipif(font_path() is None, reason="no DejaVu Sans here")
def test_a_long_certificate_runs_onto_more_pages() -> None:
    many = tuple(CertificateEntry(vaccine=f"Вакцина {n}", given_on=date(2022, 1, 1 + n % 28)) for n in range(120))
    token = sign_certificate(HOLDER, many[:10], KEY, kid="k", certificate_id="c-2", issued_at=ISSUED)
    pdf = render_certificate_pdf(
        HOLDER, many, verify_url=verification_url(BASE, token), certificate_id="c-2", issued_at=ISSUED
    )
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2


@pytest.mark.skipif(font_path() is None, reason="no DejaVu Sans here")
def test_forty_vaccinations_with_their_codes_still_fit_the_qr_code() -> None:
    """The payload carries each vaccine's short code, not its long name, and UTF-8 rather than escapes."""
    long_name = "Вакцина против вирусного гепатита B рекомбинантная"
    many = [CertificateEntry(vaccine=long_name, code="hepb", given_on=date(2021, 1, 1 + n % 28)) for n in range(40)]
    token = sign_certificate(HOLDER, many, KEY, kid="k", certificate_id="c-3", issued_at=ISSUED)
    url = verification_url(BASE, token)
    assert len(url) < 2000
    pdf = render_certificate_pdf(HOLDER, many, verify_url=url, certificate_id="c-3", issued_at=ISSUED)
    assert url.encode() in pdf
    verdict = verify_certificate(token, KEY.public_key())
    assert verdict.valid and {v.vaccine for v in verdict.vaccinations} == {"hepb"} and len(verdict.vaccinations) == 40
