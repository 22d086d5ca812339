"""Simulator of ФНСИ's REST API over the offline snapshot (``integrations/nsi/snapshot``).

``create_nsi_simulator(user_key=...)`` returns a Litestar ASGI app serving ``GET /port/rest/passport``,
``/port/rest/data`` and ``/port/rest/versions``. Every reply is the ФНСИ envelope (``result``,
``resultText``, ``resultCode``); ``data`` rows are lists of ``{"column", "value"}`` cells. A wrong or
missing ``userKey`` is ``ERROR`` (HTTP 403), an unknown OID or version ``ERROR`` (HTTP 404), a bad
page or size ``ERROR`` (HTTP 400). Faults (:class:`FaultProfile`): ERROR → HTTP 503 with an HTML
body, MALFORMED → a truncated JSON body, TIMEOUT → a stall. The state (:class:`NsiSimulatorState`)
counts calls per method.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from litestar import Litestar, Request, Response, get

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.nsi.client import CODE_ACCESS_DENIED, CODE_BAD_REQUEST, CODE_NOT_FOUND, MAX_PAGE_SIZE
from integrations.nsi.snapshot import SNAPSHOT_DIR, Book, load_books

BASE_PATH = "/port/rest"


class NsiSimulatorState:
    def __init__(self, books: Mapping[str, Book], *, faults: FaultInjector, user_key: str | None) -> None:
        self.books = dict(books)
        self.faults = faults
        self.user_key = user_key
        self.calls: Counter[str] = Counter()


class _Rejected(Exception):
    def __init__(self, status: int, code: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text


def _json(body: Mapping[str, Any], status: int = 200) -> Response[Any]:
    return Response(content=dict(body), status_code=status, media_type="application/json")


def _ok(**members: Any) -> dict[str, Any]:
    return {"result": "OK", "resultText": None, "resultCode": 0, **members}


def _int(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Rejected(400, CODE_BAD_REQUEST, f"Параметр {name} должен быть целым числом") from None


def _book(state: NsiSimulatorState, params: Mapping[str, str]) -> tuple[Book, str]:
    if state.user_key is not None and params.get("userKey") != state.user_key:
        raise _Rejected(403, CODE_ACCESS_DENIED, "Неверный ключ пользователя (userKey)")
    oid = params.get("identifier") or ""
    book = state.books.get(oid)
    if book is None:
        raise _Rejected(404, CODE_NOT_FOUND, f"Справочник с идентификатором {oid!r} не найден")
    version = params.get("version") or book.current_version
    if not book.has_version(version):
        raise _Rejected(404, CODE_NOT_FOUND, f"Версия {version} справочника {oid} не найдена")
    return book, version


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    page = _int(params, "page", 1)
    size = _int(params, "size", 200)
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise _Rejected(400, CODE_BAD_REQUEST, f"page должен быть ≥ 1, size — от 1 до {MAX_PAGE_SIZE}")
    return page, size


def handle(state: NsiSimulatorState, method: str, params: Mapping[str, str]) -> Response[Any]:
    state.calls[method] += 1
    try:
        book, version = _book(state, params)
        if method == "passport":
            passport = book.passport(version)
            return _json(
                _ok(
                    oid=book.oid,
                    version=passport.version,
                    fullName=passport.full_name,
                    shortName=passport.short_name,
                    rowsCount=passport.rows_count,
                    publishDate=passport.publish_date,
                    keys=[{"field": k.field, "type": k.type} for k in passport.keys],
                )
            )
        page, size = _paging(params)
        if method == "versions":
            items = [{"version": v.version, "publishDate": v.publish_date} for v in book.versions]
            return _json(_ok(total=len(items), list=items[(page - 1) * size : page * size]))
        rows = book.rows_of(version)
        chunk = rows[(page - 1) * size : page * size]
        encoded = [[{"column": column, "value": value} for column, value in row.items()] for row in chunk]
        return _json(_ok(total=len(rows), list=encoded))
    except _Rejected as exc:
        return _json({"result": "ERROR", "resultText": exc.text, "resultCode": exc.code}, exc.status)


def create_nsi_simulator(
    *,
    user_key: str | None = None,
    books: Mapping[str, Book] | None = None,
    faults: FaultProfile | None = None,
) -> Litestar:
    """The ФНСИ simulator; ``user_key=None`` accepts any key, ``books`` defaults to the shipped snapshot."""
    state = NsiSimulatorState(
        books if books is not None else load_books(SNAPSHOT_DIR),
        faults=FaultInjector(faults or FaultProfile()),
        user_key=user_key,
    )

    async def _serve(request: Request[Any, Any, Any], method: str) -> Response[Any]:
        fault = await state.faults.before_reply()
        if fault is Fault.ERROR:
            return Response(content=b"<html>503 Service Unavailable</html>", status_code=503, media_type="text/html")
        if fault is Fault.MALFORMED:
            return Response(content=b'{"result":"OK","list":[[{"col', status_code=200, media_type="application/json")
        return handle(state, method, dict(request.query_params))

    @get(f"{BASE_PATH}/passport")
    async def passport(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _serve(request, "passport")

    @get(f"{BASE_PATH}/data")
    async def data(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _serve(request, "data")

    @get(f"{BASE_PATH}/versions")
    async def versions(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _serve(request, "versions")

    return simulator_app([passport, data, versions], state)


def simulator_state(app: Litestar) -> NsiSimulatorState:
    return state_of(app, NsiSimulatorState)
