"""The upstream adapters and channels of a :class:`~backend.runtime.Runtime`, as typed, lazily built fields.

``runtime.adapters`` holds, built on first use and closed with the runtime:

* ``clock``: the one clock of every domain (aware UTC; tests freeze it: ``rt.adapters.clock = ...``);
* ``fer``: the regional booking hub (FER / N3 HubService), real or the in-process simulator;
* ``esia`` (and ``esia_simulator``): ESIA, real or simulated over the demo region;
* ``sms`` (and ``sms_simulator``): SMSC.ru or a Twilio-shaped API, real or simulated (the in-process
  Twilio simulator posts its signed status callbacks into ``sms_status_callback``, which the
  composition root wires to the notifications webhook, so delivery receipts flow as in production);
* ``push``: FCM HTTP v1 and APNs, real or simulated with keys generated at start;
* ``email``: SMTP when ``settings.smtp_url`` is set, otherwise ``.eml`` files under ``var_dir/mail``;
* ``homecall`` (and ``homecall_simulator``): the N3 HomeCallService, real or simulated; the in-process
  simulator pushes ``HandleHomeCallRequestChanged`` into ``homecall_push`` (wired to the home-visit
  domain's push handler, as the served endpoint ``POST /api/v1/home-visits/push`` is);
* ``attachment`` (and ``attachment_simulator``): the attachment upstream, real or simulated;
* ``attachment_register``: the one demo-region register of who is attached where, shared by the in-process
  hub (``GetPatientsAreas``), home-call and attachment simulators, so they agree;
* ``inbox_bus``: the inbox live feed (Redis pub/sub with Redis, in-process queues without);
* ``booking_cache``: booking's stale-while-revalidate cache (Redis-backed with Redis);
* ``iemk`` (and ``iemk_simulator``): ИЭМК / РЭМД medical documents, real or the in-process register
  simulator over the demo region (on the runtime's clock, so delayed registrations follow it);
* ``nsi``: НСИ (ФНСИ) reference books, real or simulated; ``terminology``: the offline snapshot that
  names codes without the network.

Domain-owned per-process state (identity's signing keys, failure counter, staff provider and code SMS
sender; the directory's read caches; booking's decoded slots) sits in typed slots that its domain fills
on first use. The settings' base URLs decide real or simulated: ``inprocess://…`` is the simulator.

Tests replace any part in one line (``rt.adapters.fer = fake``); the replaced part is still closed with
the runtime.
"""

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
from redis.asyncio import Redis

from backend.booking.cache import CacheBackend, MemoryBackend, RedisBackend, SafeBackend, SwrCache
from backend.core.clock import Clock, wall_clock
from backend.identity.tokens import persisted_ec_key
from backend.settings import Profile, Settings
from backend.vault.crypto import KeyRing
from backend.vault.register import NoRegisterDocuments, RegisterDocuments
from backend.vault.store import BlobStore, FileBlobStore, S3BlobStore
from integrations.attachment import AttachmentClient, AttachmentRegistry
from integrations.attachment.simulator import create_attachment_simulator
from integrations.common.http import ASGIApp, build_http_client, is_inprocess
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.areas import AttachmentRegister
from integrations.esia import EcSigner, EsiaClient, EsiaIdentityProvider, RsaSigner, Signer
from integrations.esia.client import PRODUCTION_ISSUER, TEST_ISSUER
from integrations.esia.protocol import CHILDREN_SCOPES, DEFAULT_SCOPES
from integrations.esia.signer import GostSigner, GostVerifier, load_public_key
from integrations.esia.simulator import RegisteredClient, create_esia_simulator
from integrations.fer import BookingHub
from integrations.fer.areas import FerAreasClient, use_register
from integrations.fer.simulator import create_fer_simulator
from integrations.fer.simulator import simulator_state as fer_simulator_state
from integrations.homecall import HomeCallClient, HomeCallHub
from integrations.homecall.simulator import create_homecall_simulator
from integrations.iemk import MedicalDocuments, build_iemk_client
from integrations.iemk.simulator import create_iemk_simulator
from integrations.nsi import ReferenceBooks, Terminology, build_nsi_client, default_terminology
from integrations.push import ApnsPushProvider, FcmPushProvider, FcmServiceAccount, PushProvider
from integrations.push.simulator import create_apns_simulator, create_fcm_simulator
from integrations.sms import SmscSmsGateway, SmsGateway, TwilioSmsGateway, normalise_phone
from integrations.sms.simulator import create_smsc_simulator, create_twilio_simulator
from integrations.sms.twilio import SIGNATURE_HEADER
from notifications.channels import (
    EmailSender,
    FileEmailSender,
    InboxBus,
    InProcessInboxBus,
    RedisInboxBus,
    SmtpEmailSender,
)


class RedisHomeVisitBus(RedisInboxBus):
    """The live feed of home-visit changes: the inbox bus's machinery on its own channels."""

    PREFIX = "mz:home-visit:"


if TYPE_CHECKING:
    from cachetools import TTLCache

    from backend.identity.ratelimit import FailureCounter
    from backend.identity.service import SmsSender
    from backend.identity.staff import StaffIdentityProvider
    from backend.identity.tokens import SigningKeys
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

#: ``(url, form parameters, signature header) -> HTTP status``: the Twilio status webhook, as wired.
SmsStatusCallback = Callable[[str, dict[str, str], str | None], Awaitable[int]]
#: ``(body, SOAPAction) -> (HTTP status, SOAP reply)``: the home-call push endpoint, as wired.
HomeCallPushHandler = Callable[[bytes, str | None], Awaitable[tuple[int, bytes]]]

# --- FER ---------------------------------------------------------------------------------------------


def demo_fer_simulator(settings: Settings, register: AttachmentRegister | None = None) -> ASGIApp:
    """The in-process hub over the demo region; it accepts only the configured client guid. With
    ``register``, its ``GetPatientsAreas`` answers from that (shared) attachment register."""
    region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
    app = create_fer_simulator(region, guid=settings.fer_guid)
    if register is not None:
        use_register(fer_simulator_state(app), register)
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
    return FerAreasClient(http, guid=settings.fer_guid, timeout_s=settings.upstream_timeout_s), http


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


class Adapters:
    """The typed, lazily built adapters of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._clock: Clock | None = None
        self._fer: BookingHub | None = None
        self._esia: EsiaIdentityProvider | None = None
        self._esia_simulator: ASGIApp | None = None
        self._sms: SmsGateway | None = None
        self._sms_simulator: Litestar | None = None
        self._push: PushProviders | None = None
        self._email: EmailSender | None = None
        self._inbox_bus: InboxBus | None = None
        self._booking_cache: SwrCache | None = None
        self._iemk: MedicalDocuments | None = None
        self._iemk_simulator: ASGIApp | None = None
        self._nsi: ReferenceBooks | None = None
        self._terminology: Terminology | None = None
        self._attachment_register: AttachmentRegister | None = None
        self._home_visit_bus: InboxBus | None = None
        self._homecall: HomeCallHub | None = None
        self._homecall_simulator: Litestar | None = None
        self._attachment: AttachmentRegistry | None = None
        self._attachment_simulator: Litestar | None = None
        self._vault_store: BlobStore | None = None
        self._vault_keys: KeyRing | None = None
        #: The register's documents shown in the vault (the documents domain plugs its service in here).
        self.vault_register: RegisterDocuments = NoRegisterDocuments()
        self._owned: list[Any] = []  # everything built or replaced here, closed with the runtime
        #: The Twilio status webhook the in-process Twilio simulator posts to (wired by the runtime).
        self.sms_status_callback: SmsStatusCallback | None = None
        #: The home-call push endpoint the in-process home-call simulator delivers to (wired by the runtime).
        self.homecall_push: HomeCallPushHandler | None = None
        # Domain-owned per-process state, filled by its domain on first use.
        self.signing_keys: SigningKeys | None = None
        self.failure_counter: FailureCounter | None = None
        self.staff_provider: StaffIdentityProvider | None = None
        self.code_sms: SmsSender | None = None
        self.directory_caches: dict[str, TTLCache[Any, Any]] = {}
        self.booking_decoded: dict[Any, Any] | None = None
        #: TEMPORARY: booking's own clock, set by its old ``set_clock`` (see runtime.LegacyServices).

    @property
    def _settings(self) -> Settings:
        return self._runtime.settings

    def _own(self, thing: Any) -> None:
        if thing is not None and all(thing is not owned for owned in self._owned):
            self._owned.append(thing)

    # -- the clock

    @property
    def clock(self) -> Clock:
        return self._clock if self._clock is not None else wall_clock

    @clock.setter
    def clock(self, clock: Clock | None) -> None:
        self._clock = clock

    # -- FER

    @property
    def fer(self) -> BookingHub:
        if self._fer is None:
            hub, http = build_booking_hub(self._settings, register=self.attachment_register)
            self._own(hub)
            self._own(http)
            self._fer = hub
        return self._fer

    @fer.setter
    def fer(self, hub: BookingHub) -> None:
        self.set_fer(hub)

    def set_fer(self, hub: BookingHub, *, http: httpx.AsyncClient | None = None) -> None:
        """Use ``hub`` from now on; ``http`` (the client under it), when given, is closed with the runtime."""
        self._own(hub)
        self._own(http)
        self._fer = hub

    @property
    def fer_http(self) -> httpx.AsyncClient:
        """The httpx client under the hub this runtime built itself."""
        self.fer  # noqa: B018 - builds it
        clients = [owned for owned in self._owned if isinstance(owned, httpx.AsyncClient)]
        return clients[0]

    # -- attachment register, home calls, attachment

    @property
    def attachment_register(self) -> AttachmentRegister:
        """The demo region's attachment register, one per runtime (the in-process simulators share it)."""
        if self._attachment_register is None:
            settings = self._settings
            region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
            self._attachment_register = AttachmentRegister(region, today=self.clock().date())
        return self._attachment_register

    @attachment_register.setter
    def attachment_register(self, register: AttachmentRegister) -> None:
        self._attachment_register = register

    def _sim_clock(self) -> Any:
        return self.clock()

    async def _deliver_homecall_push(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The in-process home-call simulator's push target: our push handler, as the served endpoint runs it."""
        handler = self.homecall_push
        if handler is None:
            raise RuntimeError("no home-call push handler is wired into this runtime")
        _, reply = await handler(body, headers.get("SOAPAction"))
        return reply

    @property
    def homecall(self) -> HomeCallHub:
        if self._homecall is None:
            settings = self._settings
            simulator: Litestar | None = None
            if is_inprocess(settings.homecall_url):
                region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
                simulator = create_homecall_simulator(
                    region,
                    guid=settings.homecall_guid,
                    register=self.attachment_register,
                    clock=self._sim_clock,
                    push_to=self._deliver_homecall_push,
                    push_guid=settings.homecall_push_guid or settings.homecall_guid,
                )
            app = simulator
            http = build_http_client(
                settings.homecall_url,
                simulator_app=(lambda: app) if app else None,
                timeout_s=settings.upstream_timeout_s,
            )
            self.set_homecall(
                HomeCallClient(http, guid=settings.homecall_guid, timeout_s=settings.upstream_timeout_s),
                http=http,
                simulator=simulator,
            )
        assert self._homecall is not None
        return self._homecall

    @homecall.setter
    def homecall(self, hub: HomeCallHub) -> None:
        self.set_homecall(hub)

    def set_homecall(
        self, hub: HomeCallHub, *, http: httpx.AsyncClient | None = None, simulator: Litestar | None = None
    ) -> None:
        """Use ``hub`` from now on (tests: a simulator with faults or another region)."""
        self._own(hub)
        self._own(http)
        self._homecall = hub
        if simulator is not None:
            self._homecall_simulator = simulator

    @property
    def homecall_simulator(self) -> Litestar | None:
        """The in-process home-call simulator behind the adapter (None for a real service)."""
        self.homecall  # noqa: B018 - builds it
        return self._homecall_simulator

    @property
    def attachment(self) -> AttachmentRegistry:
        if self._attachment is None:
            settings = self._settings
            simulator: Litestar | None = None
            if is_inprocess(settings.attachment_url):
                region = get_region(settings.demo_seed, RegionScale(settings.demo_scale))
                # The demo's clinics decide by themselves: a minute to accept, two more to attach.
                demo = settings.profile is Profile.EMBEDDED
                simulator = create_attachment_simulator(
                    region,
                    token=settings.attachment_token,
                    register=self.attachment_register,
                    clock=self._sim_clock,
                    auto_process=timedelta(minutes=1) if demo else None,
                    auto_complete=timedelta(minutes=2) if demo else None,
                )
            app = simulator
            http = build_http_client(
                settings.attachment_url,
                simulator_app=(lambda: app) if app else None,
                timeout_s=settings.upstream_timeout_s,
            )
            self.set_attachment(
                AttachmentClient(http, token=settings.attachment_token, timeout_s=settings.upstream_timeout_s),
                http=http,
                simulator=simulator,
            )
        assert self._attachment is not None
        return self._attachment

    @attachment.setter
    def attachment(self, registry: AttachmentRegistry) -> None:
        self.set_attachment(registry)

    def set_attachment(
        self, registry: AttachmentRegistry, *, http: httpx.AsyncClient | None = None, simulator: Litestar | None = None
    ) -> None:
        self._own(registry)
        self._own(http)
        self._attachment = registry
        if simulator is not None:
            self._attachment_simulator = simulator

    @property
    def attachment_simulator(self) -> Litestar | None:
        self.attachment  # noqa: B018 - builds it
        return self._attachment_simulator

    # -- ESIA

    @property
    def esia(self) -> EsiaIdentityProvider:
        if self._esia is None:
            client, app = build_esia(self._settings)
            self._own(client)
            self._esia = client
            if app is not None:
                self._esia_simulator = app
        return self._esia

    @esia.setter
    def esia(self, provider: EsiaIdentityProvider) -> None:
        self.set_esia(provider)

    def set_esia(self, provider: EsiaIdentityProvider, *, simulator_app: ASGIApp | None = None) -> None:
        """Use ``provider`` from now on (tests: a simulator with faults, another clock)."""
        self._own(provider)
        self._esia = provider
        if simulator_app is not None:
            self._esia_simulator = simulator_app

    @property
    def esia_simulator(self) -> ASGIApp | None:
        """The in-process simulator behind the ESIA adapter (None for a real ESIA)."""
        self.esia  # noqa: B018 - builds it
        return self._esia_simulator

    # -- SMS

    @property
    def sms(self) -> SmsGateway:
        if self._sms is None:
            simulator = None
            if is_inprocess(self._settings.sms_url):
                simulator = build_sms_simulator(self._runtime)
                self._own(SimulatorHandle(simulator))
                self._sms_simulator = simulator
            self._sms = build_sms_gateway(self._settings, simulator)
            self._own(self._sms)
        return self._sms

    @sms.setter
    def sms(self, gateway: SmsGateway) -> None:
        self.set_sms(gateway)

    def set_sms(self, gateway: SmsGateway, *, simulator: Litestar | None = None) -> None:
        """Use ``gateway`` from now on. The caller owns ``simulator``'s lifetime (it may outlive this
        runtime, like a real provider)."""
        self._own(gateway)
        self._sms = gateway
        if simulator is not None:
            self._sms_simulator = simulator

    @property
    def sms_simulator(self) -> Litestar | None:
        """The in-process SMS simulator behind the gateway, if any (tests, the benchmark)."""
        self.sms  # noqa: B018 - builds it
        return self._sms_simulator

    def gateway_sms_sender(self) -> GatewaySmsSender:
        """Identity's one-time codes over the SMS gateway."""
        return GatewaySmsSender(self._runtime)

    # -- push, e-mail, inbox, booking cache

    @property
    def push(self) -> PushProviders:
        if self._push is None:
            self._push = build_push_providers(self._settings)
            self._own(self._push)
        return self._push

    @push.setter
    def push(self, providers: PushProviders) -> None:
        self._own(providers)
        self._push = providers

    @property
    def email(self) -> EmailSender:
        if self._email is None:
            self._email = build_email_sender(self._settings)
            self._own(self._email)
        return self._email

    @email.setter
    def email(self, sender: EmailSender) -> None:
        self._own(sender)
        self._email = sender

    @property
    def inbox_bus(self) -> InboxBus:
        if self._inbox_bus is None:
            redis: Redis | None = self._runtime.redis
            self._inbox_bus = RedisInboxBus(redis) if redis is not None else InProcessInboxBus()
            self._own(self._inbox_bus)
        return self._inbox_bus

    @inbox_bus.setter
    def inbox_bus(self, bus: InboxBus) -> None:
        self._own(bus)
        self._inbox_bus = bus

    @property
    def home_visit_bus(self) -> InboxBus:
        """Home visits' live feed (``homeVisitUpdated``): Redis pub/sub with Redis, in-process queues without."""
        if self._home_visit_bus is None:
            redis: Redis | None = self._runtime.redis
            self._home_visit_bus = RedisHomeVisitBus(redis) if redis is not None else InProcessInboxBus()
            self._own(self._home_visit_bus)
        return self._home_visit_bus

    @home_visit_bus.setter
    def home_visit_bus(self, bus: InboxBus) -> None:
        self._own(bus)
        self._home_visit_bus = bus

    @property
    def booking_cache(self) -> SwrCache:
        if self._booking_cache is None:
            redis: Redis | None = self._runtime.redis
            backend: CacheBackend = RedisBackend(redis) if redis is not None else MemoryBackend()
            self._booking_cache = SwrCache(SafeBackend(backend))
            self._own(self._booking_cache)
        return self._booking_cache

    @booking_cache.setter
    def booking_cache(self, cache: SwrCache) -> None:
        self._own(cache)
        self._booking_cache = cache

    # -- ИЭМК / РЭМД, НСИ

    @property
    def iemk(self) -> MedicalDocuments:
        if self._iemk is None:
            client, http, app = build_iemk(self._runtime)
            self._own(client)
            self._own(http)
            self._iemk, self._iemk_simulator = client, app
        return self._iemk

    @iemk.setter
    def iemk(self, documents: MedicalDocuments) -> None:
        self._own(documents)
        self._iemk = documents

    @property
    def iemk_simulator(self) -> ASGIApp | None:
        """The in-process register simulator behind ``iemk`` (None for a real register): tests and the demo
        register new documents through its state (``integrations.iemk.simulator.simulator_state``)."""
        self.iemk  # noqa: B018 - builds it
        return self._iemk_simulator

    @property
    def nsi(self) -> ReferenceBooks:
        if self._nsi is None:
            client, http = build_nsi_client(
                self._settings.nsi_url,
                user_key=self._settings.nsi_user_key,
                timeout_s=self._settings.upstream_timeout_s,
            )
            self._own(client)
            self._own(http)
            self._nsi = client
        return self._nsi

    @nsi.setter
    def nsi(self, books: ReferenceBooks) -> None:
        self._own(books)
        self._nsi = books

    @property
    def terminology(self) -> Terminology:
        """Code names from the shipped НСИ snapshot (no network)."""
        if self._terminology is None:
            self._terminology = default_terminology()
        return self._terminology

    @property
    def vault_store(self) -> BlobStore:
        if self._vault_store is None:
            self._vault_store = build_vault_store(self._settings)
            self._own(self._vault_store)
        return self._vault_store

    @vault_store.setter
    def vault_store(self, store: BlobStore) -> None:
        self._own(store)
        self._vault_store = store

    @property
    def vault_keys(self) -> KeyRing:
        if self._vault_keys is None:
            self._vault_keys = build_vault_keys(self._settings)
        return self._vault_keys

    @vault_keys.setter
    def vault_keys(self, keys: KeyRing) -> None:
        self._vault_keys = keys

    async def aclose(self) -> None:
        """Close everything built or replaced here (once each), then forget it."""
        owned, self._owned = self._owned, []
        for slot in (self.signing_keys, self.failure_counter, self.staff_provider, self.code_sms):
            if slot is not None and all(slot is not thing for thing in owned):
                owned.append(slot)
        for thing in owned:
            closer = getattr(thing, "aclose", None)
            if closer is not None:
                await closer()
        self._fer = self._esia = self._sms = self._push = self._email = self._inbox_bus = None
        self._booking_cache = None
        self._iemk = self._iemk_simulator = self._nsi = None
        self._homecall = self._attachment = None
        self._homecall_simulator = self._attachment_simulator = None
        self._attachment_register = None
        self._home_visit_bus = None
        self._vault_store = None
        self._esia_simulator = self._sms_simulator = None
        self.signing_keys = self.failure_counter = self.staff_provider = self.code_sms = None
        self.directory_caches.clear()
        self.booking_decoded = None
