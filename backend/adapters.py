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
* ``immunization`` (and ``immunization_simulator``): the immunization register (vaccination history,
  exemptions), real or simulated; ``vaccination_keys``: the certificates' signing key;
* ``attachment_register``: the one demo-region register of who is attached where, shared by the in-process
  hub (``GetPatientsAreas``), home-call and attachment simulators, so they agree;
* ``erzl`` (and ``erzl_simulator``): the register of insured persons and the insurer side (policy, billed
  services, appeals, insurer change), real or simulated over the demo region;
* ``inbox_bus``: the inbox live feed (Redis pub/sub with Redis, in-process queues without);
* ``booking_cache``: booking's stale-while-revalidate cache (Redis-backed with Redis);
* ``llo``, ``clinic_requests`` (and ``llo_simulator``): the regional ЛЛО system and the clinic MIS's requests,
  real or one in-process simulator (which registers the СЭМД it issues in the in-process ИЭМК simulator);
  ``drugs_cache``: pharmacy stock, stale-while-revalidate like booking's slots;
* ``iemk`` (and ``iemk_simulator``): ИЭМК / РЭМД medical documents, real or the in-process register
  simulator over the demo region (on the runtime's clock, so delayed registrations follow it);
* ``nsi``: НСИ (ФНСИ) reference books, real or simulated; ``terminology``: the offline snapshot that
  names codes without the network.
* ``smp`` (and ``smp_simulator``): the regional СМП dispatch feed, real or simulated; the in-process simulator
  pushes its signed events into ``smp_push`` (the ambulance webhook); ``ambulance_bus``: a call's live feed.

Domain-owned per-process state (identity's signing keys, failure counter, staff provider and code SMS
sender; the directory's read caches; booking's decoded slots) sits in typed slots that its domain fills
on first use. The settings' base URLs decide real or simulated: ``inprocess://…`` is the simulator.

Tests replace any part in one line (``rt.adapters.fer = fake``); the replaced part is still closed with
the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from litestar import Litestar
from redis.asyncio import Redis

from backend.adapter_builders import (
    CALLBACK_PATH,
    FCM_CLIENT_EMAIL,
    FCM_PROJECT,
    SCOPES,
    SIM_DELIVERY_DELAY_S,
    SIM_SENDING_DELAY_S,
    SIMULATOR_MOUNT,
    GatewaySmsSender,
    HomeCallPushHandler,
    PushProviders,
    RedisHomeVisitBus,
    RedisWaitlistBus,
    SimulatorHandle,
    SmsStatusCallback,
    booking_hub,
    build_booking_hub,
    build_email_sender,
    build_esia,
    build_iemk,
    build_push_providers,
    build_sms_gateway,
    build_sms_simulator,
    build_vault_keys,
    build_vault_store,
    callback_url,
    certificate_hash_of,
    demo_esia_simulator,
    demo_fer_simulator,
    log,
    real_gost_verifier,
    real_signer,
    set_booking_hub,
)
from backend.adapters_care import CareUpstreams
from backend.booking.cache import CacheBackend, MemoryBackend, RedisBackend, SafeBackend, SwrCache
from backend.settings import Profile
from backend.vault.crypto import KeyRing
from backend.vault.register import NoRegisterDocuments, RegisterDocuments
from backend.vault.store import BlobStore
from integrations.attachment import AttachmentClient, AttachmentRegistry
from integrations.attachment.simulator import create_attachment_simulator
from integrations.common.http import ASGIApp, build_http_client, is_inprocess
from integrations.demo_region import RegionScale, get_region
from integrations.demo_region.areas import AttachmentRegister
from integrations.esia import EsiaIdentityProvider
from integrations.fer import BookingHub
from integrations.homecall import HomeCallClient, HomeCallHub
from integrations.homecall.simulator import create_homecall_simulator
from integrations.iemk import MedicalDocuments
from integrations.nsi import ReferenceBooks, Terminology, build_nsi_client, default_terminology
from integrations.sms import SmsGateway
from notifications.channels import (
    EmailSender,
    InboxBus,
    InProcessInboxBus,
    RedisInboxBus,
)

if TYPE_CHECKING:
    from cachetools import TTLCache

    from backend.identity.ratelimit import FailureCounter
    from backend.identity.service import SmsSender
    from backend.identity.staff import StaffIdentityProvider
    from backend.identity.tokens import SigningKeys
    from backend.runtime import Runtime


class Adapters(CareUpstreams):
    """The typed, lazily built adapters of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
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
        self._waitlist_bus: InboxBus | None = None
        self._homecall: HomeCallHub | None = None
        self._homecall_simulator: Litestar | None = None
        self._attachment: AttachmentRegistry | None = None
        self._attachment_simulator: Litestar | None = None
        self._vault_store: BlobStore | None = None
        self._vault_keys: KeyRing | None = None
        #: The register's documents shown in the vault (the documents domain plugs its service in here).
        self.vault_register: RegisterDocuments = NoRegisterDocuments()
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
    def waitlist_bus(self) -> InboxBus:
        """Waitlist offers' live feed (``waitlistOfferUpdated``): Redis pub/sub with Redis, in-process without."""
        if self._waitlist_bus is None:
            redis: Redis | None = self._runtime.redis
            self._waitlist_bus = RedisWaitlistBus(redis) if redis is not None else InProcessInboxBus()
            self._own(self._waitlist_bus)
        return self._waitlist_bus

    @waitlist_bus.setter
    def waitlist_bus(self, bus: InboxBus) -> None:
        self._own(bus)
        self._waitlist_bus = bus

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
        self._waitlist_bus = None
        self._vault_store = None
        self._forget_care()
        self._esia_simulator = self._sms_simulator = None
        self.signing_keys = self.failure_counter = self.staff_provider = self.code_sms = None
        self.directory_caches.clear()
        self.booking_decoded = None


__all__ = [
    "CALLBACK_PATH",
    "FCM_CLIENT_EMAIL",
    "FCM_PROJECT",
    "SCOPES",
    "SIMULATOR_MOUNT",
    "SIM_DELIVERY_DELAY_S",
    "SIM_SENDING_DELAY_S",
    "Adapters",
    "GatewaySmsSender",
    "HomeCallPushHandler",
    "PushProviders",
    "RedisHomeVisitBus",
    "RedisWaitlistBus",
    "SimulatorHandle",
    "SmsStatusCallback",
    "booking_hub",
    "build_booking_hub",
    "build_email_sender",
    "build_esia",
    "build_iemk",
    "build_push_providers",
    "build_sms_gateway",
    "build_sms_simulator",
    "build_vault_keys",
    "build_vault_store",
    "callback_url",
    "certificate_hash_of",
    "demo_esia_simulator",
    "demo_fer_simulator",
    "log",
    "real_gost_verifier",
    "real_signer",
    "set_booking_hub",
]
