"""Contract tests: the push providers against their in-process simulators, in the real protocol shapes."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar import Litestar

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.http import build_http_client
from integrations.push import (
    ApnsPushProvider,
    FcmPushProvider,
    FcmServiceAccount,
    PushProvider,
    PushRejected,
    PushTemporaryError,
    PushTokenInvalid,
)
from integrations.push.simulator import (
    ApnsSimulatorState,
    FcmSimulatorState,
    apns_state,
    create_apns_simulator,
    create_fcm_simulator,
    fcm_state,
)

PROJECT = "moe-zdorovye-demo"
SA_EMAIL = "fcm-sender@moe-zdorovye-demo.iam.gserviceaccount.com"
TOKEN_URI = "inprocess://fcm/token"
GOOD_FCM_TOKEN = "dGVzdC1kZXZpY2U6APA91bH_good-token"
DEAD_FCM_TOKEN = "dGVzdC1kZXZpY2U6APA91bH_uninstalled"

TEAM_ID, KEY_ID, BUNDLE = "TEAM123456", "KEY1234567", "ru.gosuslugi.moezdorovye"
GOOD_APNS_TOKEN = "a" * 64
DEAD_APNS_TOKEN = "b" * 64


class ManualClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ec_keys() -> tuple[str, str]:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


# --- FCM ---------------------------------------------------------------------------------------------


@dataclass
class FcmRig:
    app: Litestar
    provider: FcmPushProvider
    clock: ManualClock
    injector: FaultInjector

    @property
    def state(self) -> FcmSimulatorState:
        return fcm_state(self.app)


def _service_account(private_pem: str) -> FcmServiceAccount:
    return FcmServiceAccount.from_json(
        orjson.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123abcd",
                "private_key": private_pem,
                "client_email": SA_EMAIL,
                "token_uri": TOKEN_URI,
            }
        )
    )


@pytest.fixture
async def fcm(rsa_keys: tuple[str, str]) -> AsyncIterator[FcmRig]:
    private_pem, public_pem = rsa_keys
    clock = ManualClock()
    injector = FaultInjector(FaultProfile(timeout_stall_s=5.0))
    app = create_fcm_simulator(
        PROJECT,
        service_account_email=SA_EMAIL,
        service_account_public_key=public_pem,
        token_audience=TOKEN_URI,
        faults=injector,
        invalid_tokens={DEAD_FCM_TOKEN},
        clock=clock,
    )
    provider = FcmPushProvider(
        service_account=_service_account(private_pem),
        base_url="inprocess://fcm",
        deadline_s=0.5,
        simulator_app=lambda: app,
        clock=clock,
    )
    yield FcmRig(app, provider, clock, injector)
    await provider.aclose()


async def test_fcm_send_happy_path_and_message_shape(fcm: FcmRig) -> None:
    assert isinstance(fcm.provider, PushProvider)
    result = await fcm.provider.send(
        GOOD_FCM_TOKEN, "Запись подтверждена", "Терапевт, 12 марта в 10:30", {"appointment_id": "42"}
    )
    assert re.fullmatch(rf"projects/{PROJECT}/messages/0:\d+%[0-9a-f]+", result.message_id)
    [stored] = fcm.state.messages_to(GOOD_FCM_TOKEN)
    assert stored.name == result.message_id
    assert stored.notification == {"title": "Запись подтверждена", "body": "Терапевт, 12 марта в 10:30"}
    assert stored.data == {"appointment_id": "42"}


async def test_fcm_access_token_is_cached_until_expiry(fcm: FcmRig) -> None:
    for i in range(5):
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {"n": str(i)})
    assert fcm.state.token_requests == 1
    assert len(fcm.state.messages) == 5

    fcm.clock.advance(3600 - 30)  # inside the refresh margin: a new token is fetched ahead of expiry
    await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    assert fcm.state.token_requests == 2

    fcm.state.revoke_access_tokens()  # server-side revocation: one 401, one refresh, one retry
    await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    assert fcm.state.token_requests == 3
    assert len(fcm.state.messages) == 7


async def test_fcm_concurrent_sends_share_one_token_request(fcm: FcmRig) -> None:
    await asyncio.gather(*(fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {}) for _ in range(8)))
    assert fcm.state.token_requests == 1
    assert len(fcm.state.messages) == 8


async def test_fcm_unregistered_token_is_invalid(fcm: FcmRig) -> None:
    with pytest.raises(PushTokenInvalid) as caught:
        await fcm.provider.send(DEAD_FCM_TOKEN, "t", "b", {})
    assert caught.value.reason == "UNREGISTERED"
    with pytest.raises(PushTokenInvalid) as bad:
        await fcm.provider.send("has spaces", "t", "b", {})
    assert bad.value.reason == "INVALID_ARGUMENT"
    assert fcm.state.messages == []


async def test_fcm_error_reply_shape(fcm: FcmRig) -> None:
    await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})  # obtains an access token
    [access_token] = fcm.state.access_tokens
    async with build_http_client("inprocess://fcm", simulator_app=lambda: fcm.app) as raw:
        reply = await raw.post(
            f"/v1/projects/{PROJECT}/messages:send",
            json={"message": {"token": DEAD_FCM_TOKEN, "notification": {"title": "t", "body": "b"}}},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        anonymous = await raw.post(f"/v1/projects/{PROJECT}/messages:send", json={"message": {}})
    assert reply.status_code == 404
    assert reply.json() == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}],
        }
    }
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"


async def test_fcm_temporary_failures(fcm: FcmRig) -> None:
    fcm.injector.force(Fault.ERROR)
    with pytest.raises(PushTemporaryError) as down:
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    assert down.value.reason == "UNAVAILABLE"

    fcm.injector.force(Fault.MALFORMED)
    with pytest.raises(PushTemporaryError) as garbled:
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    assert garbled.value.reason == "MALFORMED_REPLY"

    fcm.injector.force(Fault.TIMEOUT)
    with pytest.raises(PushTemporaryError) as slow:
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    assert slow.value.reason == "TIMEOUT"
    assert fcm.state.messages == []


async def test_fcm_token_endpoint_refuses_a_foreign_key(fcm: FcmRig) -> None:
    other_private, _ = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    impostor = FcmPushProvider(
        service_account=_service_account(other_private),
        base_url="inprocess://fcm",
        simulator_app=lambda: fcm.app,
        clock=fcm.clock,
    )
    with pytest.raises(PushRejected) as caught:
        await impostor.send(GOOD_FCM_TOKEN, "t", "b", {})
    await impostor.aclose()
    assert caught.value.reason == "OAUTH_INVALID_GRANT"
    assert fcm.state.access_tokens == {}


async def test_fcm_assertion_shape(fcm: FcmRig) -> None:
    await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {})
    [(header, claims)] = fcm.state.assertions
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "0123abcd"}
    assert claims == {
        "iss": SA_EMAIL,
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "aud": TOKEN_URI,
        "iat": int(fcm.clock()),
        "exp": int(fcm.clock()) + 3600,
    }


async def test_fcm_refuses_reserved_or_non_string_data(fcm: FcmRig) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {"google.c.a.e": "1"})
    with pytest.raises(ValueError, match="strings"):
        await fcm.provider.send(GOOD_FCM_TOKEN, "t", "b", {"n": 1})  # type: ignore[dict-item]
    assert fcm.state.token_requests == 0


# --- APNs --------------------------------------------------------------------------------------------


@dataclass
class ApnsRig:
    app: Litestar
    provider: ApnsPushProvider
    clock: ManualClock
    injector: FaultInjector

    @property
    def state(self) -> ApnsSimulatorState:
        return apns_state(self.app)


def _apns_provider(app: Litestar, private_pem: str, clock: ManualClock, *, topic: str = BUNDLE) -> ApnsPushProvider:
    return ApnsPushProvider(
        team_id=TEAM_ID,
        key_id=KEY_ID,
        private_key=private_pem,
        topic=topic,
        base_url="inprocess://apns",
        deadline_s=0.5,
        simulator_app=lambda: app,
        clock=clock,
    )


@pytest.fixture
async def apns(ec_keys: tuple[str, str]) -> AsyncIterator[ApnsRig]:
    private_pem, public_pem = ec_keys
    clock = ManualClock()
    injector = FaultInjector(FaultProfile(timeout_stall_s=5.0))
    app = create_apns_simulator(
        team_id=TEAM_ID,
        key_id=KEY_ID,
        public_key=public_pem,
        topics={BUNDLE},
        faults=injector,
        invalid_tokens={DEAD_APNS_TOKEN},
        clock=clock,
    )
    provider = _apns_provider(app, private_pem, clock)
    yield ApnsRig(app, provider, clock, injector)
    await provider.aclose()


async def test_apns_send_happy_path_and_request_shape(apns: ApnsRig) -> None:
    assert isinstance(apns.provider, PushProvider)
    result = await apns.provider.send(GOOD_APNS_TOKEN, "Результат анализа готов", "Откройте приложение", {"doc": "7"})
    [stored] = apns.state.notifications_to(GOOD_APNS_TOKEN)
    assert stored.apns_id == result.message_id
    assert re.fullmatch(r"[0-9a-f-]{36}", result.message_id)
    assert (stored.topic, stored.push_type, stored.priority) == (BUNDLE, "alert", "10")
    assert stored.payload == {
        "aps": {"alert": {"title": "Результат анализа готов", "body": "Откройте приложение"}, "sound": "default"},
        "doc": "7",
    }
    [provider_token] = apns.state.provider_tokens_seen
    assert jwt.get_unverified_header(provider_token) == {"alg": "ES256", "typ": "JWT", "kid": KEY_ID}
    assert jwt.decode(provider_token, options={"verify_signature": False}) == {
        "iss": TEAM_ID,
        "iat": int(apns.clock()),
    }


async def test_apns_provider_token_reused_then_refreshed(apns: ApnsRig) -> None:
    await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    apns.clock.advance(20 * 60)
    await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    assert len(apns.state.provider_tokens_seen) == 1
    apns.clock.advance(31 * 60)
    await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    assert len(apns.state.provider_tokens_seen) == 2
    assert len(apns.state.notifications) == 3


async def test_apns_invalid_tokens(apns: ApnsRig) -> None:
    with pytest.raises(PushTokenInvalid) as gone:
        await apns.provider.send(DEAD_APNS_TOKEN, "t", "b", {})
    assert gone.value.reason == "Unregistered"
    with pytest.raises(PushTokenInvalid) as short:
        await apns.provider.send("abcd", "t", "b", {})
    assert short.value.reason == "BadDeviceToken"
    with pytest.raises(PushTokenInvalid):
        await apns.provider.send("../../evil", "t", "b", {})
    assert apns.state.notifications == []


async def test_apns_configuration_errors_are_rejected(apns: ApnsRig, ec_keys: tuple[str, str]) -> None:
    wrong_topic = _apns_provider(apns.app, ec_keys[0], apns.clock, topic="ru.example.other")
    with pytest.raises(PushRejected) as caught:
        await wrong_topic.send(GOOD_APNS_TOKEN, "t", "b", {})
    await wrong_topic.aclose()
    assert caught.value.reason == "TopicDisallowed"

    other_key, _ = _pem(ec.generate_private_key(ec.SECP256R1()))
    forged = _apns_provider(apns.app, other_key, apns.clock)
    with pytest.raises(PushRejected) as bad_key:
        await forged.send(GOOD_APNS_TOKEN, "t", "b", {})
    await forged.aclose()
    assert bad_key.value.reason == "InvalidProviderToken"

    with pytest.raises(ValueError, match="aps"):
        await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {"aps": "x"})
    assert apns.state.notifications == []


async def test_apns_temporary_failures(apns: ApnsRig) -> None:
    apns.injector.force(Fault.ERROR)
    with pytest.raises(PushTemporaryError) as down:
        await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    assert down.value.reason == "ServiceUnavailable"

    apns.injector.force(Fault.MALFORMED)
    with pytest.raises(PushTemporaryError) as garbled:
        await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    assert garbled.value.reason == "MalformedReply"

    apns.injector.force(Fault.TIMEOUT)
    with pytest.raises(PushTemporaryError) as slow:
        await apns.provider.send(GOOD_APNS_TOKEN, "t", "b", {})
    assert slow.value.reason == "Timeout"
    assert apns.state.notifications == []


def test_apns_network_client_requires_http2(ec_keys: tuple[str, str]) -> None:
    if importlib.util.find_spec("h2") is None:  # HTTP/2 support is not installed
        with pytest.raises(RuntimeError, match="HTTP/2"):
            ApnsPushProvider(team_id=TEAM_ID, key_id=KEY_ID, private_key=ec_keys[0], topic=BUNDLE)
    else:
        provider = ApnsPushProvider(team_id=TEAM_ID, key_id=KEY_ID, private_key=ec_keys[0], topic=BUNDLE)
        assert provider.provider == "apns"
