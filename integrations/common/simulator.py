"""What every upstream simulator app shares: its routes and its in-memory state, in one Litestar app
that leaves logging to the host process; tests and the scenario hooks read the state back.

The JSON simulators (attachment, ЕРЗЛ, ЛЛО) also share their error shape (:class:`SimulatorApiError` →
``{"error": {"code", "message"}}``) and the guard every route passes first (:func:`json_guard`: latency and
injected faults, the call count, the bearer token, the clock tick); the SOAP simulators (ФЭР, вызов врача
на дом) their WSDL (:func:`soap_wsdl`), their routes (:func:`soap_endpoints`) and the dispatch of a request to a
handler (:func:`handle_soap`, over a :class:`SoapDialect`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import IntEnum
from typing import Any, Protocol, TypeVar

from litestar import Litestar, Request, Response, get, post

from integrations.common.faults import Fault, FaultInjector
from integrations.common.soap import SoapBusinessError, SoapFault, SoapMalformed

STATE_KEY = "simulator"  # app.state.simulator

S = TypeVar("S")


def simulator_app(
    route_handlers: Sequence[Any], state: object, *, exception_handlers: Mapping[Any, Any] | None = None
) -> Litestar:
    app = Litestar(
        route_handlers=list(route_handlers),
        exception_handlers=dict(exception_handlers or {}),
        logging_config=None,  # the host process owns logging
        openapi_config=None,
        debug=False,
    )
    app.state[STATE_KEY] = state
    return app


def state_of(app: Litestar, kind: type[S]) -> S:
    """The simulator state of ``app``, checked to be a ``kind``."""
    state = app.state.get(STATE_KEY)
    if not isinstance(state, kind):
        raise TypeError(f"the app is not a simulator with a {kind.__name__}")
    return state


def naive_local(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` as the upstream's naive local time in ``tz``, to the second (a naive moment is taken as local)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz).replace(tzinfo=None)
    return moment.replace(microsecond=0)


# -- JSON simulators -------------------------------------------------------------------------------


class SimulatorApiError(Exception):
    """A refusal the simulator answers as ``{"error": {"code", "message"}}`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


def json_response(content: Any, status_code: int = 200) -> Response[Any]:
    return Response(content=content, status_code=status_code, media_type="application/json")


def error_response(exc: SimulatorApiError) -> Response[Any]:
    return json_response({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)


class GuardedState(Protocol):
    """What :func:`json_guard` needs of a simulator's state."""

    faults: FaultInjector
    calls: Counter[str]
    token: str | None

    def tick(self) -> None: ...


async def json_guard(
    state: GuardedState, request: Request[Any, Any, Any], operation: str, *, malformed: bytes
) -> Response[Any] | None:
    """What a route answers before its own work, or None to go on.

    The injected fault first (after the latency): an error is HTTP 503, a malformed reply is the cut-off
    body ``malformed``; then the call is counted, the bearer token checked (``token=None`` accepts any
    caller) and the state's clock-driven progress run (``tick``).
    """
    fault = await state.faults.before_reply()
    if fault is Fault.ERROR:
        return json_response({"error": {"code": "unavailable", "message": "Сервис временно недоступен"}}, 503)
    if fault is Fault.MALFORMED:
        return Response(content=malformed, media_type="application/json")
    state.calls[operation] += 1
    if state.token is not None and request.headers.get("authorization") != f"Bearer {state.token}":
        return error_response(SimulatorApiError(401, "unauthorized", "Неверный токен доступа"))
    state.tick()
    return None


# -- SOAP simulators -------------------------------------------------------------------------------


def soap_wsdl(service: str, operations: Iterable[str], *, action_prefix: str, location: str) -> bytes:
    """The WSDL of a WCF ``BasicHttpBinding`` service ``service`` (port type ``I<service>``)."""
    names = list(operations)
    port_ops = "".join(f'<wsdl:operation name="{name}"/>' for name in names)
    binding_ops = "".join(
        f'<wsdl:operation name="{name}"><soap:operation soapAction="{action_prefix}{name}" '
        f'style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input>'
        f'<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>'
        for name in names
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<wsdl:definitions name="{service}" targetNamespace="http://tempuri.org/" '
        'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        'xmlns:tns="http://tempuri.org/">'
        f'<wsdl:portType name="I{service}">{port_ops}</wsdl:portType>'
        f'<wsdl:binding name="BasicHttpBinding_I{service}" type="tns:I{service}">'
        '<soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>'
        f"{binding_ops}</wsdl:binding>"
        f'<wsdl:service name="{service}"><wsdl:port name="BasicHttpBinding_I{service}" '
        f'binding="tns:BasicHttpBinding_I{service}"><soap:address location="{location}"/></wsdl:port>'
        "</wsdl:service></wsdl:definitions>"
    ).encode()


@dataclass(frozen=True, slots=True)
class SoapDialect:
    """The codec a SOAP simulator speaks (``integrations/fer/soap.py``, or the home-call one over it)."""

    content_type: str
    method_from_action: Callable[[str | None], str | None]
    parse_body: Callable[[bytes], Any]  # the operation element; SoapMalformed / SoapFault
    operation_tag: Callable[[str], str]  # the qualified tag the operation element of a method must have
    serialize: Callable[[Any], bytes]
    build_fault: Callable[[str, str], bytes]
    error_reply: Callable[[str, int, str, int], Any]  # (method, code, message, IdHistory) -> the envelope

    def xml(self, body: bytes, status_code: int = 200) -> Response[bytes]:
        return Response(content=body, status_code=status_code, media_type=self.content_type)

    def fault(self, code: str, message: str, status_code: int = 500) -> Response[bytes]:
        return self.xml(self.build_fault(code, message), status_code)


class SoapCodec(Protocol):
    """A SOAP codec module as :func:`soap_dialect` reads it (``integrations.fer.soap``, its home-call extension)."""

    CONTENT_TYPE: str
    TEMPURI_NS: str

    def method_from_action(self, header: str | None) -> str | None: ...

    def parse_body(self, data: bytes) -> Any: ...

    def qn(self, ns: str, name: str) -> str: ...

    def serialize(self, envelope: Any) -> bytes: ...

    def build_fault(self, code: str, message: str) -> bytes: ...

    def new_result(
        self, method: str, *, errors: Sequence[tuple[int, str]] = (), id_history: int | None = None
    ) -> tuple[Any, Any]: ...


def soap_dialect(codec: SoapCodec) -> SoapDialect:
    """The dialect of a codec module: operations in the ``tempuri`` namespace, refusals in ``<method>Result``."""

    def error_reply(method: str, code: int, message: str, id_history: int) -> Any:
        envelope, _ = codec.new_result(method, errors=[(code, message)], id_history=id_history)
        return envelope

    return SoapDialect(
        content_type=codec.CONTENT_TYPE,
        method_from_action=codec.method_from_action,
        parse_body=codec.parse_body,
        operation_tag=lambda method: codec.qn(codec.TEMPURI_NS, method),
        serialize=codec.serialize,
        build_fault=codec.build_fault,
        error_reply=error_reply,
    )


class SoapState(Protocol):
    """What :func:`handle_soap` needs of a SOAP simulator's state."""

    @property
    def calls(self) -> Counter[str]: ...

    @property
    def guid(self) -> str | None: ...

    @property
    def error_messages(self) -> Mapping[Any, str]: ...

    def next_id_history(self) -> int: ...


class SoapParams(Protocol):
    def text(self, name: str) -> str | None: ...


def handle_soap(
    dialect: SoapDialect,
    state: SoapState,
    action: str | None,
    body: bytes,
    *,
    handlers: Mapping[str, Callable[[Any, Any, int], Any]],
    params: Callable[[Any], SoapParams],
    access_denied: IntEnum,
    fallback_message: str,
) -> Response[bytes]:
    """Process one SOAP request synchronously (no awaits: atomic on the event loop).

    An unknown ``SOAPAction``, a body that is not SOAP or whose root is not the action's operation is a
    SOAP Fault; then the call is counted and given an ``IdHistory``, the ``guid`` checked (``guid=None``
    accepts any) and the handler run; a :class:`SoapBusinessError` becomes the reply's ``ErrorList``, its
    message the state's for the code (``fallback_message`` without one) and the error's detail.
    """
    method = dialect.method_from_action(action)
    handler = handlers.get(method or "")
    if method is None or handler is None:
        return dialect.fault("Client", f"Действие {action!r} не поддерживается (ActionNotSupported)")
    try:
        op = dialect.parse_body(body)
    except (SoapMalformed, SoapFault) as exc:
        return dialect.fault("Client", f"Некорректный SOAP-запрос: {exc}", 400)
    if op.tag != dialect.operation_tag(method):
        return dialect.fault("Client", f"Корневой элемент {op.tag} не соответствует SOAPAction {method}")
    state.calls[method] += 1
    id_history = state.next_id_history()
    p = params(op)
    try:
        if state.guid is not None and p.text("guid") != state.guid:
            raise SoapBusinessError(access_denied)
        return dialect.xml(dialect.serialize(handler(state, p, id_history)))
    except SoapBusinessError as exc:
        message = state.error_messages.get(exc.code, fallback_message)
        if exc.detail:
            message = f"{message}: {exc.detail}"
        return dialect.xml(dialect.serialize(dialect.error_reply(method, int(exc.code), message, id_history)))


def soap_endpoints(
    path: str,
    dialect: SoapDialect,
    faults: FaultInjector,
    *,
    handle: Callable[[str | None, bytes], Response[bytes]],
    wsdl: Callable[[str], bytes],
    unavailable: str,
) -> list[Any]:
    """The two routes of a SOAP service at ``path``: ``POST`` (after the injected fault: an error is a SOAP
    Fault saying ``unavailable``, a malformed reply a cut-off envelope) and ``GET ?wsdl``."""

    @post(path, status_code=200, media_type=dialect.content_type)
    async def soap_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        fault = await faults.before_reply()
        if fault is Fault.ERROR:
            return dialect.fault("Server", unavailable)
        if fault is Fault.MALFORMED:
            return dialect.xml(b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Resp')
        return handle(request.headers.get("soapaction"), body)

    @get(path, media_type=dialect.content_type)
    async def wsdl_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        """``?wsdl``: the operations and their SOAPAction values."""
        if "wsdl" not in {key.lower() for key in request.query_params}:
            return dialect.xml(b"", 400)
        return dialect.xml(wsdl(str(request.url.with_replacements(query=""))))

    return [soap_endpoint, wsdl_endpoint]
