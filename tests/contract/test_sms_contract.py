"""Contract tests: the SMS gateways against their in-process simulators, in the real protocol shapes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import httpx
import pytest
from litestar import Litestar

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.http import build_http_client
from integrations.sms import (
    InvalidPhone,
    SmsGateway,
    SmsMessageNotFound,
    SmsRejected,
    SmsStatus,
    SmsTemporaryError,
    normalise_phone,
    parse_twilio_status_callback,
    verify_twilio_signature,
)
from integrations.sms.simulator import (
    SmscSimulatorState,
    TwilioSimulatorState,
    count_segments,
    create_smsc_simulator,
    create_twilio_simulator,
    smsc_state,
    twilio_state,
)
from integrations.sms.smsc import SmscSmsGateway, smsc_message_id
from integrations.sms.twilio import TwilioSmsGateway, compute_twilio_signature

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-auth-token"
FROM = "+15005550006"
CALLBACK_URL = "https://api.example.ru/hooks/sms/twilio?tenant=demo"
PATIENT = "+79123456789"
UNREACHABLE = "+79990000001"
BROKEN = "+79990000002"
CYRILLIC = re.compile("[А-Яа-яЁё]")


class ManualClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class CallbackInbox:
    received: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> None:
        self.received.append((url, dict(params), dict(headers)))
        self.event.set()

    def statuses(self) -> list[str]:
        return [params["MessageStatus"] for _, params, _ in self.received]


def _in_process(app: Litestar) -> httpx.AsyncClient:
    return build_http_client("inprocess://sim", simulator_app=lambda: app)


# --- phones ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (912) 345-67-89", "+79123456789"),
        ("+7 912 345 67 89", "+79123456789"),
        ("89123456789", "+79123456789"),
        ("  +7(912)345-67-89 ", "+79123456789"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalise_phone_to_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["garbage", "12345", "8 (000) 000-00-00", "+7 912 345", "x" * 100])
def test_normalise_phone_rejects_garbage_in_russian(raw: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(raw)
    assert CYRILLIC.search(str(caught.value))


def test_normalise_phone_empty_asks_for_a_number() -> None:
    with pytest.raises(InvalidPhone, match="Укажите номер телефона"):
        normalise_phone("   ")


def test_segments_count_gsm_and_cyrillic() -> None:
    assert count_segments("Code 4821") == 1
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("Код входа: 4821") == 1
    assert count_segments("ж" * 70) == 1
    assert count_segments("ж" * 71) == 2


# --- Twilio signatures and callbacks -----------------------------------------------------------------


def test_twilio_signature_matches_the_documented_algorithm() -> None:
    params = {"To": "+79123456789", "Body": "hi", "AccountSid": ACCOUNT_SID}
    data = CALLBACK_URL + "AccountSid" + ACCOUNT_SID + "Body" + "hi" + "To" + "+79123456789"
    expected = base64.b64encode(hmac.new(AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()
    assert compute_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params) == expected
    assert verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params, expected)


def test_twilio_signature_refuses_forged_absent_and_tampered() -> None:
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    good = compute_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params)
    assert verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params, good)
    assert not verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params, None)
    assert not verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params, "")
    assert not verify_twilio_signature("another-token", CALLBACK_URL, params, good)
    forged = compute_twilio_signature("attacker-token", CALLBACK_URL, params)
    assert not verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, params, forged)
    tampered = {**params, "MessageStatus": "failed"}
    assert not verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL, tampered, good)
    assert not verify_twilio_signature(AUTH_TOKEN, CALLBACK_URL.replace("demo", "other"), params, good)


def test_twilio_signature_tolerates_default_port_rewrites() -> None:
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "sent"}
    signed_with_port = compute_twilio_signature(AUTH_TOKEN, "https://api.example.ru:443/hooks/sms", params)
    assert verify_twilio_signature(AUTH_TOKEN, "https://api.example.ru/hooks/sms", params, signed_with_port)
    signed_without = compute_twilio_signature(AUTH_TOKEN, "https://api.example.ru/hooks/sms", params)
    assert verify_twilio_signature(AUTH_TOKEN, "https://api.example.ru:443/hooks/sms", params, signed_without)


def test_parse_twilio_status_callback() -> None:
    parsed = parse_twilio_status_callback(
        {"MessageSid": "SMx", "MessageStatus": "undelivered", "ErrorCode": "30003", "AccountSid": ACCOUNT_SID}
    )
    assert parsed.status is SmsStatus.UNDELIVERED
    assert parsed.error_code == "30003"
    assert parse_twilio_status_callback({"SmsSid": "SMy", "SmsStatus": "sending"}).status is SmsStatus.QUEUED
    with pytest.raises(ValueError, match="unknown"):
        parse_twilio_status_callback({"MessageSid": "SMz", "MessageStatus": "teleported"})
    with pytest.raises(ValueError, match="MessageSid"):
        parse_twilio_status_callback({"Body": "hello"})


# --- Twilio gateway vs simulator ---------------------------------------------------------------------


@dataclass
class TwilioRig:
    app: Litestar
    gateway: TwilioSmsGateway
    clock: ManualClock
    inbox: CallbackInbox
    injector: FaultInjector

    @property
    def state(self) -> TwilioSimulatorState:
        return twilio_state(self.app)


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioRig]:
    clock, inbox = ManualClock(), CallbackInbox()
    injector = FaultInjector(FaultProfile(timeout_stall_s=5.0))
    app = create_twilio_simulator(
        ACCOUNT_SID,
        AUTH_TOKEN,
        faults=injector,
        callback_sender=inbox,
        sending_delay_s=1.0,
        delivery_delay_s=5.0,
        undeliverable_numbers={UNREACHABLE},
        failing_numbers={BROKEN},
        clock=clock,
        auto_progress=False,
    )
    gateway = TwilioSmsGateway(
        base_url="inprocess://twilio",
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        deadline_s=0.5,
        simulator_app=lambda: app,
    )
    yield TwilioRig(app, gateway, clock, inbox, injector)
    await gateway.aclose()
    await twilio_state(app).aclose()


async def test_twilio_send_progresses_to_delivered_with_signed_callbacks(twilio: TwilioRig) -> None:
    assert isinstance(twilio.gateway, SmsGateway)
    result = await twilio.gateway.send(
        "8 912 345-67-89", "Код входа: 4821", client_ref="n-1", status_callback_url=CALLBACK_URL
    )
    assert result.provider == "twilio"
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_id)
    assert result.status is SmsStatus.QUEUED
    assert result.segments == 1
    stored = twilio.state.messages[result.provider_id]
    assert (stored.to, stored.from_, stored.body) == (PATIENT, FROM, "Код входа: 4821")
    assert await twilio.gateway.status(result.provider_id) is SmsStatus.QUEUED

    twilio.clock.advance(1.0)
    await twilio.state.run_due()
    assert await twilio.gateway.status(result.provider_id) is SmsStatus.SENT
    twilio.clock.advance(4.0)
    await twilio.state.run_due()
    assert await twilio.gateway.status(result.provider_id) is SmsStatus.DELIVERED

    assert twilio.inbox.statuses() == ["sent", "delivered"]
    for url, params, headers in twilio.inbox.received:
        assert url == CALLBACK_URL
        assert params["MessageSid"] == result.provider_id
        assert params["AccountSid"] == ACCOUNT_SID
        assert verify_twilio_signature(AUTH_TOKEN, url, params, headers["X-Twilio-Signature"])
        assert not verify_twilio_signature("wrong-token", url, params, headers["X-Twilio-Signature"])
    last = parse_twilio_status_callback(twilio.inbox.received[-1][1])
    assert (last.message_sid, last.status) == (result.provider_id, SmsStatus.DELIVERED)
    assert len(twilio.state.messages_to(PATIENT)) == 1


async def test_twilio_undeliverable_and_failing_numbers(twilio: TwilioRig) -> None:
    unreachable = await twilio.gateway.send(UNREACHABLE, "hi", client_ref="n-2", status_callback_url=CALLBACK_URL)
    broken = await twilio.gateway.send(BROKEN, "hi", client_ref="n-3", status_callback_url=CALLBACK_URL)
    twilio.clock.advance(10.0)
    await twilio.state.run_due()
    assert await twilio.gateway.status(unreachable.provider_id) is SmsStatus.UNDELIVERED
    assert await twilio.gateway.status(broken.provider_id) is SmsStatus.FAILED
    finals = {params["MessageSid"]: params for _, params, _ in twilio.inbox.received}
    assert finals[unreachable.provider_id]["MessageStatus"] == "undelivered"
    assert finals[unreachable.provider_id]["ErrorCode"] == "30003"
    assert finals[broken.provider_id]["MessageStatus"] == "failed"
    assert finals[broken.provider_id]["ErrorCode"] == "30008"
    # The failed message got exactly one callback (no "sent" before "failed").
    assert [p["MessageStatus"] for _, p, _ in twilio.inbox.received if p["MessageSid"] == broken.provider_id] == [
        "failed"
    ]


async def test_twilio_real_time_delivery_and_resource_shape() -> None:
    inbox = CallbackInbox()
    app = create_twilio_simulator(ACCOUNT_SID, AUTH_TOKEN, callback_sender=inbox, delivery_delay_s=0.05)
    gateway = TwilioSmsGateway(
        base_url="inprocess://twilio",
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid="MG" + "1" * 32,
        simulator_app=lambda: app,
    )
    try:
        result = await gateway.send(PATIENT, "Напоминание о приёме", client_ref="n-4", status_callback_url=CALLBACK_URL)
        async with asyncio.timeout(2.0):
            while inbox.statuses()[-1:] != ["delivered"]:
                inbox.event.clear()
                await inbox.event.wait()
        assert await gateway.status(result.provider_id) is SmsStatus.DELIVERED
        async with _in_process(app) as raw:
            auth = (ACCOUNT_SID, AUTH_TOKEN)
            fetched = (
                await raw.get(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{result.provider_id}.json", auth=auth)
            ).json()
            listing = (
                await raw.get(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", params={"To": PATIENT}, auth=auth)
            ).json()
        assert fetched["direction"] == "outbound-api"
        assert fetched["api_version"] == "2010-04-01"
        assert fetched["account_sid"] == ACCOUNT_SID
        assert fetched["messaging_service_sid"] == "MG" + "1" * 32
        assert fetched["date_sent"].endswith("GMT")
        assert fetched["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{result.provider_id}.json"
        assert [m["sid"] for m in listing["messages"]] == [result.provider_id]
    finally:
        await gateway.aclose()
        await twilio_state(app).aclose()


async def test_twilio_error_json_shape_and_client_mapping(twilio: TwilioRig) -> None:
    async with _in_process(twilio.app) as raw:
        bad_to = await raw.post(
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data={"To": "+1234", "From": FROM, "Body": "x"},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
        )
        no_auth = await raw.post(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", data={"To": PATIENT})
    assert bad_to.status_code == 400
    assert bad_to.json() == {
        "code": 21211,
        "message": "The 'To' number +1234 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    assert no_auth.status_code == 401
    assert no_auth.json()["code"] == 20003

    wrong = TwilioSmsGateway(
        base_url="inprocess://twilio",
        account_sid=ACCOUNT_SID,
        auth_token="wrong",
        from_number=FROM,
        simulator_app=lambda: twilio.app,
    )
    with pytest.raises(SmsRejected) as caught:
        await wrong.send(PATIENT, "hi", client_ref="n-5")
    await wrong.aclose()
    assert caught.value.code == "20003"
    assert not isinstance(caught.value, SmsTemporaryError)

    with pytest.raises(SmsRejected) as invalid:
        await twilio.gateway.send("не номер", "hi", client_ref="n-6")
    assert invalid.value.code == "invalid_phone"
    with pytest.raises(SmsMessageNotFound):
        await twilio.gateway.status("SM" + "f" * 32)
    assert twilio.state.messages == {}


async def test_twilio_provider_faults_are_temporary(twilio: TwilioRig) -> None:
    twilio.injector.force(Fault.ERROR)
    with pytest.raises(SmsTemporaryError) as down:
        await twilio.gateway.send(PATIENT, "hi", client_ref="n-7")
    assert down.value.code == "20503"
    assert twilio.state.messages == {}

    twilio.injector.force(Fault.MALFORMED)
    with pytest.raises(SmsTemporaryError) as garbled:
        await twilio.gateway.send(PATIENT, "hi", client_ref="n-8")
    assert garbled.value.code == "malformed_reply"
    # Twilio accepted it although the reply was lost: no idempotency key, so a blind retry would
    # send a second SMS; that is why dedup lives in our idempotent notification tasks.
    assert len(twilio.state.messages_to(PATIENT)) == 1

    twilio.injector.force(Fault.TIMEOUT)
    with pytest.raises(SmsTemporaryError) as slow:
        await twilio.gateway.send(PATIENT, "hi", client_ref="n-9")
    assert slow.value.code == "timeout"


# --- SMSC gateway vs simulator -----------------------------------------------------------------------

SMSC_LOGIN, SMSC_PASSWORD = "demo", "smsc-secret"


@dataclass
class SmscRig:
    app: Litestar
    gateway: SmscSmsGateway
    clock: ManualClock
    injector: FaultInjector

    @property
    def state(self) -> SmscSimulatorState:
        return smsc_state(self.app)


def _smsc_gateway(app: Litestar, *, password: str = SMSC_PASSWORD) -> SmscSmsGateway:
    return SmscSmsGateway(
        base_url="inprocess://smsc",
        login=SMSC_LOGIN,
        password=password,
        deadline_s=0.5,
        simulator_app=lambda: app,
    )


@pytest.fixture
async def smsc() -> AsyncIterator[SmscRig]:
    clock = ManualClock()
    injector = FaultInjector(FaultProfile(timeout_stall_s=5.0))
    app = create_smsc_simulator(
        SMSC_LOGIN,
        SMSC_PASSWORD,
        faults=injector,
        sending_delay_s=1.0,
        delivery_delay_s=5.0,
        undeliverable_numbers={UNREACHABLE},
        forbidden_words={"казино"},
        clock=clock,
        auto_progress=False,
    )
    gateway = _smsc_gateway(app)
    yield SmscRig(app, gateway, clock, injector)
    await gateway.aclose()
    await smsc_state(app).aclose()


async def test_smsc_send_status_round_trip(smsc: SmscRig) -> None:
    assert isinstance(smsc.gateway, SmsGateway)
    text = "Вы записаны к терапевту на 12.03 в 10:30"
    result = await smsc.gateway.send("8 (912) 345-67-89", text, client_ref="notif-42")
    assert result.provider == "smsc"
    assert result.provider_id == "notif-42:79123456789"
    assert result.status is SmsStatus.QUEUED
    assert result.segments == 1
    [stored] = smsc.state.messages_to(PATIENT)
    assert (stored.id, stored.phone, stored.mes) == ("notif-42", "79123456789", text)

    assert await smsc.gateway.status(result.provider_id) is SmsStatus.QUEUED
    smsc.clock.advance(1.0)
    await smsc.state.run_due()
    assert await smsc.gateway.status(result.provider_id) is SmsStatus.SENT
    smsc.clock.advance(4.0)
    await smsc.state.run_due()
    assert await smsc.gateway.status(result.provider_id) is SmsStatus.DELIVERED


async def test_smsc_undeliverable_number(smsc: SmscRig) -> None:
    result = await smsc.gateway.send(UNREACHABLE, "hi", client_ref="notif-43")
    smsc.clock.advance(10.0)
    await smsc.state.run_due()
    assert smsc.state.messages_to(UNREACHABLE)[0].status == 20
    assert await smsc.gateway.status(result.provider_id) is SmsStatus.UNDELIVERED


async def test_smsc_retry_with_same_id_is_not_sent_twice(smsc: SmscRig) -> None:
    first = await smsc.gateway.send(PATIENT, "Код: 1234", client_ref="otp-1")
    again = await smsc.gateway.send(PATIENT, "Код: 1234", client_ref="otp-1")
    assert again.provider_id == first.provider_id
    assert again.status is SmsStatus.QUEUED
    assert len(smsc.state.messages_to(PATIENT)) == 1

    # The raw API refuses the duplicate with error 9 …
    async with _in_process(smsc.app) as raw:
        reply = await raw.post(
            "/sys/send.php",
            data={
                "login": SMSC_LOGIN,
                "psw": SMSC_PASSWORD,
                "phones": "79123456789",
                "mes": "Код: 1234",
                "id": "otp-1",
                "charset": "utf-8",
                "fmt": "3",
            },
        )
    assert reply.json() == {"error": "duplicate request, wait a minute", "error_code": 9}
    # … and after the minute SMSC no longer deduplicates (our tasks must).
    smsc.clock.advance(61.0)
    await smsc.gateway.send(PATIENT, "Код: 1234", client_ref="otp-1")
    assert len(smsc.state.messages_to(PATIENT)) == 2


async def test_smsc_retry_after_lost_reply_resolves_to_the_sent_message(smsc: SmscRig) -> None:
    smsc.injector.force(Fault.MALFORMED)
    with pytest.raises(SmsTemporaryError) as garbled:
        await smsc.gateway.send(PATIENT, "Код: 5555", client_ref="otp-2")
    assert garbled.value.code == "malformed_reply"
    retried = await smsc.gateway.send(PATIENT, "Код: 5555", client_ref="otp-2")
    assert retried.provider_id == "otp-2:79123456789"
    assert len(smsc.state.messages_to(PATIENT)) == 1


async def test_smsc_error_codes_map_to_rejected_or_temporary(smsc: SmscRig) -> None:
    wrong = _smsc_gateway(smsc.app, password="wrong")
    with pytest.raises(SmsRejected) as bad_login:
        await wrong.send(PATIENT, "hi", client_ref="e-1")
    await wrong.aclose()
    assert bad_login.value.code == "2"

    with pytest.raises(SmsRejected) as banned:
        await smsc.gateway.send(PATIENT, "Лучшее КАЗИНО онлайн", client_ref="e-2")
    assert banned.value.code == "6"

    with pytest.raises(SmsRejected) as bad_phone:
        await smsc.gateway.send("+7 912", "hi", client_ref="e-3")
    assert bad_phone.value.code == "invalid_phone"
    assert CYRILLIC.search(bad_phone.value.message)

    async with _in_process(smsc.app) as raw:
        params = {"login": SMSC_LOGIN, "psw": SMSC_PASSWORD, "fmt": "3", "mes": "hi"}
        raw_bad_phone = (await raw.get("/sys/send.php", params={**params, "phones": "12345"})).json()
        raw_missing = (await raw.get("/sys/send.php", params={**params, "phones": ""})).json()
        priced = (await raw.get("/sys/send.php", params={**params, "phones": "79123456789", "cost": "1"})).json()
    assert raw_bad_phone == {"error": "invalid number", "error_code": 7}
    assert raw_missing["error_code"] == 1
    assert priced == {"cost": "2.50", "cnt": 1}
    assert smsc.state.messages == []

    smsc.state.balance = 1.0
    with pytest.raises(SmsTemporaryError) as broke:
        await smsc.gateway.send(PATIENT, "hi", client_ref="e-4")
    assert broke.value.code == "3"

    with pytest.raises(SmsMessageNotFound):
        await smsc.gateway.status("never-sent:79123456789")
    with pytest.raises(SmsMessageNotFound):
        await smsc.gateway.status("garbage")


async def test_smsc_provider_faults_are_temporary(smsc: SmscRig) -> None:
    smsc.injector.force(Fault.ERROR)
    with pytest.raises(SmsTemporaryError) as down:
        await smsc.gateway.send(PATIENT, "hi", client_ref="f-1")
    assert down.value.code == "http_503"

    smsc.injector.force(Fault.TIMEOUT)
    with pytest.raises(SmsTemporaryError) as slow:
        await smsc.gateway.send(PATIENT, "hi", client_ref="f-2")
    assert slow.value.code == "timeout"

    result = await smsc.gateway.send(PATIENT, "hi", client_ref="f-3")
    smsc.injector.force(Fault.MALFORMED)
    with pytest.raises(SmsTemporaryError) as garbled:
        await smsc.gateway.status(result.provider_id)
    assert garbled.value.code == "malformed_reply"
    assert smsc.state.messages_to(PATIENT)[0].id == "f-3"


def test_smsc_message_id_from_client_ref() -> None:
    assert smsc_message_id("notif-42") == "notif-42"
    long_ref = "notification:" + "x" * 60
    hashed = smsc_message_id(long_ref)
    assert re.fullmatch(r"[0-9a-f]{40}", hashed)
    assert smsc_message_id(long_ref) == hashed
