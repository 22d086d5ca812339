"""A schema module used only by the foundation's tests: it writes through the real unit of work and
outbox, and offers a recursive type and a failing field to exercise the guards."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import Problem
from backend.outbox import service as outbox
from backend.outbox.service import Envelope
from backend.runtime import Runtime

TOPIC = "test.recorded"
DELIVERIES: Counter[uuid.UUID] = Counter()
FAILURES_LEFT: dict[str, int] = {"count": 0}


async def _record(envelope: Envelope, runtime: Runtime) -> None:
    if FAILURES_LEFT["count"] > 0:
        FAILURES_LEFT["count"] -= 1
        raise ConnectionError("provider down")
    DELIVERIES[envelope.id] += 1


outbox.register(TOPIC, _record)  # the test topic; the domains' topics are wired by backend.wiring


@strawberry.type
class Tree:
    depth: int

    @strawberry.field
    def child(self) -> Tree:
        return Tree(depth=self.depth + 1)


@strawberry.type
class Written:
    outbox_id: strawberry.ID


@strawberry.type
class WriteRefused(Problem):
    pass


@strawberry.type
class Query:
    @strawberry.field
    def tree(self) -> Tree:
        return Tree(depth=0)

    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("secret internal detail: password=hunter2")

    @strawberry.field
    async def slow(self, ms: int) -> int:
        await asyncio.sleep(ms / 1000)
        return ms

    @strawberry.field
    async def slow_boom(self, ms: int) -> int:
        await asyncio.sleep(ms / 1000)
        raise RuntimeError("secret internal detail: password=hunter2")


def _write(info: Info, note: str) -> uuid.UUID:
    uow = info.context.uow
    uow.audit("test.write", details={"note": note})
    return uow.emit(TOPIC, {"note": note})


@strawberry.type
class Mutation:
    @strawberry.mutation
    @atomic
    async def write_ok(self, info: Info, note: str) -> Written:
        return Written(outbox_id=strawberry.ID(str(_write(info, note))))

    @strawberry.mutation
    @atomic
    async def write_then_raise(self, info: Info, note: str) -> Written:
        _write(info, note)
        await info.context.uow.session.flush()  # the rows really reach the database
        raise RuntimeError("boom after writing")

    @strawberry.mutation
    @atomic
    async def write_then_problem(self, info: Info, note: str) -> Written | WriteRefused:
        _write(info, note)
        await info.context.uow.session.flush()
        return WriteRefused(code="WRITE_REFUSED", message="Запись отклонена.")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def boom_later(self) -> AsyncGenerator[int, Any]:
        """One value, then an unexpected error: the second ``next`` must arrive masked."""
        yield 1
        raise RuntimeError("secret internal detail: password=hunter2")
