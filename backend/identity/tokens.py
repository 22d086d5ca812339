"""Our access tokens: ES256 JWTs (RFC 9068 ``at+jwt``) with a ``kid``, published as a JWKS.

Claims: ``iss``, ``aud``, ``sub`` (the patient the session is about, or the staff/kiosk id when it is
about nobody), ``act`` = ``{"sub": <operator or kiosk id>}`` when someone acts for ``sub`` (RFC 8693),
``kind`` (patient | operator | kiosk: who holds the token), ``channel``, ``scope`` (space separated),
``sid`` (the :class:`~backend.identity.models.AuthSession`), ``iat``/``exp``/``jti``.

The signing key comes from ``MZ_JWT_PRIVATE_KEY_PEM``; without it the embedded profile keeps a generated
key under ``var_dir/identity`` (restarts keep sessions), the test profile one per process, and production
refuses to issue or accept tokens. ``MZ_JWT_PREVIOUS_PUBLIC_KEYS_PEM`` keeps accepting (and publishing)
keys being rotated out.

Times come from :func:`now`, which tests replace per runtime (``set_clock``): no wall-clock in tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import ECAlgorithm

from backend.core.context import Actor, ActorKind, Channel
from backend.core.db import utcnow  # noqa: F401 - re-exported: tests read the wall clock here
from backend.settings import Profile, Settings

if TYPE_CHECKING:
    from backend.runtime import Runtime

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"


class InvalidTokenError(Exception):
    """The bearer token is not one we accept; ``message`` is Russian and safe to show."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # for logs and audit: "signature", "expired", "audience", "revoked", ...


INVALID_MESSAGE = "Недействительный маркер доступа. Войдите заново."
EXPIRED_MESSAGE = "Срок действия входа истек. Войдите заново."


# ---------------------------------------------------------------------------------------------- clock


def now(runtime: Runtime) -> datetime:
    """The runtime's one clock (``runtime.now()``); tests inject one with :func:`set_clock`."""
    return runtime.now()


def set_clock(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    runtime.adapters.clock = clock


# ---------------------------------------------------------------------------------------------- keys


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    jwk: dict[str, str] = json.loads(ECAlgorithm.to_jwk(key))
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


def thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: the ``kid``."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKeys:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    verification_keys: dict[str, ec.EllipticCurvePublicKey]  # kid → key: the current one and rotated-out ones

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(key) | {"kid": kid, "alg": ALGORITHM, "use": "sig"}
                for kid, key in self.verification_keys.items()
            ]
        }

    @classmethod
    def from_private_key(
        cls, private_key: ec.EllipticCurvePrivateKey, previous: Iterable[ec.EllipticCurvePublicKey] = ()
    ) -> SigningKeys:
        public = private_key.public_key()
        kid = thumbprint(public)
        keys = {kid: public} | {thumbprint(k): k for k in previous}
        return cls(private_key=private_key, kid=kid, verification_keys=keys)


_PROCESS_KEY: ec.EllipticCurvePrivateKey | None = None
_PROCESS_LOCK = threading.Lock()


def _load_private(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("MZ_JWT_PRIVATE_KEY_PEM: must be an EC P-256 private key (ES256)")
    return key


def _previous_keys(bundle: str) -> list[ec.EllipticCurvePublicKey]:
    keys: list[ec.EllipticCurvePublicKey] = []
    marker = "-----END PUBLIC KEY-----"
    for chunk in bundle.split(marker):
        if "-----BEGIN PUBLIC KEY-----" not in chunk:
            continue
        key = serialization.load_pem_public_key((chunk.strip() + "\n" + marker + "\n").encode("ascii"))
        if isinstance(key, ec.EllipticCurvePublicKey):
            keys.append(key)
    return keys


def persisted_ec_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """An EC P-256 key kept in ``path`` (created with mode 0600 on first use)."""
    if path.exists():
        return _load_private(path.read_text(encoding="ascii"))
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def _default_private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    global _PROCESS_KEY  # noqa: PLW0603 - one generated key per test process, shared by its runtimes
    if settings.jwt_private_key_pem:
        return _load_private(settings.jwt_private_key_pem)
    if settings.profile is Profile.PRODUCTION:
        raise RuntimeError("MZ_JWT_PRIVATE_KEY_PEM: required in production (EC P-256 private key, PEM)")
    if settings.profile is Profile.EMBEDDED:
        return persisted_ec_key(settings.var_dir / "identity" / "jwt-signing-key.pem")
    with _PROCESS_LOCK:
        if _PROCESS_KEY is None:
            _PROCESS_KEY = ec.generate_private_key(ec.SECP256R1())
        return _PROCESS_KEY


def signing_keys(runtime: Runtime) -> SigningKeys:
    keys = runtime.adapters.signing_keys
    if keys is None:
        settings = runtime.settings
        keys = SigningKeys.from_private_key(
            _default_private_key(settings), _previous_keys(settings.jwt_previous_public_keys_pem)
        )
        runtime.adapters.signing_keys = keys
    return keys


_SEAL_INFO = b"moe-zdorovye identity seal v1"


def _seal_key(runtime: Runtime) -> AESGCM:
    """An AES-256-GCM key derived (HKDF-SHA256) from the token-signing key: every process of a deployment
    has it, nothing else has to be configured."""
    secret = signing_keys(runtime).private_key.private_numbers().private_value.to_bytes(32, "big")
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(secret))


def seal(runtime: Runtime, text: str) -> str:
    """``text`` encrypted for this deployment (for what must not sit in clear text in a table: an SMS code)."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + _seal_key(runtime).encrypt(nonce, text.encode(), _SEAL_INFO)).decode("ascii")


def unseal(runtime: Runtime, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return _seal_key(runtime).decrypt(raw[:12], raw[12:], _SEAL_INFO).decode()


def issuer(settings: Settings) -> str:
    return (settings.jwt_issuer or settings.public_url).rstrip("/")


# ---------------------------------------------------------------------------------------------- tokens


def issue_access_token(
    runtime: Runtime,
    *,
    subject: str,
    kind: ActorKind,
    channel: Channel,
    scopes: Iterable[str],
    actor_id: str | None = None,
    session_id: uuid.UUID | None = None,
    ttl_s: int | None = None,
    audience: str | None = None,
) -> tuple[str, int]:
    """Sign an access token; returns it and its lifetime in seconds."""
    settings = runtime.settings
    keys = signing_keys(runtime)
    lifetime = ttl_s if ttl_s is not None else settings.jwt_access_ttl_s
    issued = now(runtime)
    claims: dict[str, Any] = {
        "iss": issuer(settings),
        "aud": audience or settings.jwt_audience,
        "sub": subject,
        "kind": kind.value,
        "channel": channel.value,
        "scope": " ".join(sorted(set(scopes))),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=lifetime)).timestamp()),
        "jti": secrets.token_urlsafe(16),
    }
    if actor_id is not None:
        claims["act"] = {"sub": actor_id}
    if session_id is not None:
        claims["sid"] = str(session_id)
    token = jwt.encode(claims, keys.private_key, algorithm=ALGORITHM, headers={"kid": keys.kid, "typ": TOKEN_TYPE})
    return token, lifetime


def verify_access_token(runtime: Runtime, token: str) -> dict[str, Any]:
    """The claims of a token we issued and still accept; :class:`InvalidTokenError` otherwise."""
    settings = runtime.settings
    keys = signing_keys(runtime)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="malformed") from exc
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise InvalidTokenError(INVALID_MESSAGE, reason="header")
    key = keys.verification_keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidTokenError(INVALID_MESSAGE, reason="unknown_kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=issuer(settings),
            options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="issuer") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="signature") from exc
    moment = now(runtime).timestamp()
    if not isinstance(claims.get("exp"), int) or moment >= claims["exp"]:
        raise InvalidTokenError(EXPIRED_MESSAGE, reason="expired")
    if not isinstance(claims.get("iat"), int) or claims["iat"] > moment + 60:
        raise InvalidTokenError(INVALID_MESSAGE, reason="iat")
    return claims


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    """The :class:`Actor` a verified token stands for.

    A patient's own token: ``Actor(PATIENT, id=sub, subject_id=sub)``. With ``act``: the operator or
    kiosk is the actor (``id`` = act.sub) and ``sub`` the patient acted for (``subject_id``). Without
    ``act`` for an operator or kiosk device: ``id`` = sub and no subject.
    """
    try:
        kind = ActorKind(claims.get("kind", ActorKind.PATIENT.value))
        channel = Channel(claims["channel"])
    except (KeyError, ValueError) as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="claims") from exc
    if kind in (ActorKind.SYSTEM, ActorKind.ANONYMOUS):
        raise InvalidTokenError(INVALID_MESSAGE, reason="claims")
    scopes = frozenset(str(claims.get("scope", "")).split())
    sub = str(claims["sub"])
    act = claims.get("act")
    try:
        if kind is ActorKind.PATIENT:
            if act is not None:
                raise ValueError("a patient token does not carry act")
            patient = uuid.UUID(sub)
            return Actor(kind=kind, channel=channel, id=str(patient), subject_id=patient, scopes=scopes)
        if isinstance(act, dict) and act.get("sub"):
            return Actor(kind=kind, channel=channel, id=str(act["sub"]), subject_id=uuid.UUID(sub), scopes=scopes)
        if act is not None:
            raise ValueError("malformed act claim")
        return Actor(kind=kind, channel=channel, id=sub, subject_id=None, scopes=scopes)
    except ValueError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="claims") from exc


def session_id_of(claims: dict[str, Any]) -> uuid.UUID | None:
    sid = claims.get("sid")
    if sid is None:
        return None
    try:
        return uuid.UUID(str(sid))
    except ValueError as exc:
        raise InvalidTokenError(INVALID_MESSAGE, reason="claims") from exc


# ---------------------------------------------------------------------------------------------- opaque secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (refresh tokens, codes); never store the secret itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
