"""The key the certificates' QR payloads are signed with (ES256), and the keys they are checked with.

``MZ_VACCINATION_CERTIFICATE_KEY_PEM`` in production (required); the embedded profile keeps a generated key
under ``var_dir/vaccination`` so certificates printed by ``seed-demo`` verify after a restart; tests use one
key per process. The key id is the RFC 7638 thumbprint, as for our access tokens.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.identity.tokens import persisted_ec_key, thumbprint
from backend.settings import Profile
from backend.vaccination.certificate import generate_signing_key

if TYPE_CHECKING:
    from backend.runtime import Runtime

_PROCESS_KEY: ec.EllipticCurvePrivateKey | None = None
_LOCK = threading.Lock()


@dataclass(frozen=True)
class CertificateKeys:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    verification: dict[str, ec.EllipticCurvePublicKey]


def _private(runtime: Runtime) -> ec.EllipticCurvePrivateKey:
    global _PROCESS_KEY  # noqa: PLW0603 - one generated key per test process, shared by its runtimes
    settings = runtime.settings
    if settings.vaccination_certificate_key_pem:
        key = serialization.load_pem_private_key(settings.vaccination_certificate_key_pem.encode("ascii"), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("MZ_VACCINATION_CERTIFICATE_KEY_PEM: must be an EC P-256 private key")
        return key
    if settings.profile is Profile.EMBEDDED:
        return persisted_ec_key(settings.var_dir / "vaccination" / "certificate-signing-key.pem")
    with _LOCK:
        if _PROCESS_KEY is None:
            _PROCESS_KEY = generate_signing_key()
        return _PROCESS_KEY


def certificate_keys(runtime: Runtime) -> CertificateKeys:
    keys = runtime.adapters.vaccination_keys
    if not isinstance(keys, CertificateKeys):
        private = _private(runtime)
        kid = thumbprint(private.public_key())
        keys = CertificateKeys(private, kid, {kid: private.public_key()})
        runtime.adapters.vaccination_keys = keys
    return keys
