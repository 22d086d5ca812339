"""The REST client of ФНСИ; implements :class:`~integrations.nsi.protocol.ReferenceBooks`.

One HTTP request per call, no retries (the caller decides), the deadline enforced with
:func:`asyncio.timeout` (httpx's own timeouts do not apply to an in-process ``ASGITransport``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from integrations.nsi.protocol import (
    NsiAccessDenied,
    NsiBookNotFound,
    NsiKey,
    NsiMalformedReply,
    NsiPage,
    NsiPassport,
    NsiRejected,
    NsiTimeout,
    NsiUnavailable,
    NsiVersion,
    ReferenceBooks,
)
from integrations.nsi.snapshot import version_key

DEFAULT_BASE_PATH = "/port/rest"
MAX_PAGE_SIZE = 2000

# ``resultCode`` values of the simulator; a real ФНСИ's codes are **unconfirmed**, so the client also
# maps by HTTP status (401/403 → access denied, 404 → not found).
CODE_ACCESS_DENIED = 1
CODE_NOT_FOUND = 2
CODE_BAD_REQUEST = 3


class NsiClient:
    """``NsiClient(http, user_key=..., timeout_s=...)``; ``http`` carries the ФНСИ base URL."""

    def __init__(
        self, http: httpx.AsyncClient, *, user_key: str, timeout_s: float, base_path: str = DEFAULT_BASE_PATH
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._user_key = user_key
        self._timeout_s = timeout_s
        self._base = base_path.rstrip("/")

    async def passport(self, oid: str, *, version: str | None = None) -> NsiPassport:
        body = await self._get("passport", {"identifier": oid, "version": version})
        try:
            keys = tuple(NsiKey(str(k["field"]), str(k["type"])) for k in body.get("keys") or [])
            return NsiPassport(
                oid=str(body.get("oid") or oid),
                version=str(body["version"]),
                full_name=str(body["fullName"]),
                short_name=str(body.get("shortName") or body["fullName"]),
                rows_count=int(body["rowsCount"]),
                keys=keys,
                publish_date=_optional_str(body.get("publishDate")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NsiMalformedReply(f"Некорректный паспорт справочника {oid}: {exc!r}") from exc

    async def versions(self, oid: str) -> list[NsiVersion]:
        body = await self._get("versions", {"identifier": oid, "page": 1, "size": MAX_PAGE_SIZE})
        try:
            items = [NsiVersion(str(v["version"]), _optional_str(v.get("publishDate"))) for v in body["list"]]
        except (KeyError, TypeError) as exc:
            raise NsiMalformedReply(f"Некорректный список версий справочника {oid}: {exc!r}") from exc
        return sorted(items, key=lambda v: version_key(v.version))

    async def data(self, oid: str, *, version: str | None = None, page: int = 1, size: int = 200) -> NsiPage:
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be ≥ 1 and size within [1, {MAX_PAGE_SIZE}]")
        body = await self._get("data", {"identifier": oid, "version": version, "page": page, "size": size})
        try:
            rows = tuple(_row(cells) for cells in body["list"])
            total = int(body.get("total", len(rows)))
        except (KeyError, TypeError, ValueError) as exc:
            raise NsiMalformedReply(f"Некорректные данные справочника {oid}: {exc!r}") from exc
        return NsiPage(oid=oid, version=version, page=page, size=size, total=total, rows=rows)

    # -- transport -------------------------------------------------------------------------------

    async def _get(self, method: str, params: Mapping[str, object]) -> Mapping[str, Any]:
        query = {"userKey": self._user_key, **{k: str(v) for k, v in params.items() if v is not None}}
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.get(f"{self._base}/{method}", params=query)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise NsiTimeout(f"ФНСИ не ответил за {self._timeout_s:g} с ({method})") from exc
        except httpx.HTTPError as exc:
            raise NsiUnavailable(f"ФНСИ недоступен ({method}): {exc}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            if response.status_code >= 400:
                raise NsiUnavailable(
                    f"ФНСИ ответил HTTP {response.status_code} ({method})", status_code=response.status_code
                ) from exc
            raise NsiMalformedReply(f"Ответ ФНСИ не является JSON ({method})") from exc
        if not isinstance(body, dict) or body.get("result") not in {"OK", "ERROR"}:
            if response.status_code >= 400:
                raise NsiUnavailable(
                    f"ФНСИ ответил HTTP {response.status_code} ({method})", status_code=response.status_code
                )
            raise NsiMalformedReply(f"В ответе ФНСИ нет поля result ({method})")
        if body["result"] == "ERROR":
            raise _rejection(body, response.status_code)
        if response.status_code >= 400:
            status = response.status_code
            raise NsiUnavailable(f"ФНСИ ответил HTTP {status} ({method})", status_code=status)
        return body


def _rejection(body: Mapping[str, Any], status_code: int) -> NsiRejected:
    raw_code = body.get("resultCode")
    code = raw_code if isinstance(raw_code, int) else None
    message = str(body.get("resultText") or "ФНСИ вернул ошибку без описания")
    if code == CODE_ACCESS_DENIED or status_code in {401, 403}:
        return NsiAccessDenied(code, message)
    if code == CODE_NOT_FOUND or status_code == 404:
        return NsiBookNotFound(code, message)
    return NsiRejected(code, message)


def _row(cells: Any) -> dict[str, str | None]:
    if not isinstance(cells, list):
        raise TypeError("строка данных должна быть списком ячеек")
    row: dict[str, str | None] = {}
    for cell in cells:
        column = cell["column"]
        value = cell.get("value")
        row[str(column)] = None if value is None else str(value)
    return row


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


async def fetch_all_rows(
    books: ReferenceBooks, oid: str, *, version: str | None = None, size: int = 500
) -> list[Mapping[str, str | None]]:
    """Every row of a book version, page by page (for a nightly refresh of the local copy)."""
    rows: list[Mapping[str, str | None]] = []
    page = 1
    while True:
        chunk = await books.data(oid, version=version, page=page, size=size)
        rows.extend(chunk.rows)
        if not chunk.has_next or not chunk.rows:
            return rows
        page += 1
