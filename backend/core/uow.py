"""The unit of work every mutation uses: one transaction that commits all or nothing.

It commits when the work returns normally and was not marked failed, rolls back on any exception or
typed failure, and relays the outbox rows it wrote only after the commit succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Insert, Table
from sqlalchemy.ext.asyncio import AsyncSession

from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.core.context import RequestContext
from backend.core.hot import HotStatement, prefixed, with_inserts
from backend.core.sqlite_writers import writer_turn
from backend.outbox import service as outbox
from backend.outbox.models import OutboxMessage

if TYPE_CHECKING:
    from backend.runtime import Runtime


_AUDIT = cast("Table", AuditEvent.__table__)
_OUTBOX = cast("Table", OutboxMessage.__table__)
# Statements of a claim (or none) with n audit and m outbox rows, built once per shape.
_COMBINED: dict[tuple[HotStatement | None, int, int], HotStatement] = {}
_MAX_COMBINED_ROWS = 8


def _combined(guard: HotStatement | None, n_audit: int, n_outbox: int) -> HotStatement | None:
    """The one statement writing ``guard``'s claim with these rows (PostgreSQL), or None past the shapes kept."""
    if n_audit > _MAX_COMBINED_ROWS or n_outbox > _MAX_COMBINED_ROWS:
        return None
    key = (guard, n_audit, n_outbox)
    built = _COMBINED.get(key)
    if built is None:
        statement = cast("Insert | None", guard.statement if guard is not None else None)
        built = _COMBINED[key] = HotStatement(
            with_inserts(statement, [(_AUDIT, "a", n_audit), (_OUTBOX, "o", n_outbox)])
        )
    return built


class UnitOfWork:
    def __init__(self, runtime: Runtime, ctx: RequestContext) -> None:
        self.runtime = runtime
        self.ctx = ctx
        self._session: AsyncSession | None = None
        self._open = False
        self._failed = False
        self.committed = False
        # Audit and outbox rows are written together just before the commit (one round trip each).
        self._audit_rows: list[dict[str, Any]] = []
        self._outbox_rows: list[dict[str, Any]] = []
        self._last_writes: list[tuple[HotStatement, dict[str, Any]]] = []
        self._written_outbox: list[uuid.UUID] = []  # outbox rows a claim already wrote: relayed after commit

    @property
    def session(self) -> AsyncSession:
        """The unit of work's session, made at its first use (its transaction begins with its first
        statement): work that is refused before it touches the database costs no session."""
        self._require_open()
        if self._session is None:
            self._session = self.runtime.sessionmaker()
        return self._session

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("the unit of work is not open")

    async def __aenter__(self) -> UnitOfWork:
        self._audit_rows, self._outbox_rows, self._last_writes = [], [], []
        self._written_outbox = []
        self._turn = writer_turn(self.runtime.engine)  # SQLite: this process's writers take turns
        await self._turn.__aenter__()
        self._open = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self._finish(exc_type)
        finally:
            await self._turn.__aexit__(None, None, None)

    async def _finish(self, exc_type: type[BaseException] | None) -> None:
        succeeded = exc_type is None and not self._failed
        if self._session is None and not (succeeded and (self._audit_rows or self._outbox_rows or self._last_writes)):
            self._open = False
            self.committed = succeeded  # nothing was written, nothing to undo
            return
        session = self.session
        relay_ids: list[uuid.UUID] = []
        try:
            if succeeded:
                await self._write_collected(session)
                await session.commit()
                self.committed = True
                relay_ids = (
                    self._written_outbox + [r["id"] for r in self._outbox_rows] + outbox.take_pending_ids(session)
                )
            else:
                await session.rollback()
                outbox.take_pending_ids(session)
        finally:
            await session.close()
            self._session = None
            self._open = False
        if relay_ids:
            await self.runtime.relay.enqueue(relay_ids)

    async def _write_collected(self, session: AsyncSession) -> None:
        if session.new or session.dirty or session.deleted:
            await session.flush()  # the ORM's own changes first, in the order they were made
        for statement, params in self._last_writes:
            await statement.rows(session, params)
        if self._audit_rows and self._outbox_rows and self._postgresql:
            combined = _combined(None, len(self._audit_rows), len(self._outbox_rows))
            if combined is not None:  # one round trip for both
                await combined.rows(session, self._rows_as_params())
                return
        await audit.INSERT.many(session, self._audit_rows)
        await outbox.INSERT.many(session, self._outbox_rows)

    @property
    def _postgresql(self) -> bool:
        return bool(self.runtime.engine.dialect.name == "postgresql")

    def _rows_as_params(self) -> dict[str, Any]:
        return {**prefixed(self._audit_rows, "a"), **prefixed(self._outbox_rows, "o")}

    async def claim(self, statement: HotStatement, params: dict[str, Any]) -> Sequence[Any] | None:
        """Run ``statement``, an ``INSERT … RETURNING`` that may insert nothing (a claim, such as a slot's
        appointment), in this unit of work; the audit and outbox rows collected so far then stand or fall
        with it: if it inserts nothing they are dropped (the work is being refused). Returns its first row.

        On PostgreSQL the claim and those rows are one statement (one round trip instead of three)."""
        session = self.session
        audit_rows, outbox_rows = self._audit_rows, self._outbox_rows
        combined = (
            _combined(statement, len(audit_rows), len(outbox_rows))
            if self._postgresql and (audit_rows or outbox_rows)
            else None
        )
        if combined is None:
            row = await statement.first(session, params)
            if row is None:
                audit_rows.clear()
                outbox_rows.clear()
            return row
        row = await combined.first(session, {**params, **self._rows_as_params()})
        if row is not None:
            self._written_outbox.extend(r["id"] for r in outbox_rows)
        audit_rows.clear()
        outbox_rows.clear()
        return row

    def before_commit(self, statement: HotStatement, params: dict[str, Any]) -> None:
        """Run ``statement`` with ``params`` as the last write before the commit (a result known only once
        the work is done, such as an idempotent request's answer); not at all if the work fails."""
        self._require_open()
        self._last_writes.append((statement, params))

    def fail(self) -> None:
        """Roll back at the end instead of committing (a typed business failure)."""
        self._failed = True

    @property
    def failed(self) -> bool:
        return self._failed

    def audit(self, action: str, **kwargs: Any) -> None:
        """Record ``action`` in the audit log; written with the unit of work's commit (``kwargs``: those of
        :func:`backend.audit.service.row`)."""
        self._require_open()
        self._audit_rows.append(audit.row(self.ctx, action, **kwargs))

    def emit(self, topic: str, payload: dict[str, Any]) -> uuid.UUID:
        """Queue a side effect that runs only if this unit of work commits."""
        self._require_open()
        message = outbox.row(topic, payload, request_id=self.ctx.request_id)
        self._outbox_rows.append(message)
        message_id: uuid.UUID = message["id"]
        return message_id
