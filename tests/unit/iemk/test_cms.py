"""Detached CMS signatures: verification is true for intact documents and false for a changed byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.demo_region import get_region
from integrations.iemk.cda import CdaBuilder
from integrations.iemk.cms import RsaCmsSigner, check_detached, parse_signed_data, verify_detached
from integrations.iemk.demo import demo_documents
from integrations.nsi import default_terminology


@pytest.fixture(scope="module")
def doctor() -> RsaCmsSigner:
    return RsaCmsSigner.generate(
        "Саркисян Григорий Ильич", organisation="ГБУЗ СК «Поликлиника № 1»", snils="747-723-999 60"
    )


@pytest.fixture(scope="module")
def document() -> bytes:
    region = get_region()
    return CdaBuilder(default_terminology()).build(demo_documents(region, region.people[0])[0].spec)


def test_intact_document_verifies_with_the_signers_name_and_time(doctor: RsaCmsSigner, document: bytes) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    ok, name, signed_at = verify_detached(document, doctor.sign_detached(document))
    assert ok is True
    assert name == "Саркисян Григорий Ильич"
    assert signed_at is not None and signed_at >= before.replace(microsecond=0)


def test_the_signature_is_detached_and_carries_its_certificate(doctor: RsaCmsSigner, document: bytes) -> None:
    cms = doctor.sign_detached(document)
    signed = parse_signed_data(cms)
    assert signed.detached
    assert document not in cms
    assert signed.certificates[0].serial_number == doctor.certificate.serial_number
    report = check_detached(document, cms)
    assert report.signer_snils == "74772399960"
    assert report.organisation == "ГБУЗ СК «Поликлиника № 1»"


@pytest.mark.parametrize("position", [0, 100, -2])
def test_a_changed_byte_of_the_document_fails(doctor: RsaCmsSigner, document: bytes, position: int) -> None:
    cms = doctor.sign_detached(document)
    changed = bytearray(document)
    changed[position] ^= 0x01
    ok, _, _ = verify_detached(bytes(changed), cms)
    assert ok is False
    assert "messageDigest" in (check_detached(bytes(changed), cms).reason or "")


def test_a_changed_byte_of_the_signature_value_fails(doctor: RsaCmsSigner, document: bytes) -> None:
    cms = bytearray(doctor.sign_detached(document))
    signature = parse_signed_data(bytes(cms)).signers[0].signature
    at = bytes(cms).index(signature)
    cms[at + 10] ^= 0x01
    report = check_detached(document, bytes(cms))
    assert report.ok is False
    assert report.reason == "значение подписи неверно"


def test_another_signers_signature_over_another_document_does_not_verify(doctor: RsaCmsSigner, document: bytes) -> None:
    other = RsaCmsSigner.generate("Другой Врач", key_size=1024)
    assert verify_detached(document, other.sign_detached(document + b" ")).ok is False


def test_garbage_is_a_failed_check_not_an_exception(document: bytes) -> None:
    for junk in (b"", b"\x30\x03\x02\x01", b"not a signature", b"\x30\x82\xff\xff"):
        report = check_detached(document, junk)
        assert report.ok is False
        assert report.reason and report.reason.startswith("подпись не читается")
