"""Detached CMS signatures: verification is true for intact documents and false for a changed byte."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta

import pytest

from integrations.demo_region import get_region
from integrations.iemk.cda import CdaBuilder
from integrations.iemk.cms import (
    CmsError,
    CommandCmsSigner,
    RsaCmsSigner,
    check_detached,
    openssl_gost_verifier,
    parse_signed_data,
    verify_detached,
)
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


def test_the_external_signer_runs_its_tool_with_the_file_paths() -> None:
    script = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"
    signer = CommandCmsSigner([sys.executable, "-c", script, "{input}", "{output}"])
    assert signer.sign_detached(b"<x/>") == b"<x/>"  # the fake tool "signs" by copying its input
    failing = CommandCmsSigner([sys.executable, "-c", "raise SystemExit(3)", "{input}", "{output}"])
    with pytest.raises(CmsError):
        failing.sign_detached(b"<x/>")


def test_gost_tool_commands_keep_the_password_off_the_command_line() -> None:
    openssl = CommandCmsSigner.openssl(cert_path="c.pem", key_path="k.pem", password_env="MZ_PIN")
    assert openssl.argv[:3] == ["openssl", "cms", "-sign"]
    assert openssl.argv[openssl.argv.index("-md") : openssl.argv.index("-md") + 2] == ["-md", "md_gost12_256"]
    assert "env:MZ_PIN" in openssl.argv
    cryptcp = CommandCmsSigner.cryptcp(thumbprint="ab12")
    assert "-detached" in cryptcp.argv and "ab12" in cryptcp.argv


def test_openssl_verifier_agrees_with_the_builtin_check_where_openssl_exists(
    doctor: RsaCmsSigner, document: bytes
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl here")
    verify = openssl_gost_verifier(engine=None)  # RSA needs no engine: the same command, a different key type
    cms = doctor.sign_detached(document)
    assert verify(document, cms) is True
    assert verify(document + b" ", cms) is False
