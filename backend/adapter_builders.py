"""How each adapter of :mod:`backend.adapters` is built from the settings: the real client for a real URL, the
in-process simulator for ``inprocess://`` (with its demo keys and region), and the small channel adapters."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar import Litestar

from backend.booking.cache import CacheBackend, MemoryBackend, RedisBackend, SafeBackend, SwrCache
from backend.identity.tokens import persisted_ec_key
from backend.settings import Profile, Settings
from backend.vault.crypto import KeyRing
from backend.vault.store import BlobStore, FileBlobStore, S3BlobStore
from integrations.common.http import ASGIApp, build_http_client, is_inprocess
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.areas import AttachmentRegister
from integrations.esia import EcSigner, EsiaClient, RsaSigner, Signer
from integrations.esia.client import PRODUCTION_ISSUER, TEST_ISSUER
from integrations.esia.protocol import CHILDREN_SCOPES, DEFAULT_SCOPES
from integrations.esia.signer import GostSigner, GostVerifier, load_public_key
from integrations.esia.simulator import RegisteredClient, create_esia_simulator
from integrations.fer import BookingHub
from integrations.fer.areas import FerAreasClient, use_register
from integrations.fer.referrals import FerReferralsClient, issue_demo_referrals
from integrations.fer.simulator import create_fer_simulator
from integrations.fer.simulator import simulator_state as fer_simulator_state
from integrations.fer.vaccination import with_vaccination_rooms
from integrations.iemk import MedicalDocuments, build_iemk_client
from integrations.iemk.simulator import create_iemk_simulator
from integrations.iemk.simulator import simulator_state as iemk_state
from integrations.iemk.types import SEMD_TYPES
from integrations.llo import ClinicRequestsClient, LloClient
from integrations.llo.simulator import create_llo_simulator
from integrations.push import ApnsPushProvider, FcmPushProvider, FcmServiceAccount, PushProvider
from integrations.push.simulator import create_apns_simulator, create_fcm_simulator
from integrations.smp import SmpClient
from integrations.smp.simulator import PushTarget, create_smp_simulator
from integrations.sms import SmscSmsGateway, SmsGateway, TwilioSmsGateway, normalise_phone
from integrations.sms.simulator import create_smsc_simulator, create_twilio_simulator
from integrations.sms.twilio import SIGNATURE_HEADER
from notifications.channels import (
    EmailSender,
    FileEmailSender,
    RedisInboxBus,
    SmtpEmailSender,
)


class RedisHomeVisitBus(RedisInboxBus):
    """The live feed of home-visit changes: the inbox bus's machinery on its own channels."""

    PREFIX = "mz:home-visit:"


class RedisWaitlistBus(RedisInboxBus):
    """The live feed of waitlist offers (``waitlistOfferUpdated``): the inbox bus's machinery on its own channels."""

    PREFIX = "mz:waitlist:"


if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

#: ``(url, form parameters, signature header) -> HTTP status``: the Twilio status webhook, as wired.
SmsStatusCallback = Callable[[str, dict[str, str], str | None], Awaitable[int]]
#: ``(body, SOAPAction) -> (HTTP status, SOAP reply)``: the home-call push endpoint, as wired.
HomeCallPushHandler = Callable[[bytes, str | None], Awaitable[tuple[int, bytes]]]

# --- FER ---------------------------------------------------------------------------------------------


def demo_fer_simulator(settings: Settings, register: AttachmentRegister | None = None) -> ASGIApp:
    """The in-process hub over the demo region (with its vaccination rooms, ``integrations.fer.vaccination``);
    it accepts only the configured client guid. With
    ``register``, its ``GetPatientsAreas`` answers from that (shared) attachment register."""
    region = with_vaccination_rooms(get_region(settings.demo_seed, RegionScale(settings.demo_scale)))
    app = create_fer_simulator(region, guid=settings.fer_guid)
    if register is not None:
        use_register(fer_simulator_state(app), register)
    issue_demo_referrals(fer_simulator_state(app))  # the referrals seed-demo prints (integrations/fer/referrals.py)
    return app


def build_booking_hub(
    settings: Settings,
    *,
    simulator_app: Callable[[], ASGIApp] | None = None,
    register: AttachmentRegister | None = None,
) -> tuple[FerAreasClient, httpx.AsyncClient]:
    """A FerAreasClient (the hub client plus ``GetPatientsAreas``) for ``settings.fer_url`` and the httpx
    client it owns (the caller closes that).

    ``simulator_app`` replaces the demo simulator for an ``inprocess://`` URL (tests pass one with
    faults or a changed region); ``register`` is the attachment register the demo simulator shares.
    """
    http = build_http_client(
        settings.fer_url,
        simulator_app=simulator_app or (lambda: demo_fer_simulator(settings, register)),
        timeout_s=settings.upstream_timeout_s,
    )
    # FerReferralsClient: FerAreasClient plus the referral operations (integrations/fer/referrals.py).
    return FerReferralsClient(http, guid=settings.fer_guid, timeout_s=settings.upstream_timeout_s), http


def booking_hub(runtime: Runtime) -> BookingHub:
    """The regional booking hub (FER / N3 HubService) of this runtime: ``runtime.adapters.fer``."""
    return runtime.adapters.fer


def set_booking_hub(runtime: Runtime, hub: BookingHub, *, http: httpx.AsyncClient | None = None) -> None:
    """Use ``hub`` from now on (tests: a simulator with faults or another region); ``http``, when given,
    is closed with the runtime."""
    runtime.adapters.set_fer(hub, http=http)


# --- ESIA --------------------------------------------------------------------------------------------

CALLBACK_PATH = "/api/v1/auth/esia/callback"
SIMULATOR_MOUNT = "/api/v1/esia-sim"
SCOPES = (*DEFAULT_SCOPES, *CHILDREN_SCOPES)

_MEMORY_KEYS: dict[str, ec.EllipticCurvePrivateKey] = {}
_LOCK = threading.Lock()


def callback_url(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}"


def _demo_key(settings: Settings, name: str) -> ec.EllipticCurvePrivateKey:
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


# --- ИЭМК / РЭМД and НСИ ---------------------------------------------------------------------------


def build_iemk(runtime: Runtime) -> tuple[MedicalDocuments, httpx.AsyncClient, ASGIApp | None]:
    """The documents register for ``settings.iemk_url``, the httpx client under it and, in-process, the
    simulator app (on the runtime's clock; smaller test keys in the test profile)."""
    settings = runtime.settings
    app: ASGIApp | None = None
    if is_inprocess(settings.iemk_url):
        app = create_iemk_simulator(
            get_region(settings.demo_seed, RegionScale(settings.demo_scale)),
            clock=runtime.now,
            api_key=settings.iemk_api_key or None,
            key_size=1024 if settings.profile is Profile.TEST else 2048,
        )
    simulator = app
    client, http = build_iemk_client(
        settings.iemk_url,
        timeout_s=settings.upstream_timeout_s,
        api_key=settings.iemk_api_key or None,
        simulator_app=(lambda: simulator) if simulator is not None else None,
    )
    return client, http, app


def build_smp(runtime: Runtime, push_to: PushTarget) -> tuple[SmpClient, httpx.AsyncClient, Litestar | None]:
    """The СМП dispatch feed's client for ``settings.smp_url``, the httpx client under it and, in-process, the
    simulator over the demo region (on the runtime's clock), pushing its signed events to ``push_to``."""
    settings = runtime.settings
    app: Litestar | None = None
    if is_inprocess(settings.smp_url):
        app = create_smp_simulator(
            get_region(settings.demo_seed, RegionScale(settings.demo_scale)),
            clock=runtime.now,
            token=settings.smp_token,
            secret=settings.smp_webhook_secret,
            push_to=push_to,
        )
    simulator = app
    http = build_http_client(
        settings.smp_url,
        simulator_app=(lambda: simulator) if simulator is not None else None,
        timeout_s=settings.upstream_timeout_s,
    )
    return SmpClient(http, token=settings.smp_token, timeout_s=settings.upstream_timeout_s), http, app


# --- preferential drugs (ЛЛО) and the clinic's requests ----------------------------------------------


def llo_semd_hook(runtime: Runtime) -> Callable[[str, str, str | None], str | None]:
    """The in-process ЛЛО simulator's link to РЭМД: a prescription (141) or a certificate (166) it issues is
    registered in the in-process ИЭМК simulator at once, so the documents domain reads it as any other."""

    def hook(snils: str, kind: str, purpose: str | None) -> str | None:
        app = runtime.adapters.iemk_simulator
        if app is None or kind not in SEMD_TYPES:
            return None
        state = iemk_state(app)  # type: ignore[arg-type]  # the in-process simulator is a Litestar app
        try:
            registration = state.register_document(snils=snils, kind=kind, delay=timedelta(0), purpose=purpose)
            return state.registration(registration.local_uid).registry_number
        except Exception:  # a person the register does not know, a kind it cannot build: no link
            log.info("llo.semd_not_registered", kind=kind, exc_info=True)
            return None

    return hook


def build_llo(runtime: Runtime) -> tuple[LloClient, ClinicRequestsClient, list[httpx.AsyncClient], Litestar | None]:
    """The ЛЛО client and the clinic-requests client for the settings' URLs, the httpx clients under them
    and, for ``inprocess://``, the one simulator serving both (the demo's deferred drugs arrive two minutes
    after deferral and the clinic answers a request in one minute)."""
    settings = runtime.settings
    simulator: Litestar | None = None
    if is_inprocess(settings.llo_url) or is_inprocess(settings.clinic_requests_url):
        demo = settings.profile is Profile.EMBEDDED
        simulator = create_llo_simulator(
            get_region(settings.demo_seed, RegionScale(settings.demo_scale)),
            clock=runtime.now,
            token=settings.llo_token,
            semd_hook=llo_semd_hook(runtime),
            auto_restock=timedelta(minutes=2) if demo else None,
            auto_decide=timedelta(minutes=1) if demo else None,
        )
    app = simulator
    llo_http = build_http_client(
        settings.llo_url, simulator_app=(lambda: app) if app else None, timeout_s=settings.upstream_timeout_s
    )
    mis_http = build_http_client(
        settings.clinic_requests_url,
        simulator_app=(lambda: app) if app else None,
        timeout_s=settings.upstream_timeout_s,
    )
    llo = LloClient(llo_http, token=settings.llo_token, timeout_s=settings.upstream_timeout_s)
    mis = ClinicRequestsClient(mis_http, token=settings.clinic_requests_token, timeout_s=settings.upstream_timeout_s)
    return llo, mis, [llo_http, mis_http], simulator


def build_drugs_cache(runtime: Runtime) -> SwrCache:
    """Pharmacy stock, stale-while-revalidate like booking's slots (Redis-backed with Redis, its own keys)."""
    redis = runtime.redis
    backend: CacheBackend = RedisBackend(redis, prefix="mz:drugs:") if redis is not None else MemoryBackend()
    settings = runtime.settings
    return SwrCache(SafeBackend(backend), fresh_s=settings.llo_stock_fresh_s, stale_s=settings.llo_stock_stale_s)


# --- notifications' channels -------------------------------------------------------------------------

FCM_PROJECT = "moe-zdorovye-demo"
FCM_CLIENT_EMAIL = "notifications@moe-zdorovye-demo.iam.gserviceaccount.com"
# The in-process simulators move an SMS along quickly, so the demo shows delivery within seconds.
SIM_SENDING_DELAY_S = 0.2
SIM_DELIVERY_DELAY_S = 1.0


@dataclass
class SimulatorHandle:
    """An in-process simulator app kept with the runtime (closing stops its background timeline)."""

    app: Litestar

    async def aclose(self) -> None:
        state = self.app.state.simulator
        closer = getattr(state, "aclose", None)
        if closer is not None:
            await closer()


def _inprocess_callback_sender(runtime: Runtime) -> Callable[[str, Mapping[str, str], Mapping[str, str]], Any]:
    async def send(url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> None:
        hook = runtime.adapters.sms_status_callback
        if hook is None:
            raise RuntimeError("no SMS status callback is wired into this runtime")
        status = await hook(url, dict(params), headers.get(SIGNATURE_HEADER))
        if status >= 400:
            raise RuntimeError(f"status callback refused with HTTP {status}")

    return send


def build_sms_simulator(runtime: Runtime, **options: Any) -> Litestar:
    """The in-process simulator of the configured provider (``options`` go to its factory)."""
    settings = runtime.settings
    options.setdefault("sending_delay_s", SIM_SENDING_DELAY_S)
    options.setdefault("delivery_delay_s", SIM_DELIVERY_DELAY_S)
    if settings.sms_provider == "twilio":
        options.setdefault("callback_sender", _inprocess_callback_sender(runtime))
        return create_twilio_simulator(settings.twilio_account_sid, settings.twilio_auth_token, **options)
    return create_smsc_simulator(settings.smsc_login, settings.smsc_password, **options)


def build_sms_gateway(settings: Settings, simulator: Litestar | None = None) -> SmsGateway:
    app_factory = (lambda: simulator) if simulator is not None else None
    if settings.sms_provider == "twilio":
        return TwilioSmsGateway(
            base_url=settings.sms_url,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from_number or None,
            messaging_service_sid=None if settings.twilio_from_number else settings.twilio_messaging_service_sid,
            deadline_s=settings.upstream_timeout_s,
            simulator_app=app_factory,
        )
    return SmscSmsGateway(
        base_url=settings.sms_url,
        login=settings.smsc_login,
        password=settings.smsc_password,
        sender=settings.smsc_sender or None,
        deadline_s=settings.upstream_timeout_s,
        simulator_app=app_factory,
    )


@dataclass
class PushProviders:
    providers: dict[str, PushProvider]
    simulators: dict[str, Litestar]

    def get(self, name: str) -> PushProvider | None:
        return self.providers.get(name)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()


def _generate_keys() -> tuple[str, str, str, str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())

    def pem(key: Any) -> str:
        return str(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        )

    def public(key: Any) -> str:
        return str(
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    return pem(rsa_key), public(rsa_key), pem(ec_key), public(ec_key)


def build_push_providers(settings: Settings) -> PushProviders:
    simulators: dict[str, Litestar] = {}
    providers: dict[str, PushProvider] = {}
    fcm_inprocess, apns_inprocess = is_inprocess(settings.push_fcm_url), is_inprocess(settings.push_apns_url)
    rsa_pem, rsa_public, ec_pem, ec_public = _generate_keys() if fcm_inprocess or apns_inprocess else ("",) * 4

    if fcm_inprocess:
        account = FcmServiceAccount(
            project_id=FCM_PROJECT,
            client_email=FCM_CLIENT_EMAIL,
            private_key=rsa_pem,
            private_key_id="demo-key",
            token_uri=f"{settings.push_fcm_url.rstrip('/')}/token",
        )
        fcm_app = create_fcm_simulator(
            FCM_PROJECT, service_account_email=FCM_CLIENT_EMAIL, service_account_public_key=rsa_public
        )
        simulators["fcm"] = fcm_app
        providers["fcm"] = FcmPushProvider(
            service_account=account,
            base_url=settings.push_fcm_url,
            deadline_s=settings.upstream_timeout_s,
            simulator_app=lambda: fcm_app,
        )
    elif settings.push_fcm_service_account_json:
        providers["fcm"] = FcmPushProvider(
            service_account=FcmServiceAccount.from_json(orjson.loads(settings.push_fcm_service_account_json)),
            base_url=settings.push_fcm_url,
            deadline_s=settings.upstream_timeout_s,
        )

    if apns_inprocess:
        apns_app = create_apns_simulator(
            team_id=settings.push_apns_team_id,
            key_id=settings.push_apns_key_id,
            public_key=ec_public,
            topics=[settings.push_apns_topic],
        )
        simulators["apns"] = apns_app
        providers["apns"] = ApnsPushProvider(
            team_id=settings.push_apns_team_id,
            key_id=settings.push_apns_key_id,
            private_key=ec_pem,
            topic=settings.push_apns_topic,
            base_url=settings.push_apns_url,
            deadline_s=settings.upstream_timeout_s,
            simulator_app=lambda: apns_app,
        )
    elif settings.push_apns_private_key_pem:
        providers["apns"] = ApnsPushProvider(
            team_id=settings.push_apns_team_id,
            key_id=settings.push_apns_key_id,
            private_key=settings.push_apns_private_key_pem,
            topic=settings.push_apns_topic,
            base_url=settings.push_apns_url,
            deadline_s=settings.upstream_timeout_s,
        )
    if not providers:
        log.warning("notifications.no_push_provider")
    return PushProviders(providers, simulators)


def build_email_sender(settings: Settings) -> EmailSender:
    if settings.smtp_url:
        return SmtpEmailSender(settings.smtp_url, sender=settings.email_from)
    return FileEmailSender(settings.var_dir / "mail", sender=settings.email_from)


class GatewaySmsSender:
    """Identity's ``SmsSender`` over this runtime's SMS gateway: identity uses it in production
    (``backend.identity.service.sms_sender``).

    Codes are asked for by the person right now, so quiet hours do not apply. ``idempotency_key`` (the
    outbox id) is the provider's client reference: SMSC refuses a repeat within its minute. A temporary
    failure is raised, so identity's outbox handler retries it.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def send(self, phone: str, text: str, *, idempotency_key: str) -> None:
        gateway = self._runtime.adapters.sms
        await gateway.send(normalise_phone(phone), text, client_ref=idempotency_key.replace("-", ""))


# --- the runtime's adapters --------------------------------------------------------------------------


def build_vault_store(settings: Settings) -> BlobStore:
    """The vault's blob store: files under var_dir/vault/blobs, or the S3-compatible bucket."""
    if settings.vault_store == "s3":
        return S3BlobStore(
            endpoint=settings.vault_s3_endpoint,
            bucket=settings.vault_s3_bucket,
            region=settings.vault_s3_region,
            access_key=settings.vault_s3_access_key,
            secret_key=settings.vault_s3_secret_key,
        )
    return FileBlobStore(settings.var_dir / "vault" / "blobs")


def build_vault_keys(settings: Settings) -> KeyRing:
    """MZ_VAULT_KEYS; without it a generated key (kept under var_dir/vault when embedded, in memory in tests)."""
    if settings.vault_keys:
        return KeyRing.parse(settings.vault_keys)
    if settings.profile is Profile.EMBEDDED:
        return KeyRing.kept_in(settings.var_dir / "vault")
    return KeyRing.generated()
