"""Talk to the app as a client does: over ASGI."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import httpx
from litestar.testing import TestClient, WebSocketTestSession

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


# The Litestar TestClient runs the app (and its lifespan) in a portal thread. Two things there can hang a
# test forever: a receive that waits for a message that never comes, and the shutdown, which waits for
# every task the portal started (an app task that ignores its cancellation: backend/core/aio.py). These
# helpers bound both and fail the test with a message instead.

WS_RECEIVE_S = 10.0
SHUTDOWN_S = 30.0


class BoundedWebSocket:
    """A TestClient websocket whose every receive is bounded (``wait_s`` unless given)."""

    def __init__(self, session: WebSocketTestSession, wait_s: float) -> None:
        self.session, self.wait_s = session, wait_s

    def send_json(self, message: Any) -> None:
        self.session.send_json(message)

    def receive_json(self, timeout: float | None = None) -> Any:
        """The next message; litestar's ``WebSocketDisconnect`` if the app closed the socket; an
        AssertionError if nothing came within the bound."""
        wait_s = self.wait_s if timeout is None else timeout
        try:
            return self.session.receive_json(timeout=wait_s)
        except queue.Empty:
            raise AssertionError(f"no websocket message within {wait_s} s") from None


def _within(limit_s: float, what: str, step: Callable[[], None]) -> None:
    """Run ``step`` in a thread of its own; fail if it has not finished within ``limit_s``."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as exc:  # handed back to the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"bounded:{what}", daemon=True)
    thread.start()
    thread.join(limit_s)
    if thread.is_alive():
        raise AssertionError(f"{what} did not finish within {limit_s} s (a task ignoring its cancellation?)")
    if failure:
        raise failure[0]


@contextmanager
def served(app: Any, *, shutdown_s: float = SHUTDOWN_S) -> Iterator[TestClient[Any]]:
    """``app`` under a Litestar TestClient whose shutdown (lifespan end and portal stop) is bounded."""
    client: TestClient[Any] = TestClient(app)
    client.__enter__()
    try:
        yield client
    finally:
        _within(shutdown_s, "the app's shutdown", lambda: client.__exit__(None, None, None))


@contextmanager
def websocket(
    client: TestClient[Any],
    path: str = "/graphql",
    *,
    subprotocols: Sequence[str] = ("graphql-transport-ws",),
    headers: dict[str, str] | None = None,
    wait_s: float = WS_RECEIVE_S,
) -> Iterator[BoundedWebSocket]:
    """A websocket to the app ``client`` serves (use inside :func:`served`), every receive bounded."""
    with client.websocket_connect(path, subprotocols=list(subprotocols), headers=headers) as session:
        yield BoundedWebSocket(session, wait_s)
