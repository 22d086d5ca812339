"""``HandleHomeCallRequestChanged``: the MIS tells us a home-call request changed.

The MIS (through the hub) calls *our* endpoint with the HomeCallService's own SOAP shape:
``SOAPAction: "http://tempuri.org/IHomeCallService/HandleHomeCallRequestChanged"``, body
``tem:HandleHomeCallRequestChanged{guid, homeCallRequest: HomeCallRequest}``, and expects
``HandleHomeCallRequestChangedResponse/HandleHomeCallRequestChangedResult`` (a ``MethodResult``).

* :func:`parse_push` turns the message into a typed :class:`HomeCallChanged` or raises
  :class:`PushRejected`;
* :func:`handle_push` is the whole endpoint body: parse, hand the event to the domain's callback, and
  return the HTTP status and the SOAP reply (an ``ErrorList`` for a refused message, a SOAP Fault with
  HTTP 500 when the callback failed, so the MIS delivers again);
* :func:`build_push` is the MIS's side (the simulator sends it), :func:`read_push_reply` reads our reply.

A push may be delivered more than once; :attr:`HomeCallChanged.dedup_key` names one change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lxml import etree

from integrations.homecall import soap
from integrations.homecall.protocol import (
    DEFAULT_STATUS_TABLE,
    HomeCallChanged,
    HomeCallErrorCode,
    HomeCallRequestInfo,
    PushRejected,
    StatusTable,
)

PUSH_METHOD = "HandleHomeCallRequestChanged"

OnChange = Callable[[HomeCallChanged], Awaitable[None]]


def build_push(request: HomeCallRequestInfo, *, guid: str | None, table: StatusTable = DEFAULT_STATUS_TABLE) -> bytes:
    def fill(el: etree._Element) -> None:
        # The filler receives tem:homeCallRequest itself: move the HomeCallRequest members into it.
        holder = etree.Element("holder")
        soap.add_request(holder, "HomeCallRequest", request, table)
        for member in holder[0]:
            el.append(member)

    return soap.build_request(PUSH_METHOD, [("guid", guid), ("homeCallRequest", fill)])


def parse_push(
    body: bytes,
    soap_action: str | None,
    *,
    expected_guid: str | None = None,
    table: StatusTable = DEFAULT_STATUS_TABLE,
) -> HomeCallChanged:
    """The typed change in a push; :class:`PushRejected` for a message we must not apply."""
    method = soap.method_from_action(soap_action)
    if method != PUSH_METHOD:
        raise PushRejected(HomeCallErrorCode.BAD_REQUEST, f"Действие {soap_action!r} не поддерживается")
    try:
        op = soap.parse_body(body)
    except (soap.SoapMalformed, soap.SoapFault) as exc:
        raise PushRejected(HomeCallErrorCode.BAD_REQUEST, f"Некорректное SOAP-сообщение: {exc}") from exc
    if op.tag != soap.qn(soap.TEMPURI_NS, PUSH_METHOD):
        raise PushRejected(HomeCallErrorCode.BAD_REQUEST, f"Корневой элемент {op.tag} не соответствует SOAPAction")
    guid = soap.text(op, "guid", ns=soap.TEMPURI_NS) or None
    if expected_guid is not None and guid != expected_guid:
        raise PushRejected(HomeCallErrorCode.ACCESS_DENIED, "Код авторизации не верен")
    request_el = soap.child(op, "homeCallRequest", ns=soap.TEMPURI_NS)
    if request_el is None:
        raise PushRejected(HomeCallErrorCode.BAD_REQUEST, "Не передан параметр homeCallRequest")
    try:
        request = soap.read_request(request_el, table)
    except soap.SoapMalformed as exc:
        raise PushRejected(HomeCallErrorCode.BAD_REQUEST, f"Некорректный вызов в сообщении: {exc}") from exc
    return HomeCallChanged(request=request, guid=guid)


def build_push_reply(errors: Sequence[tuple[int, str]] = ()) -> bytes:
    env, _ = soap.new_result(PUSH_METHOD, errors=errors)
    return soap.serialize(env)


def read_push_reply(body: bytes) -> list[tuple[int, str]]:
    """The errors of our reply (empty: accepted); ``SoapMalformed`` / ``SoapFault`` for anything else."""
    _, errors = soap.method_result(soap.parse_body(body), PUSH_METHOD)
    return errors


async def handle_push(
    body: bytes,
    soap_action: str | None,
    on_change: OnChange,
    *,
    expected_guid: str | None = None,
    table: StatusTable = DEFAULT_STATUS_TABLE,
) -> tuple[int, bytes]:
    """Parse a push, give it to ``on_change``, and return ``(HTTP status, SOAP reply)`` for the MIS."""
    try:
        event = parse_push(body, soap_action, expected_guid=expected_guid, table=table)
    except PushRejected as exc:
        return 200, build_push_reply([(exc.upstream_code, exc.message)])
    try:
        await on_change(event)
    except Exception:  # the change is not stored: a Fault makes the MIS deliver it again
        return 500, soap.build_fault("Server", "Изменение вызова не принято, повторите доставку")
    return 200, build_push_reply()
