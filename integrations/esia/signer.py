"""Signatures for ESIA's ``client_secret`` (and for the simulator's JWTs).

``/aas/oauth2/v2/ac`` and ``/aas/oauth2/v3/te`` take ``client_secret`` = base64url (unpadded) of a raw
GOST R 34.10-2012 (256) signature over ``client_id + scope + scope_org + timestamp + state + redirect_uri``
(``+ code`` for the ``authorization_code`` grant) — not PKCS#7 (protocols.md 1.4).

* :class:`GostSigner` — the production mode. Python has no maintained GOST stack, so it runs an external
  tool: CryptoPro ``csptest`` or ``openssl`` with the GOST engine/provider, configured by path.
* :class:`RsaSigner` / :class:`EcSigner` — RS256 / ES256 with ``cryptography``, for the simulator and the
  tests (ESIA itself rejects RSA certificates since 2020).

Every signer returns the signature bytes exactly as they go on the wire; base64url is applied by
:func:`make_client_secret`.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

GOST_ALGORITHM = "GOST3410_2012_256"  # the JWT ``alg`` ESIA uses for its own tokens

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@runtime_checkable
class Signer(Protocol):
    """Produces the raw signature ESIA expects, in wire byte order."""

    @property
    def algorithm(self) -> str:
        """The JWT ``alg`` name of this signature: ``GOST3410_2012_256``, ``RS256``, ``ES256``."""
        ...

    def sign(self, data: bytes) -> bytes: ...


@runtime_checkable
class SignatureVerifier(Protocol):
    def verify(self, data: bytes, signature: bytes) -> bool: ...


class SigningError(RuntimeError):
    """The signature could not be produced (tool missing, failed, or returned garbage)."""


# ---------------------------------------------------------------------------------------------- helpers


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (clients differ, protocols.md 1.4)."""
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_secret_message(
    *,
    client_id: str,
    scope: str,
    scope_org: str,
    timestamp: str,
    state: str,
    redirect_uri: str,
    code: str | None = None,
) -> str:
    """The exact string ESIA verifies ``client_secret`` over (``ilimurzin/esia : src/Esia/Esia.php``)."""
    return client_id + scope + scope_org + timestamp + state + redirect_uri + (code or "")


def make_client_secret(signer: Signer, message: str) -> str:
    """``client_secret``: the signer's raw signature of ``message`` (UTF-8), base64url without padding."""
    return b64url_encode(signer.sign(message.encode("utf-8")))


# ---------------------------------------------------------------------------------------------- RSA / EC


class RsaSigner:
    """RS256: RSASSA-PKCS1-v1_5 with SHA-256."""

    algorithm = "RS256"

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._key = private_key

    @classmethod
    def generate(cls, key_size: int = 2048) -> RsaSigner:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=key_size))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> RsaSigner:
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("the PEM does not hold an RSA private key")
        return cls(key)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class EcSigner:
    """ES256: ECDSA P-256 with SHA-256; the raw ``r || s`` form (64 bytes, as JWS and as GOST's layout)."""

    algorithm = "ES256"

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a P-256 key")
        self._key = private_key

    @classmethod
    def generate(cls) -> EcSigner:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> EcSigner:
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("the PEM does not hold an EC private key")
        return cls(key)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class PublicKeyVerifier:
    """Verifies what :class:`RsaSigner` / :class:`EcSigner` produce, given the public key."""

    def __init__(self, public_key: PublicKey) -> None:
        self._key = public_key

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            if isinstance(self._key, rsa.RSAPublicKey):
                self._key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(signature) != 64:
                    return False
                der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
                self._key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def load_public_key(pem: bytes) -> PublicKey:
    """A public key from a PEM public key or certificate."""
    if b"CERTIFICATE" in pem:
        key: object = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise TypeError(f"unsupported public key type {type(key).__name__}")
    return key


# ---------------------------------------------------------------------------------------------- GOST

GostTool = Literal["csptest", "openssl"]


@dataclass(frozen=True)
class _ExternalTool:
    tool: GostTool
    tool_path: str
    timeout_s: float = 15.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def _run(self, command: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, **self.extra_env}
        try:
            return subprocess.run(  # noqa: S603 - argv list, no shell; paths come from settings
                list(command), capture_output=True, timeout=self.timeout_s, env=env, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SigningError(f"{self.tool} could not run: {exc}") from exc


@dataclass(frozen=True)
class GostSigner(_ExternalTool):
    """GOST R 34.10-2012 (256) ``client_secret`` through an external tool (production mode).

    * ``tool="csptest"`` — CryptoPro CSP: ``csptest -keys -sign GOST12_256 -cont <container>
      -keytype exchange -in <data> -out <sig>`` (``ofstudio/go-api-epgu : esia/signature/local-cp-gost.go``).
      CryptoPro writes the signature little-endian, so it is byte-reversed before use (``reverse`` defaults
      to True). The container must open without an interactive PIN (stored PIN or HSM policy).
    * ``tool="openssl"`` — OpenSSL with the GOST engine (``engine="gost"``) or a provider configured in
      ``openssl.cnf`` (``engine=None``): ``openssl dgst -md_gost12_256 -sign <key.pem> -out <sig> <data>``
      (``ilimurzin/esia : src/Esia/Signer/CliOpenSSLSigner.php``). OpenSSL already writes ESIA's byte
      order (``reverse`` defaults to False). A key password is passed through the environment variable
      named by ``password_env`` (``-passin env:NAME``), never on the command line.

    ``client_certificate_hash`` is not computed here: take it once from ``cpverify -mk -alg GR3411_2012_256
    <cert>`` and put it in the settings.
    """

    container: str | None = None
    key_path: str | None = None
    engine: str | None = None
    password_env: str | None = None
    reverse: bool | None = None
    temp_dir: str | None = None

    algorithm = GOST_ALGORITHM

    def __post_init__(self) -> None:
        if self.tool == "csptest" and not self.container:
            raise ValueError("csptest needs the key container name")
        if self.tool == "openssl" and not self.key_path:
            raise ValueError("openssl needs the private key path")

    @property
    def reverses_output(self) -> bool:
        return self.reverse if self.reverse is not None else self.tool == "csptest"

    def build_command(self, data_path: str, signature_path: str) -> list[str]:
        if self.tool == "csptest":
            return [
                self.tool_path,
                "-keys",
                "-sign",
                "GOST12_256",
                "-cont",
                str(self.container),
                "-keytype",
                "exchange",
                "-in",
                data_path,
                "-out",
                signature_path,
            ]
        command = [self.tool_path, "dgst"]
        if self.engine:
            command += ["-engine", self.engine]
        command += ["-md_gost12_256", "-sign", str(self.key_path)]
        if self.password_env:
            command += ["-passin", f"env:{self.password_env}"]
        return [*command, "-out", signature_path, data_path]

    def sign(self, data: bytes) -> bytes:
        with tempfile.TemporaryDirectory(prefix="esia-sign-", dir=self.temp_dir) as tmp:
            data_path, signature_path = Path(tmp, "data"), Path(tmp, "signature")
            data_path.write_bytes(data)
            completed = self._run(self.build_command(str(data_path), str(signature_path)))
            if completed.returncode != 0:
                stderr = completed.stderr.decode("utf-8", "replace").strip()[-500:]
                raise SigningError(f"{self.tool} exited with {completed.returncode}: {stderr}")
            try:
                signature = signature_path.read_bytes()
            except OSError as exc:
                raise SigningError(f"{self.tool} wrote no signature: {exc}") from exc
        if len(signature) != 64:
            raise SigningError(f"a GOST R 34.10-2012 (256) signature has 64 bytes, {self.tool} gave {len(signature)}")
        return signature[::-1] if self.reverses_output else signature


@dataclass(frozen=True)
class GostVerifier(_ExternalTool):
    """Verifies a GOST R 34.10-2012 (256) signature (ESIA's JWTs) with ``openssl dgst -verify``.

    ``public_key_path`` is ESIA's public key in PEM (extracted from its certificate). ESIA's JWT signature
    is sent reversed relative to OpenSSL's order (``CryptoPro/libcore`` issue #45), hence ``reverse=True``
    by default — check it against the current ESIA certificate when it is rotated.
    """

    public_key_path: str = ""
    engine: str | None = None
    reverse: bool = True
    temp_dir: str | None = None

    def __post_init__(self) -> None:
        if self.tool != "openssl" or not self.public_key_path:
            raise ValueError("GostVerifier runs openssl and needs ESIA's public key path")

    def build_command(self, data_path: str, signature_path: str) -> list[str]:
        command = [self.tool_path, "dgst"]
        if self.engine:
            command += ["-engine", self.engine]
        return [*command, "-md_gost12_256", "-verify", self.public_key_path, "-signature", signature_path, data_path]

    def verify(self, data: bytes, signature: bytes) -> bool:
        with tempfile.TemporaryDirectory(prefix="esia-verify-", dir=self.temp_dir) as tmp:
            data_path, signature_path = Path(tmp, "data"), Path(tmp, "signature")
            data_path.write_bytes(data)
            signature_path.write_bytes(signature[::-1] if self.reverse else signature)
            completed = self._run(self.build_command(str(data_path), str(signature_path)))
        # openssl exits with 1 and "Verification failure" on a wrong signature; a missing tool raises above.
        return completed.returncode == 0
