"""Talk to the app as a client does: over ASGI."""

from __future__ import annotations

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
