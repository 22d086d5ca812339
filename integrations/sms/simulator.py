"""In-process simulators of SMSC.ru and of the Twilio Messages API, in their real request/reply shapes.

Each factory returns a Litestar app whose in-memory state (every accepted message, every callback
sent) is reachable through :func:`twilio_state` / :func:`smsc_state`, so a test can count how many
SMS a number really got. Messages move through their statuses on a timeline driven by ``clock``:
with ``auto_progress`` (the default) a background task wakes up when a transition is due; with a
manual clock, pass ``auto_progress=False``, move the clock and ``await state.run_due()``.

Faults (:mod:`integrations.common.faults`) act like the real thing: an *error* is refused before
anything is sent; a *timeout* stalls first and then carries on (a client that gave up over the
network still causes an SMS); a *malformed* reply is garbled after the message was accepted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import hmac
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import phonenumbers
from litestar import Litestar, Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.sms import smsc as smsc_api
from integrations.sms.twilio import API_VERSION, SIGNATURE_HEADER, compute_twilio_signature

logger = logging.getLogger(__name__)

Clock = Callable[[], float]  # seconds since the epoch
CallbackSender = Callable[[str, Mapping[str, str], Mapping[str, str]], Awaitable[None]]
"""``(url, form params, headers)``: POST one status callback."""

_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """SMS parts for ``body``: GSM-7 160/153 septets, otherwise UCS-2 70/67 characters (Cyrillic)."""
    if all(ch in _GSM7 or ch in _GSM7_EXTENDED for ch in body):
        units, single, multi = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in body), 160, 153
    else:
        units, single, multi = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body), 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


def _parse_number(raw: str) -> str | None:
    """E.164 of a number as an SMS API receives it (SMSC fixes a missing '+'), or None if invalid."""
    text = raw.strip()
    if not text:
        return None
    if not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _matches(number: str, prefixes: Collection[str]) -> bool:
    """A number matches an entry equal to it or a prefix of it (``+7999`` covers a whole range)."""
    return any(number.startswith(prefix) for prefix in prefixes)


class _Timeline:
    """Actions due at clock times; run by :meth:`run_due`, or by background tasks in auto mode."""

    def __init__(self, clock: Clock, auto: bool) -> None:
        self._clock = clock
        self._auto = auto
        self._heap: list[tuple[float, int, Callable[[], Awaitable[None]]]] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, at: float, action: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), action))
        if self._auto:
            task = asyncio.get_running_loop().create_task(self._wake(at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _wake(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self._clock()))
        await self.run_due()

    async def run_due(self) -> None:
        while self._heap and self._heap[0][0] <= self._clock():
            _, _, action = heapq.heappop(self._heap)
            await action()

    @property
    def pending(self) -> int:
        return len(self._heap)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Refusal(Exception):
    """Raised by a handler to answer with ``response`` right away (the upstream's refusal shape)."""

    def __init__(self, response: Response[bytes]) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refusal_handler(_: Request[Any, Any, Any], exc: _Refusal) -> Response[bytes]:
    return exc.response


_EXCEPTION_HANDLERS: Any = {_Refusal: _refusal_handler}


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


async def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    params = dict(request.query_params.items())
    if request.method == HttpMethod.POST:
        form = await request.form()
        params.update(form.items())
    return params


# --- Twilio ------------------------------------------------------------------------------------------

TWILIO_ERROR_DOCS = "https://www.twilio.com/docs/errors/{code}"
ERR_UNDELIVERABLE = 30003  # Unreachable destination handset
ERR_UNKNOWN = 30008  # Unknown error


@dataclass
class TwilioMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    num_segments: int
    status_callback: str | None
    date_created: float
    status: str = "queued"
    date_updated: float = 0.0
    date_sent: float | None = None
    error_code: int | None = None
    error_message: str | None = None

    def resource(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent) if self.date_sent is not None else None,
            "date_updated": _rfc2822(self.date_updated or self.date_created),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass(frozen=True)
class SentCallback:
    url: str
    params: Mapping[str, str]
    headers: Mapping[str, str]
    error: str | None = None  # why posting it failed, if it did


@dataclass
class TwilioSimulatorState:
    account_sid: str
    auth_token: str
    injector: FaultInjector
    callback_sender: CallbackSender
    clock: Clock
    timeline: _Timeline
    sending_delay_s: float
    delivery_delay_s: float
    undeliverable_numbers: Collection[str]
    failing_numbers: Collection[str]
    messages: dict[str, TwilioMessage] = field(default_factory=dict)
    callbacks: list[SentCallback] = field(default_factory=list)

    def messages_to(self, number: str) -> list[TwilioMessage]:
        return [m for m in self.messages.values() if m.to == number]

    async def run_due(self) -> None:
        await self.timeline.run_due()

    async def aclose(self) -> None:
        await self.timeline.aclose()

    def accept(self, message: TwilioMessage) -> None:
        self.messages[message.sid] = message
        created = message.date_created
        self.timeline.schedule(created + self.sending_delay_s, lambda: self._progress(message, final=False))
        self.timeline.schedule(created + self.delivery_delay_s, lambda: self._progress(message, final=True))

    async def _progress(self, message: TwilioMessage, *, final: bool) -> None:
        if message.status in ("delivered", "undelivered", "failed"):
            return
        now = self.clock()
        if _matches(message.to, self.failing_numbers):
            message.status, message.error_code, message.error_message = "failed", ERR_UNKNOWN, "Unknown error"
        elif not final:
            message.status, message.date_sent = "sent", now
        elif _matches(message.to, self.undeliverable_numbers):
            message.status, message.error_code = "undelivered", ERR_UNDELIVERABLE
            message.error_message = "Unreachable destination handset"
        else:
            message.status = "delivered"
        message.date_updated = now
        if message.status_callback:
            await self._send_callback(message)

    async def _send_callback(self, message: TwilioMessage) -> None:
        assert message.status_callback is not None
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        signature = compute_twilio_signature(self.auth_token, message.status_callback, params)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
        error = None
        try:
            await self.callback_sender(message.status_callback, params, headers)
        except Exception as exc:  # the real Twilio does not retry a failed callback either
            error = f"{exc.__class__.__name__}: {exc}"
            logger.warning("Twilio simulator: status callback to %s failed: %s", message.status_callback, error)
        self.callbacks.append(SentCallback(message.status_callback, params, headers, error))


async def post_callback_over_http(url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> None:
    """Default :data:`CallbackSender`: one POST over the network, 10 s budget, non-2xx is an error."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(url, data=dict(params), headers=dict(headers))
        response.raise_for_status()


def _rfc2822(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def _twilio_error(status: int, code: int, message: str) -> Response[bytes]:
    body = {
        "code": code,
        "message": message,
        "more_info": TWILIO_ERROR_DOCS.format(code=code),
        "status": status,
    }
    return _json(body, status)


_TWILIO_GARBLED = b"<html><head><title>502 Bad Gateway</title></head><body>upstream closed</body></html>"


def create_twilio_simulator(
    account_sid: str,
    auth_token: str,
    *,
    faults: FaultProfile | FaultInjector | None = None,
    callback_sender: CallbackSender = post_callback_over_http,
    sending_delay_s: float = 0.0,
    delivery_delay_s: float = 2.0,
    undeliverable_numbers: Collection[str] = (),
    failing_numbers: Collection[str] = (),
    clock: Clock = time.time,
    auto_progress: bool = True,
) -> Litestar:
    """A Twilio Messages API: create / fetch / list messages, status progression with signed callbacks.

    A message is ``queued`` on creation, ``sent`` after ``sending_delay_s`` and ``delivered`` (or
    ``undelivered`` with 30003 for ``undeliverable_numbers``) after ``delivery_delay_s``; numbers in
    ``failing_numbers`` go straight to ``failed`` (30008). Entries match a number or its prefix.
    With ``StatusCallback``, a signed callback is posted on ``sent`` and on the final status through
    ``callback_sender`` (each one is also kept in ``state.callbacks``).
    There is no idempotency: every create is a new SMS, as on the real API.
    """
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(faults or FaultProfile())
    state = TwilioSimulatorState(
        account_sid=account_sid,
        auth_token=auth_token,
        injector=injector,
        callback_sender=callback_sender,
        clock=clock,
        timeline=_Timeline(clock, auto_progress),
        sending_delay_s=sending_delay_s,
        delivery_delay_s=max(delivery_delay_s, sending_delay_s),
        undeliverable_numbers=frozenset(undeliverable_numbers),
        failing_numbers=frozenset(failing_numbers),
    )
    expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()

    async def admit(request: Request[Any, Any, Any], account: str) -> Fault:
        """Apply the fault draw and Basic auth; return the fault still to show (malformed) if any."""
        fault = await injector.before_reply()
        if fault is Fault.ERROR:
            raise _Refusal(_twilio_error(503, 20503, "Service Unavailable"))
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected_auth.encode()) or account != account_sid:
            raise _Refusal(_twilio_error(401, 20003, "Authenticate"))
        return fault

    def garbled() -> Response[bytes]:
        return Response(_TWILIO_GARBLED, status_code=200, media_type="text/html")

    base = "/2010-04-01/Accounts/{account:str}/Messages"

    @post(f"{base}.json", status_code=201)
    async def create_message(request: Request[Any, Any, Any], account: FromPath[str]) -> Response[bytes]:
        fault = await admit(request, account)
        form = await request.form()
        to_raw, body = form.get("To", ""), form.get("Body", "")
        from_, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        if not to_raw:
            raise _Refusal(_twilio_error(400, 21604, "A 'To' phone number is required."))
        if not from_ and not service:
            raise _Refusal(_twilio_error(400, 21603, "A 'From' phone number is required."))
        if not body:
            raise _Refusal(_twilio_error(400, 21602, "Message body is required."))
        if len(body) > 1600:
            raise _Refusal(_twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit."))
        to = _parse_number(to_raw) if to_raw.startswith("+") else None
        if to is None:
            raise _Refusal(_twilio_error(400, 21211, f"The 'To' number {to_raw} is not a valid phone number."))
        now = clock()
        message = TwilioMessage(
            sid="SM" + uuid.uuid4().hex,
            account_sid=account_sid,
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            num_segments=count_segments(body),
            status_callback=form.get("StatusCallback") or None,
            date_created=now,
            date_updated=now,
        )
        state.accept(message)
        if fault is Fault.MALFORMED:
            return garbled()
        return _json(message.resource(), 201)

    @get(f"{base}.json")
    async def list_messages(request: Request[Any, Any, Any], account: FromPath[str]) -> Response[bytes]:
        if await admit(request, account) is Fault.MALFORMED:
            return garbled()
        to_filter = request.query_params.get("To")
        size_raw = request.query_params.get("PageSize", "50")
        page_size = min(max(int(size_raw) if size_raw.isdigit() else 50, 1), 1000)
        found = [m for m in reversed(state.messages.values()) if to_filter is None or m.to == to_filter]
        page = found[:page_size]
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json?PageSize={page_size}&Page=0"
        return _json(
            {
                "messages": [m.resource() for m in page],
                "page": 0,
                "page_size": page_size,
                "start": 0,
                "end": max(len(page) - 1, 0),
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    @get(f"{base}/{{name:str}}")
    async def fetch_message(
        request: Request[Any, Any, Any], account: FromPath[str], name: FromPath[str]
    ) -> Response[bytes]:
        if await admit(request, account) is Fault.MALFORMED:
            return garbled()
        message = state.messages.get(name.removesuffix(".json")) if name.endswith(".json") else None
        if message is None:
            return _twilio_error(404, 20404, f"The requested resource {request.url.path} was not found")
        return _json(message.resource())

    return simulator_app([create_message, list_messages, fetch_message], state, exception_handlers=_EXCEPTION_HANDLERS)


def twilio_state(app: Litestar) -> TwilioSimulatorState:
    return state_of(app, TwilioSimulatorState)


# --- SMSC.ru -----------------------------------------------------------------------------------------

SMSC_DUPLICATE_WINDOW_S = 60.0
_SMSC_ERRORS = {
    smsc_api.ERR_BAD_PARAMETERS: "parameters error",
    smsc_api.ERR_BAD_CREDENTIALS: "authorise error",
    smsc_api.ERR_NO_FUNDS: "no money",
    smsc_api.ERR_IP_BLOCKED: "IP temporarily blocked",
    smsc_api.ERR_BAD_DATE: "invalid date format",
    smsc_api.ERR_FORBIDDEN: "message is denied",
    smsc_api.ERR_BAD_PHONE: "invalid number",
    smsc_api.ERR_CANNOT_DELIVER: "cannot deliver",
    smsc_api.ERR_DUPLICATE: "duplicate request, wait a minute",
}


@dataclass
class SmscMessage:
    number: int  # SMSC's own running number
    id: str  # the client's id (or the running number when none was given)
    phone: str  # digits, no '+'
    mes: str
    sender: str | None
    parts: int
    cost: float
    created: float
    status: int = -1
    last_change: float = 0.0


@dataclass
class SmscSimulatorState:
    login: str
    password: str
    injector: FaultInjector
    clock: Clock
    timeline: _Timeline
    sending_delay_s: float
    delivery_delay_s: float
    undeliverable_numbers: Collection[str]
    forbidden_words: Collection[str]
    price_per_part: float
    balance: float
    messages: list[SmscMessage] = field(default_factory=list)
    recent_requests: dict[tuple[str, ...], float] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def messages_to(self, number: str) -> list[SmscMessage]:
        digits = number.removeprefix("+")
        return [m for m in self.messages if m.phone == digits]

    def find(self, message_id: str, phone: str) -> SmscMessage | None:
        """The last message with this id to this phone (SMSC shows the latest of equal ids)."""
        for message in reversed(self.messages):
            if message.id == message_id and message.phone == phone:
                return message
        return None

    async def run_due(self) -> None:
        await self.timeline.run_due()

    async def aclose(self) -> None:
        await self.timeline.aclose()

    def next_number(self) -> int:
        return next(self._numbers)

    def accept(self, message: SmscMessage) -> None:
        self.messages.append(message)
        self.balance -= message.cost
        self.timeline.schedule(message.created + self.sending_delay_s, lambda: self._progress(message, 0))
        final = 20 if _matches("+" + message.phone, self.undeliverable_numbers) else 1
        self.timeline.schedule(message.created + self.delivery_delay_s, lambda: self._progress(message, final))

    async def _progress(self, message: SmscMessage, status: int) -> None:
        if message.status in (-2, -1, 0):
            message.status, message.last_change = status, self.clock()


def _smsc_error(code: int) -> Response[bytes]:
    return _json({"error": _SMSC_ERRORS[code], "error_code": code})


def _smsc_refusal(code: int) -> _Refusal:
    return _Refusal(_smsc_error(code))


def _smsc_validate_send(params: Mapping[str, str], forbidden_words: Collection[str]) -> tuple[list[str], str]:
    phones_raw = [p for p in params.get("phones", "").replace(";", ",").split(",") if p.strip()]
    mes = params.get("mes", "")
    if not phones_raw or not mes:
        raise _smsc_refusal(smsc_api.ERR_BAD_PARAMETERS)
    # SMSC sends to the valid numbers of a list and refuses only when none is valid.
    valid = [p.removeprefix("+") for p in map(_parse_number, phones_raw) if p is not None]
    if not valid:
        raise _smsc_refusal(smsc_api.ERR_BAD_PHONE)
    folded = mes.casefold()
    if any(word in folded for word in forbidden_words):
        raise _smsc_refusal(smsc_api.ERR_FORBIDDEN)
    return valid, mes


def _smsc_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%d.%m.%Y %H:%M:%S")


def create_smsc_simulator(
    login: str,
    password: str,
    *,
    faults: FaultProfile | FaultInjector | None = None,
    sending_delay_s: float = 0.0,
    delivery_delay_s: float = 2.0,
    undeliverable_numbers: Collection[str] = (),
    forbidden_words: Collection[str] = (),
    price_per_part: float = 2.5,
    balance: float = 10_000.0,
    clock: Clock = time.time,
    auto_progress: bool = True,
) -> Litestar:
    """SMSC.ru ``/sys/send.php`` and ``/sys/status.php`` (GET or POST, ``fmt=3`` JSON replies).

    Errors as SMSC: 1 missing parameters, 2 wrong login/password, 3 balance too low, 6 text containing
    one of ``forbidden_words``, 7 bad phone, 9 the same send (phones, text, id, sender) again within a
    minute, which is also how SMSC deduplicates a retried send. Statuses go −1 → 0 → 1, or → 20 for
    ``undeliverable_numbers`` (numbers or prefixes). ``cost`` 0–3 as SMSC. Only ``fmt=3`` is spoken.
    """
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(faults or FaultProfile())
    state = SmscSimulatorState(
        login=login,
        password=password,
        injector=injector,
        clock=clock,
        timeline=_Timeline(clock, auto_progress),
        sending_delay_s=sending_delay_s,
        delivery_delay_s=max(delivery_delay_s, sending_delay_s),
        undeliverable_numbers=frozenset(undeliverable_numbers),
        forbidden_words=frozenset(w.casefold() for w in forbidden_words),
        price_per_part=price_per_part,
        balance=balance,
    )

    async def admit(request: Request[Any, Any, Any]) -> tuple[Fault, dict[str, str]]:
        """Apply the fault draw and the credentials; return the fault still to show and the params."""
        fault = await injector.before_reply()
        if fault is Fault.ERROR:
            raise _Refusal(
                Response(
                    b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                    status_code=503,
                    media_type="text/html",
                )
            )
        params = await _params(request)
        good_login = hmac.compare_digest(params.get("login", "").encode(), login.encode())
        if not (hmac.compare_digest(params.get("psw", "").encode(), password.encode()) and good_login):
            raise _Refusal(_smsc_error(smsc_api.ERR_BAD_CREDENTIALS))
        return fault, params

    @route("/sys/send.php", http_method=[HttpMethod.GET, HttpMethod.POST])
    async def send(request: Request[Any, Any, Any]) -> Response[bytes]:
        fault, params = await admit(request)
        phones, mes = _smsc_validate_send(params, state.forbidden_words)
        cost_mode = params.get("cost", "0")
        parts = count_segments(mes)
        cost = parts * len(phones) * state.price_per_part
        if cost_mode == "1":
            return _json({"cost": f"{cost:.2f}", "cnt": parts * len(phones)})
        now = clock()
        key = (params.get("phones", ""), mes, params.get("id", ""), params.get("sender", ""))
        state.recent_requests = {k: t for k, t in state.recent_requests.items() if now - t < SMSC_DUPLICATE_WINDOW_S}
        if key in state.recent_requests:
            raise _smsc_refusal(smsc_api.ERR_DUPLICATE)
        if cost > state.balance:
            raise _smsc_refusal(smsc_api.ERR_NO_FUNDS)
        state.recent_requests[key] = now
        number = state.next_number()
        message_id = params.get("id") or str(number)
        for phone in phones:
            state.accept(
                SmscMessage(
                    number=number,
                    id=message_id,
                    phone=phone,
                    mes=mes,
                    sender=params.get("sender") or None,
                    parts=parts,
                    cost=parts * state.price_per_part,
                    created=now,
                    last_change=now,
                )
            )
        if fault is Fault.MALFORMED:
            return Response(b'{"id":' + message_id.encode()[:3], media_type="application/json")
        reply: dict[str, Any] = {
            "id": int(message_id) if message_id.isdigit() else message_id,
            "cnt": parts * len(phones),
        }
        if cost_mode in ("2", "3"):
            reply["cost"] = f"{cost:.2f}"
        if cost_mode == "3":
            reply["balance"] = f"{state.balance:.2f}"
        return _json(reply)

    @route("/sys/status.php", http_method=[HttpMethod.GET, HttpMethod.POST])
    async def status(request: Request[Any, Any, Any]) -> Response[bytes]:
        fault, params = await admit(request)
        phone, message_id = params.get("phone", "").strip().removeprefix("+"), params.get("id", "").strip()
        if not phone or not message_id:
            raise _smsc_refusal(smsc_api.ERR_BAD_PARAMETERS)
        if fault is Fault.MALFORMED:
            return Response(b"<status>", media_type="application/json")
        message = state.find(message_id, phone)
        if message is None:
            return _json({"status": smsc_api.STATUS_NOT_FOUND, "err": 0})
        return _json(
            {
                "status": message.status,
                "last_date": _smsc_date(message.last_change),
                "last_timestamp": int(message.last_change),
                "err": 0,
            }
        )

    return simulator_app([send, status], state, exception_handlers=_EXCEPTION_HANDLERS)


def smsc_state(app: Litestar) -> SmscSimulatorState:
    return state_of(app, SmscSimulatorState)
