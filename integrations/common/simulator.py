"""What every upstream simulator app shares: its routes and its in-memory state, in one Litestar app
that leaves logging to the host process; tests and the scenario hooks read the state back.

The JSON simulators (attachment, ЕРЗЛ, ЛЛО) also share their error shape (:class:`SimulatorApiError` →
``{"error": {"code", "message"}}``) and the guard every route passes first (:func:`json_guard`: latency and
injected faults, the call count, the bearer token, the clock tick); the SOAP simulators (ФЭР, вызов врача
на дом) their WSDL (:func:`soap_wsdl`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, Protocol, TypeVar

from litestar import Litestar, Request, Response

from integrations.common.faults import Fault, FaultInjector

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
