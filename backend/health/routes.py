"""``/health/live`` answers while the process runs; ``/health/ready`` says whether the database and
Redis answer, and names the one that does not."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from backend.runtime import Runtime

CHECK_TIMEOUT_S = 2.0


@get("/health/live", include_in_schema=True, tags=["health"], summary="Liveness probe")
async def live() -> dict[str, str]:
    return {"status": "live"}


async def _check_database(runtime: Runtime) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"down: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


async def _check_redis(runtime: Runtime) -> str:
    if runtime.redis is None:
        return "not configured"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await runtime.redis.ping()  # type: ignore[misc]  # redis-py types ping() as sync or async
    except Exception as exc:
        return f"down: {type(exc).__name__}: {str(exc)[:200]}"
    return "ok"


@get("/health/ready", tags=["health"], summary="Readiness probe: database and Redis")
async def ready(state: State) -> Response[dict[str, Any]]:
    runtime: Runtime = state.runtime
    database, redis = await asyncio.gather(_check_database(runtime), _check_redis(runtime))
    checks = {"database": database, "redis": redis}
    down = [name for name, result in checks.items() if result.startswith("down")]
    body: dict[str, Any] = {"status": "ready" if not down else "not ready", "checks": checks}
    if down:
        body["reason"] = "; ".join(f"{name} {checks[name]}" for name in down)
    return Response(body, status_code=503 if down else 200)
