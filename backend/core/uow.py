"""The unit of work every mutation uses: one transaction that commits all or nothing.

It commits when the work returns normally and was not marked failed, rolls back on any exception or
typed failure, and relays the outbox rows it wrote only after the commit succeeded.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.outbox import service as outbox

if TYPE_CHECKING:
    from backend.runtime import Runtime


class UnitOfWork:
    def __init__(self, runtime: Runtime, ctx: RequestContext) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self._session: AsyncSession | None = None
        self._failed = False
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self.runtime.sessionmaker()
        await self._session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        relay_ids: list[uuid.UUID] = []
        try:
            if exc_type is None and not self._failed:
                await session.commit()
                self.committed = True
                relay_ids = outbox.take_pending_ids(session)
            else:
                await session.rollback()
                outbox.take_pending_ids(session)
        finally:
            await session.close()
            self._session = None
        if relay_ids:
            await self.runtime.relay.enqueue(relay_ids)

    def fail(self) -> None:
        """Roll back at the end instead of committing (a typed business failure)."""
        self._failed = True

    @property
    def failed(self) -> bool:
        return self._failed

    def audit(self, action: str, **kwargs: Any) -> None:
        audit.record(self.session, self.ctx, action, **kwargs)

    def emit(self, topic: str, payload: dict[str, Any]) -> uuid.UUID:
        """Queue a side effect that runs only if this unit of work commits."""
        return outbox.add(self.session, topic, payload, request_id=self.ctx.request_id)
