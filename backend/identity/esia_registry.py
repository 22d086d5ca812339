"""The ESIA adapter of a runtime: the real ESIA, or the in-process simulator over the demo region.

For ``MZ_ESIA_URL=inprocess://esia`` our client's key and the simulator's token-signing key are EC P-256
keys generated once (kept under ``var_dir/identity`` in the embedded profile, so restarts keep working;
in memory in tests), our client is registered in the simulator with the callback
``{public_url}/api/v1/auth/esia/callback``, and the simulator is also mounted at ``/api/v1/esia-sim`` so
a real browser can reach its login page (``make run``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from integrations.common.http import ASGIApp, build_http_client, is_inprocess
from integrations.esia import EcSigner, EsiaClient, EsiaIdentityProvider, RsaSigner, Signer
from integrations.esia.client import PRODUCTION_ISSUER, TEST_ISSUER
from integrations.esia.protocol import CHILDREN_SCOPES, DEFAULT_SCOPES
from integrations.esia.signer import GostSigner, GostVerifier, load_public_key

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from backend.settings import Settings

ESIA = "identity.esia"
ESIA_SIMULATOR = "identity.esia.simulator"
CALLBACK_PATH = "/api/v1/auth/esia/callback"
SIMULATOR_MOUNT = "/api/v1/esia-sim"
SCOPES = (*DEFAULT_SCOPES, *CHILDREN_SCOPES)

_MEMORY_KEYS: dict[str, ec.EllipticCurvePrivateKey] = {}
_LOCK = threading.Lock()


def callback_url(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}"


def _demo_key(settings: Settings, name: str) -> ec.EllipticCurvePrivateKey:
    from backend.identity.tokens import persisted_ec_key
    from backend.settings import Profile

    if settings.profile is Profile.EMBEDDED:
        return persisted_ec_key(settings.var_dir / "identity" / f"{name}.pem")
    with _LOCK:
        if name not in _MEMORY_KEYS:
            _MEMORY_KEYS[name] = ec.generate_private_key(ec.SECP256R1())
        return _MEMORY_KEYS[name]


def certificate_hash_of(key: Any) -> str:
    """A stand-in for the certificate hash in the demo: SHA-256 of the public key (64 hex digits)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def demo_esia_simulator(settings: Settings) -> tuple[ASGIApp, EcSigner, EcSigner, str]:
    """(the simulator app, our client's signer, the simulator's signer, our certificate hash)."""
    from integrations.demo_region import RegionScale, get_region
    from integrations.esia.simulator import RegisteredClient, create_esia_simulator

    client_signer = EcSigner(_demo_key(settings, "esia-client-key"))
    esia_signer = EcSigner(_demo_key(settings, "esia-simulator-key"))
    cert_hash = settings.esia_certificate_hash or certificate_hash_of(client_signer.public_key())
    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    app = create_esia_simulator(
        region.people,
        clients={
            settings.esia_client_id: RegisteredClient(
                redirect_uris=(callback_url(settings),),
                verification_key=client_signer.public_key(),
                certificate_hash=cert_hash,
            )
        },
        signer=esia_signer,
        key_id="esia-demo",
    )
    return app, client_signer, esia_signer, cert_hash


def real_signer(settings: Settings) -> Signer:
    """Our ``client_secret`` signer for a real ESIA, as the settings choose (see MZ_ESIA_SIGNER)."""
    if settings.esia_signer == "key":
        if not settings.esia_client_key_pem:
            raise RuntimeError("MZ_ESIA_CLIENT_KEY_PEM is required when MZ_ESIA_SIGNER=key")
        return _signer_from_pem(settings.esia_client_key_pem)
    tool = settings.esia_signer
    return GostSigner(
        tool=tool,  # type: ignore[arg-type]
        tool_path=settings.esia_gost_tool_path or tool,
        container=settings.esia_gost_container or None,
        key_path=settings.esia_gost_key_path or None,
        engine=(settings.esia_gost_engine or None) if tool == "openssl" else None,
        password_env=settings.esia_gost_password_env or None,
    )


def real_gost_verifier(settings: Settings) -> GostVerifier | None:
    if not settings.esia_gost_public_key_path:
        return None
    return GostVerifier(
        tool="openssl",
        tool_path=settings.esia_gost_tool_path
        if settings.esia_signer == "openssl" and settings.esia_gost_tool_path
        else "openssl",
        public_key_path=settings.esia_gost_public_key_path,
        engine=settings.esia_gost_engine or None,
    )


def _signer_from_pem(pem: str) -> Signer:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return EcSigner(key)
    raise ValueError("MZ_ESIA_CLIENT_KEY_PEM: an RSA or EC private key (GOST signing needs a GostSigner)")


def _public_keys(bundle: str) -> list[Any]:
    marker = "-----END PUBLIC KEY-----"
    return [
        load_public_key((chunk.strip() + "\n" + marker + "\n").encode("ascii"))
        for chunk in bundle.split(marker)
        if "-----BEGIN PUBLIC KEY-----" in chunk
    ]


def build_esia(
    settings: Settings, *, simulator_app: Callable[[], ASGIApp] | None = None
) -> tuple[EsiaClient, ASGIApp | None]:
    """An EsiaClient for ``settings.esia_url`` and, for an in-process URL, the simulator app it talks to."""
    scopes = SCOPES
    if is_inprocess(settings.esia_url):
        app, client_signer, esia_signer, cert_hash = demo_esia_simulator(settings)
        if simulator_app is not None:
            app = simulator_app()
        http = build_http_client(settings.esia_url, simulator_app=lambda: app, timeout_s=settings.upstream_timeout_s)
        portal = settings.esia_portal_url or f"{settings.public_url.rstrip('/')}{SIMULATOR_MOUNT}"
        client = EsiaClient(
            http,
            client_id=settings.esia_client_id,
            redirect_uri=callback_url(settings),
            signer=client_signer,
            certificate_hash=cert_hash,
            esia_public_keys=[esia_signer.public_key()],
            issuer=TEST_ISSUER,
            portal_url=portal,
            scopes=scopes,
            deadline_s=settings.upstream_timeout_s,
        )
        return client, app
    if not settings.esia_certificate_hash:
        raise RuntimeError("MZ_ESIA_CERTIFICATE_HASH is required for a real ESIA")
    verifier = real_gost_verifier(settings)
    if not settings.esia_public_keys_pem and verifier is None:
        raise RuntimeError("MZ_ESIA_PUBLIC_KEYS_PEM or MZ_ESIA_GOST_PUBLIC_KEY_PATH is required for a real ESIA")
    signer = real_signer(settings)
    http = build_http_client(settings.esia_url, timeout_s=settings.upstream_timeout_s)
    client = EsiaClient(
        http,
        client_id=settings.esia_client_id,
        redirect_uri=callback_url(settings),
        signer=signer,
        certificate_hash=settings.esia_certificate_hash,
        esia_public_keys=_public_keys(settings.esia_public_keys_pem),
        gost_verifier=verifier,
        issuer=PRODUCTION_ISSUER if "esia.gosuslugi.ru" in settings.esia_url else TEST_ISSUER,
        portal_url=settings.esia_portal_url or None,
        scopes=scopes,
        deadline_s=settings.upstream_timeout_s,
    )
    return client, None


def esia(runtime: Runtime) -> EsiaIdentityProvider:
    """The runtime's ESIA adapter (built on first use; closed with the runtime)."""
    provider: EsiaIdentityProvider | None = runtime.services.get(ESIA)
    if provider is None:
        client, app = build_esia(runtime.settings)
        runtime.services[ESIA] = provider = client
        if app is not None:
            runtime.services[ESIA_SIMULATOR] = app
    return provider


def esia_simulator(runtime: Runtime) -> ASGIApp | None:
    """The in-process simulator behind the runtime's ESIA adapter (None for a real ESIA)."""
    esia(runtime)
    app: ASGIApp | None = runtime.services.get(ESIA_SIMULATOR)
    return app


def set_esia(runtime: Runtime, provider: EsiaIdentityProvider, *, simulator_app: ASGIApp | None = None) -> None:
    """Use ``provider`` from now on (tests: a simulator with faults, another clock)."""
    previous = runtime.services.get(ESIA)
    if previous is not None and previous is not provider:
        runtime.services[f"{ESIA}.{id(previous)}"] = previous  # still closed with the runtime
    runtime.services[ESIA] = provider
    if simulator_app is not None:
        runtime.services[ESIA_SIMULATOR] = simulator_app
