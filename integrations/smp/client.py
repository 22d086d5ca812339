"""The HTTP client of the СМП dispatch feed's pull API; implements :class:`~integrations.smp.protocol.SmpDispatch`.

One request per call, no retries (the domain's sync retries), the deadline enforced with
:func:`asyncio.timeout`; ``http`` carries the base URL (``inprocess://smp`` → the simulator). The push
direction (the dispatch subsystem calling our webhook) is :func:`parse_push`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from integrations.smp import wire
from integrations.smp.protocol import (
    CallSnapshot,
    CrewProfile,
    FeedEvent,
    FeedRejected,
    SharedLocation,
    SmpAccessDenied,
    SmpBadRequest,
    SmpCallClosed,
    SmpCallNotFound,
    SmpError,
    SmpUnavailable,
    verify,
)

_ERRORS: dict[str, type[SmpError]] = {
    "not_found": SmpCallNotFound,
    "call_closed": SmpCallClosed,
    "bad_request": SmpBadRequest,
    "unauthorized": SmpAccessDenied,
}


class SmpClient:
    """``SmpClient(http, token=..., timeout_s=...)``."""

    def __init__(self, http: httpx.AsyncClient, *, token: str | None, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._token = token
        self._timeout_s = timeout_s

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.request(
                    method,
                    f"{wire.BASE_PATH}{path}",
                    content=orjson.dumps(body) if body is not None else None,
                    headers=headers | ({"Content-Type": "application/json"} if body is not None else {}),
                )
        except TimeoutError:
            raise SmpUnavailable("timeout") from None
        except httpx.HTTPError as exc:
            raise SmpUnavailable(f"transport: {type(exc).__name__}") from None
        try:
            data = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            raise SmpUnavailable(f"unreadable reply (HTTP {response.status_code})") from None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            kind = _ERRORS.get(str(code), SmpUnavailable)
            raise kind(f"HTTP {response.status_code} {code}")
        return data

    async def get_call(self, call_id: str) -> CallSnapshot:
        data = await self._call("GET", f"/calls/{quote(call_id, safe='')}")
        try:
            return wire.call_from(data)
        except wire.WireError as exc:
            raise SmpUnavailable(f"malformed call: {exc}") from None

    async def events(self, call_id: str, after_seq: int = 0) -> Sequence[FeedEvent]:
        data = await self._call("GET", f"/calls/{quote(call_id, safe='')}/events?after={int(after_seq)}")
        try:
            return [wire.event_from(e) for e in data["events"]]
        except (wire.WireError, KeyError, TypeError) as exc:
            raise SmpUnavailable(f"malformed events: {exc}") from None

    async def share_location(self, call_id: str, location: SharedLocation) -> None:
        await self._call("POST", f"/calls/{quote(call_id, safe='')}/location", wire.location_json(location))

    async def share_profile(self, call_id: str, profile: CrewProfile) -> None:
        await self._call("POST", f"/calls/{quote(call_id, safe='')}/emergency-profile", wire.profile_json(profile))

    async def aclose(self) -> None:
        await self._http.aclose()


def parse_push(body: bytes, signature: str | None, *, secret: str, now: int) -> list[FeedEvent]:
    """The events of a pushed message (one, or a batch); :class:`FeedRejected` (401 signature, 400 body:
    nothing of a batch with one unreadable event is taken) otherwise."""
    verify(body, signature, secret, now)
    try:
        return wire.events_from(orjson.loads(body))
    except (orjson.JSONDecodeError, wire.WireError) as exc:
        raise FeedRejected(400, f"unreadable event: {exc}") from None
