"""The channels of a :class:`~backend.runtime.Runtime`, built once and kept in ``runtime.services``.

* SMS: ``settings.sms_provider`` picks SMSC.ru or a Twilio-shaped API; ``settings.sms_url`` picks the
  real one or (``inprocess://sms``) its simulator in this process. The in-process Twilio simulator posts
  its signed status callbacks straight into our webhook handler, so delivery receipts flow as in
  production (signature check included).
* Push: FCM HTTP v1 and APNs, real or (``inprocess://…``) simulated with keys generated at start.
* E-mail: SMTP when ``settings.smtp_url`` is set, otherwise ``.eml`` files under ``var_dir/mail``.
* Inbox live feed: Redis pub/sub when the runtime has Redis, in-process queues otherwise.
* The clock: injectable (tests freeze it), so quiet hours and back-off never depend on the wall clock.

Tests swap a part with the ``set_*`` functions (a simulator with faults, a frozen clock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from litestar import Litestar

from backend.core.db import utcnow
from integrations.common.http import is_inprocess
from integrations.push import ApnsPushProvider, FcmPushProvider, FcmServiceAccount, PushProvider
from integrations.sms import SmscSmsGateway, SmsGateway, TwilioSmsGateway
from integrations.sms.twilio import SIGNATURE_HEADER
from notifications.channels import EmailSender, FileEmailSender, InboxBus, InProcessInboxBus, RedisInboxBus

if TYPE_CHECKING:
    from backend.runtime import Runtime
    from backend.settings import Settings

log = structlog.get_logger(__name__)

CLOCK = "notifications.clock"
SMS = "notifications.sms"
SMS_SIMULATOR = "notifications.sms.simulator"
PUSH = "notifications.push"
EMAIL = "notifications.email"
INBOX_BUS = "notifications.inbox_bus"

WEBHOOK_PATH = "/api/v1/webhooks/sms/twilio"
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


# --- clock -------------------------------------------------------------------------------------------


def now(runtime: Runtime) -> datetime:
    clock: Callable[[], datetime] = runtime.services.get(CLOCK, utcnow)
    return clock()


def set_clock(runtime: Runtime, clock: Callable[[], datetime]) -> None:
    runtime.services[CLOCK] = clock


# --- SMS ---------------------------------------------------------------------------------------------


def twilio_callback_url(settings: Settings, message_id: Any) -> str:
    """Where Twilio posts delivery reports of one message; our id in the URL lets a report arrive even
    when the worker died before it could record Twilio's sid."""
    return f"{settings.public_url.rstrip('/')}{WEBHOOK_PATH}?m={message_id}"


def _inprocess_callback_sender(runtime: Runtime) -> Callable[[str, Mapping[str, str], Mapping[str, str]], Any]:
    async def send(url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> None:
        from notifications.routes import handle_twilio_callback

        status = await handle_twilio_callback(runtime, url, dict(params), headers.get(SIGNATURE_HEADER))
        if status >= 400:
            raise RuntimeError(f"status callback refused with HTTP {status}")

    return send


def build_sms_simulator(runtime: Runtime, **options: Any) -> Litestar:
    """The in-process simulator of the configured provider (``options`` go to its factory)."""
    from integrations.sms.simulator import create_smsc_simulator, create_twilio_simulator

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


def sms_gateway(runtime: Runtime) -> SmsGateway:
    gateway: SmsGateway | None = runtime.services.get(SMS)
    if gateway is None:
        simulator = None
        if is_inprocess(runtime.settings.sms_url):
            simulator = build_sms_simulator(runtime)
            runtime.services[SMS_SIMULATOR] = SimulatorHandle(simulator)
        gateway = build_sms_gateway(runtime.settings, simulator)
        runtime.services[SMS] = gateway
    return gateway


def set_sms_gateway(runtime: Runtime, gateway: SmsGateway, *, simulator: Litestar | None = None) -> None:
    """Use ``gateway`` from now on (tests). The previous one is closed with the runtime."""
    previous = runtime.services.get(SMS)
    if previous is not None and previous is not gateway:
        runtime.services[f"{SMS}.previous.{id(previous)}"] = previous
    runtime.services[SMS] = gateway
    if simulator is not None:
        # The caller owns the simulator's lifetime (it may outlive this runtime, like a real provider).
        runtime.services[SMS_SIMULATOR + ".app"] = simulator


def sms_simulator(runtime: Runtime) -> Litestar | None:
    """The in-process SMS simulator behind this runtime's gateway, if any (tests, the benchmark)."""
    sms_gateway(runtime)
    app: Litestar | None = runtime.services.get(SMS_SIMULATOR + ".app")
    if app is not None:
        return app
    handle: SimulatorHandle | None = runtime.services.get(SMS_SIMULATOR)
    return handle.app if handle is not None else None


# --- push --------------------------------------------------------------------------------------------


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
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

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
    from integrations.push.simulator import create_apns_simulator, create_fcm_simulator

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


def push_providers(runtime: Runtime) -> PushProviders:
    providers: PushProviders | None = runtime.services.get(PUSH)
    if providers is None:
        providers = build_push_providers(runtime.settings)
        runtime.services[PUSH] = providers
    return providers


# --- e-mail, inbox -----------------------------------------------------------------------------------


def email_sender(runtime: Runtime) -> EmailSender:
    sender: EmailSender | None = runtime.services.get(EMAIL)
    if sender is None:
        settings = runtime.settings
        if settings.smtp_url:
            from notifications.channels import SmtpEmailSender

            sender = SmtpEmailSender(settings.smtp_url, sender=settings.email_from)
        else:
            sender = FileEmailSender(settings.var_dir / "mail", sender=settings.email_from)
        runtime.services[EMAIL] = sender
    return sender


def inbox_bus(runtime: Runtime) -> InboxBus:
    bus: InboxBus | None = runtime.services.get(INBOX_BUS)
    if bus is None:
        bus = RedisInboxBus(runtime.redis) if runtime.redis is not None else InProcessInboxBus()
        runtime.services[INBOX_BUS] = bus
    return bus


# --- identity's one-time codes -----------------------------------------------------------------------


class GatewaySmsSender:
    """Identity's ``SmsSender`` over this runtime's SMS gateway: plug it with
    ``backend.identity.service.set_sms_sender(runtime, GatewaySmsSender(runtime))``.

    Codes are asked for by the person right now, so quiet hours do not apply. ``idempotency_key`` (the
    outbox id) is the provider's client reference: SMSC refuses a repeat within its minute. A temporary
    failure is raised, so identity's outbox handler retries it.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def send(self, phone: str, text: str, *, idempotency_key: str) -> None:
        from integrations.sms import normalise_phone

        gateway = sms_gateway(self._runtime)
        await gateway.send(normalise_phone(phone), text, client_ref=idempotency_key.replace("-", ""))
