"""One way to build the HTTP client of an upstream adapter.

An adapter never knows whether it talks to the real system or to its simulator: the base URL decides.
``inprocess://<name>`` routes requests to the simulator's ASGI app inside this process (through
``httpx.ASGITransport``); any ``http(s)://`` URL goes over the network, which is how a served simulator
or the real upstream is reached. Switching is a settings change.

:func:`request_json` (and :class:`JsonClient` over it) is the transport of the JSON contracts (attachment, ЕРЗЛ,
ЛЛО): bearer token, deadline, status and body mapped onto the integration's own errors (:class:`JsonUpstream`);
:func:`post_soap` the same for the SOAP contracts (ФЭР, вызов врача на дом: :class:`SoapUpstream`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, ParamSpec, Protocol, TypeVar

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


async def _send(
    send: Callable[[], Awaitable[httpx.Response]],
    name: str,
    *,
    timeout_s: float,
    timed_out: Callable[[str], Exception],
    unavailable: Callable[[str], Exception],
    where: str = "",
) -> httpx.Response:
    """``send()`` within the deadline; a timeout or a transport failure as the upstream's own error."""
    try:
        async with asyncio.timeout(timeout_s):
            return await send()
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise timed_out(f"{name} не ответил за {timeout_s:g} с{where}") from exc
    except httpx.HTTPError as exc:
        raise unavailable(f"{name} недоступен{where}: {exc}") from exc


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
    response = await _send(
        lambda: http.request(method, url, json=json_body, params=params, headers=all_headers),
        upstream.name,
        timeout_s=timeout_s,
        timed_out=upstream.timeout,
        unavailable=upstream.unavailable,
    )
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


class JsonClient:
    """Base of a JSON contract's client: :func:`request_json` with the client's token, deadline, base path and
    error map. A subclass names its ``upstream`` and its defaults (``default_base_path``, ``default_error_map``);
    ``http`` carries the base URL."""

    upstream: ClassVar[JsonUpstream]
    default_base_path: ClassVar[str] = ""
    default_error_map: ClassVar[Mapping[str, type[UpstreamRefusal]]] = {}

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str | None,
        timeout_s: float,
        base_path: str | None = None,
        error_map: Mapping[str, type[UpstreamRefusal]] | None = None,
    ) -> None:
        self._http = http
        self._token = token
        self._timeout_s = check_timeout(timeout_s)
        self._base = (self.default_base_path if base_path is None else base_path).rstrip("/")
        self._error_map = self.default_error_map if error_map is None else error_map

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """``(status, decoded body)`` of one request to ``path`` under the base path."""
        return await request_json(
            self._http,
            self.upstream,
            method,
            f"{self._base}{path}",
            token=self._token,
            timeout_s=self._timeout_s,
            error_map=self._error_map,
            json_body=json_body,
            params=params,
            headers=headers,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded body of one request (:meth:`_exchange` without the status)."""
        _, body = await self._exchange(method, path, json_body=json_body, params=params, headers=headers)
        return body


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
    response = await _send(
        lambda: http.post(path, content=content, headers=headers),
        upstream.name,
        timeout_s=timeout_s,
        timed_out=upstream.timeout,
        unavailable=upstream.unavailable,
        where=f" ({method})",
    )
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
