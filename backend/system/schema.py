from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import strawberry
from strawberry import relay

from backend.api.context import Info
from backend.core.context import Channel
from backend.core.db import utcnow


def _version() -> str:
    try:
        return version("moe-zdorovye")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+source"


@strawberry.type(description="Регион, который обслуживает этот экземпляр сервиса.")
class Region(relay.Node):
    code: str
    name: str
    timezone: str

    @classmethod
    def resolve_id(cls, root: Region, *, info: Info) -> str:
        return root.code

    @classmethod
    def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Region | None]:
        settings = info.context.runtime.settings
        return [
            cls(code=node_id, name=settings.region_name, timezone=settings.region_timezone)
            if node_id == settings.region_code
            else None
            for node_id in node_ids
        ]


@strawberry.type
class ApiInfo:
    version: str
    region: Region
    channels: list[str]
    server_time: datetime


@strawberry.type
class Query:
    @strawberry.field(description="Версия API и обслуживаемый регион.")
    def api_info(self, info: Info) -> ApiInfo:
        settings = info.context.runtime.settings
        return ApiInfo(
            version=_version(),
            region=Region(code=settings.region_code, name=settings.region_name, timezone=settings.region_timezone),
            channels=[c.value for c in Channel if c is not Channel.SYSTEM],
            server_time=utcnow(),
        )


#: The heartbeat's bounds: a connectivity check needs no more than one beat a second (issue 26: one
#: socket could ask for ~20 a second on each of its subscriptions).
MIN_HEARTBEAT_S = 1.0
MAX_HEARTBEAT_S = 300.0


def heartbeat_interval(requested_s: float) -> float:
    return min(max(requested_s, MIN_HEARTBEAT_S), MAX_HEARTBEAT_S)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Серверное время раз в interval секунд: проверка связи (киоски, приложение).")
    async def heartbeat(self, interval_seconds: float = 10.0, count: int = 0) -> AsyncGenerator[datetime, Any]:
        interval = heartbeat_interval(interval_seconds)
        sent = 0
        while count <= 0 or sent < count:
            yield utcnow()
            sent += 1
            if count <= 0 or sent < count:
                await asyncio.sleep(interval)
