"""Public REST of SMART Scheduling Links (mounted under /api/v1; no login: the data is public).

* ``GET /api/v1/scheduling/$bulk-publish``: the manifest (``application/json``);
* ``GET /api/v1/scheduling/locations.ndjson``, ``schedules.ndjson``, ``slots.ndjson``:
  ``application/fhir+ndjson``, one FHIR R4 resource a line;
* ``GET /api/v1/scheduling/book/{slot}``: the booking deep link of a ``Slot`` (a page that opens the app's
  booking flow on that slot, or says to call 122).

Cached: each answer carries a strong ``ETag`` and ``Cache-Control: public, max-age=60``; a matching
``If-None-Match`` gets 304 without a body; the assembled files are kept in this process until a part
changes (the parts' count and last change are one small read). Rate-limited per client address:
:data:`RATE_LIMIT` requests per :data:`RATE_WINDOW_S` seconds (Redis when there is one, else this
process), then 429 with ``Retry-After`` and the house's Russian refusal body.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
from litestar import MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from backend.api.boundary import error_response
from backend.booking import service as booking
from backend.middleware import request_id_of
from backend.scheduling_links import service

if TYPE_CHECKING:
    from backend.runtime import Runtime

NDJSON = "application/fhir+ndjson"
RATE_LIMIT = 120
RATE_WINDOW_S = 60
CACHE_CONTROL = "public, max-age=60"
APP_LINK = "ru.gosuslugi.health://booking/slot?ref="

_local_hits: dict[str, tuple[int, int]] = {}  # client → (window, hits): without Redis
_files: dict[tuple[int, str], tuple[tuple[int, Any], service.Published]] = {}  # (runtime id, kind) → file


async def _allowed(runtime: Runtime, client: str) -> bool:
    window = int(time.time()) // RATE_WINDOW_S
    key = f"mz:scheduling-links:rate:{client}:{window}"
    redis = runtime.redis
    if redis is not None:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, RATE_WINDOW_S * 2)
            hits, _ = await pipe.execute()
        return int(hits) <= RATE_LIMIT
    known = _local_hits.get(client)
    hits = known[1] + 1 if known is not None and known[0] == window else 1
    _local_hits[client] = (window, hits)
    return hits <= RATE_LIMIT


async def _limited(request: Request[Any, Any, Any]) -> Response[Any] | None:
    runtime: Runtime = request.app.state.runtime
    client = request.client.host if request.client is not None else "-"
    if await _allowed(runtime, client):
        return None
    return error_response(
        429,
        "TOO_MANY_REQUESTS",
        f"Слишком много запросов к расписанию. Повторите через {RATE_WINDOW_S} секунд.",
        request_id_of(request.scope),
        headers={"Retry-After": str(RATE_WINDOW_S)},
    )


def _cached(request: Request[Any, Any, Any], etag: str, body: bytes, media_type: str) -> Response[Any]:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


async def _file(request: Request[Any, Any, Any], kind: str) -> Response[Any]:
    limited = await _limited(request)
    if limited is not None:
        return limited
    runtime: Runtime = request.app.state.runtime
    version = await service.version(runtime)
    key = (id(runtime), kind)
    known = _files.get(key)
    if known is None or known[0] != version:
        known = _files[key] = (version, await service.published_file(runtime, kind))
    return _cached(request, known[1].etag, known[1].body, NDJSON)


_RESPONSES = {
    304: ResponseSpec(data_container=None, generate_examples=False, description="Не изменилось (If-None-Match)."),
    429: ResponseSpec(data_container=dict, generate_examples=False, description="Слишком много запросов."),
}


@get("/scheduling/$bulk-publish", media_type=MediaType.JSON, responses=_RESPONSES)
async def bulk_publish(request: Request[Any, Any, Any]) -> Response[Any]:
    """SMART Scheduling Links manifest: where the Location, Schedule and Slot files are, and as of when."""
    limited = await _limited(request)
    if limited is not None:
        return limited
    runtime: Runtime = request.app.state.runtime
    count, last = await service.version(runtime)
    body = orjson.dumps(service.manifest(runtime, last))
    return _cached(request, f'"{count}-{last.timestamp() if last else 0}"', body, MediaType.JSON)


@get("/scheduling/locations.ndjson", media_type=NDJSON, responses=_RESPONSES)
async def locations(request: Request[Any, Any, Any]) -> Response[Any]:
    """FHIR R4 Location resources (the clinics), one a line."""
    return await _file(request, "Location")


@get("/scheduling/schedules.ndjson", media_type=NDJSON, responses=_RESPONSES)
async def schedules(request: Request[Any, Any, Any]) -> Response[Any]:
    """FHIR R4 Schedule resources (a doctor at a clinic), one a line."""
    return await _file(request, "Schedule")


@get("/scheduling/slots.ndjson", media_type=NDJSON, responses=_RESPONSES)
async def slots(request: Request[Any, Any, Any]) -> Response[Any]:
    """FHIR R4 Slot resources (free slots, each with its booking deep link), one a line."""
    return await _file(request, "Slot")


_BOOK_RESPONSES = {
    **_RESPONSES,
    404: ResponseSpec(
        str, generate_examples=False, description="Ссылка неверна (страница HTML).", media_type=MediaType.HTML
    ),
    410: ResponseSpec(
        str, generate_examples=False, description="Время уже занято (страница HTML).", media_type=MediaType.HTML
    ),
}


@get("/scheduling/book/{slot:str}", media_type=MediaType.HTML, responses=_BOOK_RESPONSES)
async def book(request: Request[Any, Any, Any], slot: str) -> Response[Any]:
    """The booking deep link of a published Slot: open the app's booking on it, or call 122."""
    limited = await _limited(request)
    if limited is not None:
        return limited
    runtime: Runtime = request.app.state.runtime
    try:
        ref = booking.SlotRef.decode(slot)
    except ValueError:
        return _page(404, "Талон не найден", "<p>Ссылка неверна. Выберите время заново.</p>")
    found = await booking.find_slot(runtime, ref)
    if found is not None:
        async with runtime.sessionmaker() as session:
            taken = await booking.live_holds_and_bookings(session, runtime, runtime.now(), [found])
        if (found.mo_id, found.id) in taken:
            found = None  # the hub's listing may lag a moment behind a booking made here
    if found is None:
        return _page(410, "Это время уже занято", "<p>Выберите другое время или позвоните по номеру 122.</p>")
    when = booking.to_utc(runtime, found.start).astimezone(ZoneInfo(runtime.settings.region_timezone))
    link = APP_LINK + html.escape(slot)
    body = (
        f"<p>{when:%d.%m.%Y %H:%M}, кабинет {html.escape(found.room or '—')}, {html.escape(found.address or '')}</p>"
        f'<p><a href="{link}">Записаться в приложении «Мое здоровье»</a></p>'
        "<p>Или позвоните по номеру 122 и назовите это время.</p>"
    )
    return _page(200, "Запись на приём", body)


def _page(status: int, title: str, body: str) -> Response[Any]:
    page = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p>«Мое здоровье»</p></body></html>"
    )
    return Response(content=page, status_code=status, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})


ROUTES = [bulk_publish, locations, schedules, slots, book]
