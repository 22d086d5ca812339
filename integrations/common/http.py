"""One way to build the HTTP client of an upstream adapter.

An adapter never knows whether it talks to the real system or to its simulator: the base URL decides.
``inprocess://<name>`` routes requests to the simulator's ASGI app inside this process (through
``httpx.ASGITransport``); any ``http(s)://`` URL goes over the network, which is how a served simulator
or the real upstream is reached. Switching is a settings change.

:func:`request_json` is the transport of the JSON contracts (attachment, ЕРЗЛ, ЛЛО): bearer token, deadline,
status and body mapped onto the integration's own errors (:class:`JsonUpstream`); :func:`post_soap` the same
for the SOAP contracts (ФЭР, вызов врача на дом: :class:`SoapUpstream`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

import httpx

from integrations.common.errors import UpstreamMalformedReply, UpstreamRefusal, UpstreamTimeout, UpstreamUnavailable
from integrations.common.soap import SoapFault, SoapMalformed

INPROCESS_SCHEME = "inprocess://"

T = TypeVar("T")
P = ParamSpec("P")

ASGIApp = Callable[..., Any]


def is_inprocess(base_url: str) -> bool:
    return base_url.startswith(INPROCESS_SCHEME)


def build_http_client(
    base_url: str,
    *,
    simulator_app: Callable[[], ASGIApp] | None = None,
    timeout_s: float = 10.0,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    verify: bool | str = True,
) -> httpx.AsyncClient:
    """Return an ``httpx.AsyncClient`` for ``base_url``.

    ``simulator_app`` is a factory of the simulator's ASGI app; it is only called for an
    ``inprocess://`` URL, and is required then.
    """
    timeout = httpx.Timeout(timeout_s)
    if is_inprocess(base_url):
        if simulator_app is None:
            raise ValueError(f"{base_url} names an in-process simulator, but none was given")
        host = base_url[len(INPROCESS_SCHEME) :].strip("/") or "simulator"
        transport = httpx.ASGITransport(app=simulator_app())
        return httpx.AsyncClient(
            transport=transport, base_url=f"http://{host}", timeout=timeout, headers=headers, auth=auth
        )
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers, auth=auth, verify=verify)


@dataclass(frozen=True, slots=True)
class JsonUpstream:
    """How one JSON upstream names itself in Russian and which of its errors :func:`request_json` raises.

    The upstream answers a refusal with HTTP 4xx and ``{"error": {"code": ..., "message": ...}}``; ``code``
    picks the refusal class from the client's error map (``refusal`` when the code is unknown).
    """

    name: str  # the subject of the transport messages: "Сервис ОМС" (не ответил / недоступен / ответил HTTP …)
    not_json: str  # the message of a successful reply that is not JSON
    refusal: type[UpstreamRefusal]
    timeout: type[UpstreamTimeout]
    unavailable: type[UpstreamUnavailable]
    malformed: type[UpstreamMalformedReply]


def check_timeout(timeout_s: float) -> float:
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    return timeout_s


async def request_json(
    http: httpx.AsyncClient,
    upstream: JsonUpstream,
    method: str,
    url: str,
    *,
    token: str | None,
    timeout_s: float,
    error_map: Mapping[str, type[UpstreamRefusal]],
    json_body: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One request, no retries, the deadline enforced with :func:`asyncio.timeout`: ``(status, decoded body)``.

    A timeout raises ``upstream.timeout``; a failed connection, HTTP 5xx or an error status without the
    contract's error body ``upstream.unavailable`` (with ``status_code``); a successful reply that is not JSON
    ``upstream.malformed``; a 4xx with an error code the mapped refusal.
    """
    all_headers = {"Accept": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    try:
        async with asyncio.timeout(timeout_s):
            response = await http.request(method, url, json=json_body, params=params, headers=all_headers)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise upstream.timeout(f"{upstream.name} не ответил за {timeout_s:g} с") from exc
    except httpx.HTTPError as exc:
        raise upstream.unavailable(f"{upstream.name} недоступен: {exc}") from exc
    status = response.status_code
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError as exc:
        if status >= 400:
            raise upstream.unavailable(f"{upstream.name} ответил HTTP {status}", status_code=status) from exc
        raise upstream.malformed(upstream.not_json) from exc
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if status >= 500 or not isinstance(code, str):
            raise upstream.unavailable(f"{upstream.name} ответил HTTP {status}", status_code=status)
        message = error.get("message") if isinstance(error, dict) else None
        raise error_map.get(code, upstream.refusal)(code, str(message or "Отказ без описания"))
    return status, body


class SoapUnavailableError(Protocol):
    def __call__(self, message: str, *, fault_code: str | None = None, status_code: int | None = None) -> Exception: ...


@dataclass(frozen=True, slots=True)
class SoapUpstream:
    """How one SOAP upstream names itself in Russian and which of its errors :func:`post_soap` raises."""

    name: str  # the subject of the transport messages: "Хаб записи" (не ответил / недоступен / вернул …)
    name_genitive: str  # "хаба записи": "Некорректный ответ хаба записи (…)"
    timeout: Callable[[str], Exception]
    unavailable: SoapUnavailableError
    malformed: Callable[[str], Exception]

    def malformed_reply(self, method: str, exc: Exception) -> Exception:
        return self.malformed(f"Некорректный ответ {self.name_genitive} ({method}): {exc}")


async def post_soap(
    http: httpx.AsyncClient,
    upstream: SoapUpstream,
    path: str,
    method: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    parse_body: Callable[[bytes], T],
) -> T:
    """POST one SOAP request, no retries, the deadline enforced with :func:`asyncio.timeout`; the parsed body.

    A timeout raises ``upstream.timeout``; a failed connection, a SOAP Fault or an HTTP error status
    ``upstream.unavailable`` (with ``fault_code`` / ``status_code``); a successful reply ``parse_body`` cannot
    read (:class:`SoapMalformed`) ``upstream.malformed``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            response = await http.post(path, content=content, headers=headers)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise upstream.timeout(f"{upstream.name} не ответил за {timeout_s:g} с ({method})") from exc
    except httpx.HTTPError as exc:
        raise upstream.unavailable(f"{upstream.name} недоступен ({method}): {exc}") from exc
    status = response.status_code
    try:
        payload = parse_body(response.content)
    except SoapFault as fault:
        raise upstream.unavailable(
            f"{upstream.name} вернул SOAP Fault ({method}): {fault.message}", fault_code=fault.code, status_code=status
        ) from fault
    except SoapMalformed as exc:
        if status >= 400:
            raise upstream.unavailable(f"{upstream.name} ответил HTTP {status} ({method})", status_code=status) from exc
        raise upstream.malformed_reply(method, exc) from exc
    if status >= 400:
        raise upstream.unavailable(f"{upstream.name} ответил HTTP {status} ({method})", status_code=status)
    return payload


def soap_reply_parser(
    upstream: SoapUpstream,
) -> Callable[[Callable[P, Coroutine[Any, Any, T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorate a client method: a reply member it cannot parse is ``upstream.malformed``, never a bare
    :class:`SoapMalformed` (a ``ValueError``)."""

    def decorate(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return await fn(*args, **kwargs)
            except SoapMalformed as exc:
                raise upstream.malformed(f"Некорректный ответ {upstream.name_genitive}: {exc}") from exc

        return wrapper

    return decorate
