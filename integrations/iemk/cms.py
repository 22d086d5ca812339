"""Detached CMS (PKCS #7 SignedData) signatures of СЭМД: signing and verification.

Signing: :class:`RsaCmsSigner` (the default, for the simulator and tests) builds a real detached
SignedData with ``cryptography``'s ``PKCS7SignatureBuilder`` (SHA-256, RSA PKCS #1 v1.5, the signer's
self-signed test certificate embedded, signed attributes ``contentType``, ``signingTime``,
``messageDigest``). Production signatures are GOST R 34.10-2012: Python has no maintained GOST stack,
so :class:`CommandCmsSigner` is the documented hook that runs an external tool (CryptoPro ``cryptcp``,
or ``openssl cms`` with the GOST engine) configured by an argument template; it is not exercised here.

Verification: ``cryptography`` cannot parse a SignedData's signer infos, and ``asn1crypto`` is not a
dependency of this project, so :func:`check_detached` reads the DER itself (a strict, minimal
reader of the few structures involved), then checks with ``cryptography`` that the ``messageDigest``
attribute equals the digest of the content and that the signature over the DER ``SET OF`` signed
attributes verifies with the public key of the certificate named by ``IssuerAndSerialNumber``.
It does not build a certificate chain (the test certificates are self-signed); a GOST signature is
reported as not verifiable here (``ok=False`` with a reason) unless a ``gost_verifier`` is given.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

SNILS_ATTRIBUTE = x509.ObjectIdentifier("1.2.643.100.3")

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_RSA = "1.2.840.113549.1.1.1"
GOST_OIDS = frozenset({"1.2.643.7.1.1.1.1", "1.2.643.7.1.1.1.2", "1.2.643.7.1.1.3.2", "1.2.643.7.1.1.3.3"})
GOST_DIGESTS = frozenset({"1.2.643.7.1.1.2.2", "1.2.643.7.1.1.2.3"})

_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_HASHLIB = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
            "2.16.840.1.101.3.4.2.3": "sha512"}  # fmt: skip
_SIG_DIGESTS = {  # signature algorithms that name their digest
    "1.2.840.113549.1.1.5": "1.3.14.3.2.26",
    "1.2.840.113549.1.1.11": "2.16.840.1.101.3.4.2.1",
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
}


class CmsError(ValueError):
    """The bytes are not a SignedData this module can read."""


# -- a minimal DER reader ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int  # the identifier octet (single-byte tags only: all CMS needs)
    raw: bytes  # the whole encoding, header included
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        if not self.constructed:
            raise CmsError(f"элемент с тегом 0x{self.tag:02x} не составной")
        return read_all(self.value)


def read_tlv(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """One DER element at ``offset``; returns it and the offset after it."""
    if offset + 2 > len(data):
        raise CmsError("обрыв DER")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise CmsError("многобайтовые теги DER не поддерживаются")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise CmsError("неопределённая или слишком большая длина DER")
        if pos + count > len(data):
            raise CmsError("обрыв DER в длине")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise CmsError("длина DER закодирована не минимально")
        pos += count
    end = pos + length
    if end > len(data):
        raise CmsError("обрыв DER в значении")
    return Tlv(tag, data[offset:end], data[pos:end]), end


def read_all(data: bytes) -> list[Tlv]:
    items: list[Tlv] = []
    offset = 0
    while offset < len(data):
        item, offset = read_tlv(data, offset)
        items.append(item)
    return items


def read_one(data: bytes) -> Tlv:
    item, end = read_tlv(data)
    if end != len(data):
        raise CmsError("лишние байты после структуры DER")
    return item


def decode_oid(tlv: Tlv) -> str:
    if tlv.tag != 0x06 or not tlv.value:
        raise CmsError("ожидался OBJECT IDENTIFIER")
    first = tlv.value[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in tlv.value[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _time(tlv: Tlv) -> datetime:
    text = tlv.value.decode("ascii", errors="replace")
    try:
        if tlv.tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
            return datetime.strptime(text, "%y%m%d%H%M%SZ").replace(tzinfo=UTC)
        if tlv.tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
            return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise CmsError(f"некорректное время подписи {text!r}") from exc
    raise CmsError("signingTime должен быть UTCTime или GeneralizedTime")


# -- the SignedData pieces -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignerInfo:
    issuer_der: bytes | None  # IssuerAndSerialNumber, or None for a subjectKeyIdentifier
    serial: int | None
    key_identifier: bytes | None
    digest_oid: str
    signed_attrs_der: bytes | None  # re-tagged as SET OF (0x31): what the signature covers
    attributes: dict[str, list[Tlv]]
    signature_oid: str
    signature: bytes


def _signer_info(tlv: Tlv) -> SignerInfo:
    parts = tlv.children()
    if len(parts) < 5:
        raise CmsError("неполный SignerInfo")
    sid = parts[1]
    issuer_der: bytes | None = None
    serial: int | None = None
    key_id: bytes | None = None
    if sid.tag == 0x30:
        issuer, number = sid.children()[:2]
        issuer_der, serial = issuer.raw, int.from_bytes(number.value, "big", signed=True)
    elif sid.tag == 0x80:
        key_id = sid.value
    else:
        raise CmsError("неизвестный идентификатор подписанта")
    digest_oid = decode_oid(parts[2].children()[0])
    index = 3
    signed_attrs: bytes | None = None
    attributes: dict[str, list[Tlv]] = {}
    if parts[index].tag == 0xA0:
        signed_attrs = b"\x31" + parts[index].raw[1:]
        for attr in parts[index].children():
            oid_tlv, values = attr.children()[:2]
            attributes.setdefault(decode_oid(oid_tlv), []).extend(values.children())
        index += 1
    if len(parts) < index + 2:
        raise CmsError("в SignerInfo нет алгоритма или значения подписи")
    signature_oid = decode_oid(parts[index].children()[0])
    signature = parts[index + 1]
    if signature.tag != 0x04:
        raise CmsError("значение подписи должно быть OCTET STRING")
    return SignerInfo(issuer_der, serial, key_id, digest_oid, signed_attrs, attributes, signature_oid, signature.value)


@dataclass(frozen=True, slots=True)
class SignedData:
    detached: bool
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[SignerInfo, ...]


def parse_signed_data(cms: bytes) -> SignedData:
    """Read a DER ``ContentInfo`` holding ``SignedData`` (PEM is accepted too)."""
    if cms.lstrip().startswith(b"-----BEGIN"):
        cms = _pem_body(cms)
    content_info = read_one(cms)
    if content_info.tag != 0x30:
        raise CmsError("ContentInfo должен быть SEQUENCE")
    oid_tlv, wrapped = content_info.children()[:2]
    if decode_oid(oid_tlv) != OID_SIGNED_DATA or wrapped.tag != 0xA0:
        raise CmsError("это не SignedData")
    signed = wrapped.children()[0].children()
    encap = signed[2].children()
    if decode_oid(encap[0]) != OID_DATA:
        raise CmsError("подписанное содержимое должно иметь тип data")
    certificates: list[x509.Certificate] = []
    signer_set: Tlv | None = None
    for part in signed[3:]:
        if part.tag == 0xA0:
            for cert in part.children():
                if cert.tag == 0x30:
                    try:
                        certificates.append(x509.load_der_x509_certificate(cert.raw))
                    except ValueError as exc:
                        raise CmsError(f"некорректный сертификат: {exc}") from exc
        elif part.tag == 0x31:
            signer_set = part
    if signer_set is None:
        raise CmsError("в SignedData нет SignerInfos")
    signers = tuple(_signer_info(s) for s in signer_set.children())
    if not signers:
        raise CmsError("в SignedData нет подписантов")
    return SignedData(detached=len(encap) == 1, certificates=tuple(certificates), signers=signers)


def _pem_body(pem: bytes) -> bytes:
    lines = [line for line in pem.decode("ascii", errors="replace").splitlines() if line and "-----" not in line]
    return base64.b64decode("".join(lines))


# -- verification --------------------------------------------------------------------------------


class SignatureCheck(NamedTuple):
    """``(ok, signer_name, signing_time)`` as the brief names it."""

    ok: bool
    signer_name: str | None
    signing_time: datetime | None


@dataclass(frozen=True, slots=True)
class SignatureReport:
    ok: bool
    signer_name: str | None
    signing_time: datetime | None
    signer_snils: str | None
    organisation: str | None
    certificate_serial: int | None
    reason: str | None  # why ``ok`` is False (Russian, for the log and the reader)

    def as_check(self) -> SignatureCheck:
        return SignatureCheck(self.ok, self.signer_name, self.signing_time)


GostVerifier = Callable[[bytes, bytes], bool]  # (content, cms) -> the external tool's verdict


def _name_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode() if isinstance(value, bytes) else value


def _signer_certificate(info: SignerInfo, certs: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for cert in certs:
        if info.issuer_der is not None:
            if cert.serial_number == info.serial and cert.issuer.public_bytes() == info.issuer_der:
                return cert
        elif info.key_identifier is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == info.key_identifier:
                return cert
    return None


def _verify_signature(cert: x509.Certificate, info: SignerInfo, signed: bytes) -> None:
    digest_oid = _SIG_DIGESTS.get(info.signature_oid, info.digest_oid)
    algorithm = _DIGESTS.get(digest_oid)
    if algorithm is None:
        raise CmsError(f"алгоритм хеширования {digest_oid} не поддерживается")
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(info.signature, signed, padding.PKCS1v15(), algorithm())
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(info.signature, signed, ec.ECDSA(algorithm()))
    else:
        raise CmsError("тип ключа сертификата не поддерживается")


def _signer_problem(  # noqa: PLR0911 - one reason per failed check
    info: SignerInfo,
    cert: x509.Certificate | None,
    content: bytes,
    cms: bytes,
    gost_verifier: GostVerifier | None,
) -> str | None:
    """Why this signer's signature does not verify over ``content`` (``None``: it verifies)."""
    if info.digest_oid in GOST_DIGESTS or info.signature_oid in GOST_OIDS:
        if gost_verifier is None:
            return "подпись ГОСТ Р 34.10-2012: проверка требует внешнего средства (не настроено)"
        return None if gost_verifier(content, cms) else "подпись ГОСТ Р 34.10-2012 не прошла проверку"
    if cert is None:
        return "в подписи нет сертификата подписанта"
    hash_name = _HASHLIB.get(info.digest_oid)
    if hash_name is None:
        return f"алгоритм хеширования {info.digest_oid} не поддерживается"
    if info.signed_attrs_der is None:
        return "в подписи нет подписанных атрибутов (messageDigest)"
    types = info.attributes.get(OID_CONTENT_TYPE)
    if not types or decode_oid(types[0]) != OID_DATA:
        return "атрибут contentType отсутствует или не равен data"
    digests = info.attributes.get(OID_MESSAGE_DIGEST)
    if not digests or digests[0].tag != 0x04:
        return "в подписи нет атрибута messageDigest"
    if digests[0].value != hashlib.new(hash_name, content).digest():
        return "хеш документа не совпадает с messageDigest: документ изменён"
    try:
        _verify_signature(cert, info, info.signed_attrs_der)
    except InvalidSignature:
        return "значение подписи неверно"
    except CmsError as exc:
        return str(exc)
    return None


def check_detached(content: bytes, cms: bytes, *, gost_verifier: GostVerifier | None = None) -> SignatureReport:
    """Check a detached CMS over ``content``: the messageDigest attribute and the signature itself.

    Every signer of the SignedData must verify; the report names the first one.
    """
    try:
        signed = parse_signed_data(cms)
    except (CmsError, IndexError, ValueError) as exc:
        return SignatureReport(False, None, None, None, None, None, f"подпись не читается: {exc}")
    first = signed.signers[0]
    cert = _signer_certificate(first, signed.certificates)
    name = _name_attr(cert, NameOID.COMMON_NAME) if cert else None
    snils = _name_attr(cert, SNILS_ATTRIBUTE) if cert else None
    org = _name_attr(cert, NameOID.ORGANIZATION_NAME) if cert else None
    serial = cert.serial_number if cert else None
    when: datetime | None = None
    try:
        times = first.attributes.get(OID_SIGNING_TIME)
        when = _time(times[0]) if times else None
        for info in signed.signers:
            problem = _signer_problem(info, _signer_certificate(info, signed.certificates), content, cms, gost_verifier)
            if problem is not None:
                return SignatureReport(False, name, when, snils, org, serial, problem)
    except (CmsError, IndexError, ValueError) as exc:
        return SignatureReport(False, name, when, snils, org, serial, f"подпись не читается: {exc}")
    return SignatureReport(True, name, when, snils, org, serial, None)


def verify_detached(content: bytes, cms: bytes) -> SignatureCheck:
    """``(ok, signer name, signing time)`` of a detached CMS over ``content``."""
    return check_detached(content, cms).as_check()


# -- signing -------------------------------------------------------------------------------------


class CmsSigner:
    """What signs a document: detached CMS (DER) over the exact bytes."""

    def sign_detached(self, content: bytes) -> bytes:
        raise NotImplementedError


def _fit(text: str, limit: int) -> str:
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text.rstrip()


class RsaCmsSigner(CmsSigner):
    """A test signer: an RSA key and its self-signed certificate naming the person or the organisation."""

    def __init__(self, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> None:
        self._key = key
        self.certificate = certificate

    @classmethod
    def generate(
        cls,
        common_name: str,
        *,
        organisation: str | None = None,
        snils: str | None = None,
        key_size: int = 2048,
        not_before: datetime | None = None,
    ) -> RsaCmsSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        # ``cryptography`` bounds CN at 64 (UTF-8) bytes: a long organisation name is cut in CN and kept
        # whole in O.
        attrs = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
            x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name, 64)),
        ]
        if organisation:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
        if snils:
            attrs.append(x509.NameAttribute(SNILS_ATTRIBUTE, "".join(ch for ch in snils if ch.isdigit())))
        name = x509.Name(attrs)
        start = not_before or datetime(2024, 1, 1, tzinfo=UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=3 * 365))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def sign_detached(self, content: bytes) -> bytes:
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.certificate, self._key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
        )


class CommandCmsSigner(CmsSigner):
    """The GOST hook: run an external signing tool that writes a detached DER CMS.

    ``argv`` is a template; ``{input}`` and ``{output}`` are replaced by temporary file paths. Use
    :meth:`openssl` or :meth:`cryptcp` for the two usual tools. A key password reaches the tool through
    an environment variable, never the command line. Not exercised against a real GOST tool here (none
    is installed); the settings that would choose it are for the lead to add (see the report).
    """

    def __init__(self, argv: Sequence[str], *, timeout_s: float = 30.0) -> None:
        if not argv or not any("{input}" in a for a in argv) or not any("{output}" in a for a in argv):
            raise ValueError("argv must name the tool and use {input} and {output}")
        self.argv = list(argv)
        self._timeout_s = timeout_s

    @classmethod
    def openssl(
        cls,
        *,
        cert_path: str,
        key_path: str,
        tool_path: str = "openssl",
        engine: str | None = "gost",
        password_env: str | None = None,
    ) -> CommandCmsSigner:
        """OpenSSL with the GOST engine (or a provider from ``openssl.cnf`` when ``engine`` is None)."""
        argv = [tool_path, "cms", "-sign", "-binary", "-outform", "DER"]
        if engine:
            argv += ["-engine", engine]
        argv += ["-md", "md_gost12_256", "-signer", cert_path, "-inkey", key_path]
        if password_env:
            argv += ["-passin", f"env:{password_env}"]
        return cls([*argv, "-in", "{input}", "-out", "{output}"])

    @classmethod
    def cryptcp(cls, *, thumbprint: str, tool_path: str = "cryptcp") -> CommandCmsSigner:
        """CryptoPro ``cryptcp``: a detached DER signature with the certificate chosen by its SHA-1 thumbprint."""
        return cls(
            [tool_path, "-sign", "-detached", "-der", "-thumbprint", thumbprint, "-nochain", "{input}", "{output}"]
        )

    def sign_detached(self, content: bytes) -> bytes:
        with tempfile.TemporaryDirectory(prefix="mz-cms-") as tmp:
            source, target = Path(tmp, "content.xml"), Path(tmp, "content.sig")
            source.write_bytes(content)
            argv = [a.replace("{input}", str(source)).replace("{output}", str(target)) for a in self.argv]
            try:
                subprocess.run(argv, check=True, timeout=self._timeout_s, capture_output=True, env=dict(os.environ))  # noqa: S603
            except (OSError, subprocess.SubprocessError) as exc:
                raise CmsError(f"внешнее средство подписи не отработало: {exc}") from exc
            if not target.exists() or not target.stat().st_size:
                raise CmsError("внешнее средство подписи не записало подпись")
            return target.read_bytes()


def openssl_gost_verifier(
    *, tool_path: str = "openssl", engine: str | None = "gost", timeout_s: float = 30.0
) -> GostVerifier:
    """A :data:`GostVerifier` running ``openssl cms -verify`` (integrity and signature; no chain: ``-noverify``).

    For :func:`check_detached`'s ``gost_verifier``; not exercised here (no GOST engine installed).
    """

    def verify(content: bytes, cms: bytes) -> bool:
        with tempfile.TemporaryDirectory(prefix="mz-cms-") as tmp:
            data, sig = Path(tmp, "content.xml"), Path(tmp, "content.sig")
            data.write_bytes(content)
            sig.write_bytes(cms)
            argv = [tool_path, "cms", "-verify", "-binary", "-inform", "DER", "-noverify"]
            if engine:
                argv += ["-engine", engine]
            argv += ["-in", str(sig), "-content", str(data), "-out", os.devnull]
            try:
                done = subprocess.run(argv, timeout=timeout_s, capture_output=True, check=False)  # noqa: S603
            except (OSError, subprocess.SubprocessError):
                return False
            return done.returncode == 0

    return verify
