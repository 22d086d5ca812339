"""Talk to the app as a client does: over ASGI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx

from backend.app import create_app
from backend.runtime import Runtime


@asynccontextmanager
async def app_client(runtime: Runtime, modules: Sequence[ModuleType] = ()) -> AsyncIterator[httpx.AsyncClient]:
    """The app on ``runtime`` in this event loop (the runtime is the test's; no lifespan is needed)."""
    app = create_app(runtime=runtime, extra_schema_modules=modules)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    extensions: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if extensions is not None:
        payload["extensions"] = extensions
    response = await client.post("/graphql", json=payload, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class WebSocketClosed(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"websocket closed: {code} {reason}".strip())
        self.code = code


class AsgiWebSocket:
    """A websocket client of an ASGI app in this event loop: the app's own websocket route, handshake and
    protocol (what a network client meets, without the network)."""

    def __init__(self, to_app: asyncio.Queue[dict[str, Any]], from_app: asyncio.Queue[dict[str, Any]]) -> None:
        self._to_app, self._from_app = to_app, from_app
        self.subprotocol: str | None = None

    async def send_json(self, message: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive_json(self, wait_s: float = 10.0) -> dict[str, Any]:
        """The next message; :class:`WebSocketClosed` if the app closed; TimeoutError if none came."""
        message = await asyncio.wait_for(self._from_app.get(), wait_s)
        if message["type"] == "websocket.close":
            raise WebSocketClosed(int(message.get("code", 1000)), str(message.get("reason") or ""))
        data = message.get("text") or (message.get("bytes") or b"").decode()
        received: dict[str, Any] = json.loads(data)
        return received

    def pending(self) -> bool:
        return not self._from_app.empty()


@asynccontextmanager
async def asgi_websocket(app: Any, path: str, *, subprotocols: Sequence[str] = ()) -> AsyncIterator[AsgiWebSocket]:
    """Open a websocket to ``app`` at ``path``; closed (the client disconnecting) on exit."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    headers = [(b"host", b"testserver")]
    if subprotocols:
        headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "subprotocols": list(subprotocols),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "websocket.connect"})
    accepted = await asyncio.wait_for(from_app.get(), 10)
    if accepted["type"] != "websocket.accept":
        task.cancel()
        raise WebSocketClosed(int(accepted.get("code", 1006)), f"not accepted: {accepted}")
    ws = AsgiWebSocket(to_app, from_app)
    ws.subprotocol = accepted.get("subprotocol")
    try:
        yield ws
    finally:
        await to_app.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(task, 10)
        except Exception:  # the app's own end of a dropped connection is not the test's concern
            task.cancel()
