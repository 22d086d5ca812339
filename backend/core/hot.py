"""The fast paths, fenced off: what trades SQLAlchemy's generality for fewer round trips and less CPU.

* :class:`HotStatement`: a prebuilt Core statement run on the asyncpg driver inside the session's
  transaction (or alone, in autocommit), with SQLAlchemy's compiled SQL, bind processors and errors;
* the statement builders it runs: :func:`insert_all`, :func:`insert_or_skip`, :func:`with_inserts`
  (several writes as one PostgreSQL statement) and :func:`prefixed`;
* :func:`detached`: a mapped object of rows just written by a Core statement, without a load;
* the engine's autocommit twin and :func:`create_read_sessionmaker` (one read statement per session in
  autocommit on PostgreSQL);
* :func:`ping_idle`: a pre-ping only for pooled connections that sat idle.

Each has a plain path beside it (SQLite, or a SQLAlchemy whose asyncpg adapter changed), and the private
library attributes they rely on are spelled only in :mod:`backend.core.private_api`, which a unit test
checks against the installed versions. ``bench/README.md`` has what the fast paths save.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Insert,
    Table,
    bindparam,
    event,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.compiler import SQLCompiler

from backend.core.private_api import ADAPTER_EXECUTE_MUTEX, ADAPTER_START_TRANSACTION, ADAPTER_TRANSACTION
from backend.core.sqlite_writers import writer_turn

T = TypeVar("T")


#: A pooled connection idle for longer than this is pinged before it is handed out (see ping_idle).
PING_AFTER_IDLE_S = 5.0


def ping_idle(engine: AsyncEngine, after_s: float) -> None:
    """Pre-ping only the connections that sat idle in the pool for more than ``after_s`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout; on asyncpg that is three round trips (BEGIN,
    an empty statement, ROLLBACK) before each session's first statement, as much as a short read itself.
    What goes stale is a connection nobody used for a while (the server restarted, a proxy or firewall
    dropped it); one checked in a moment ago was just proven alive. A connection that dies while busy
    fails its statement, and SQLAlchemy then invalidates the pool, as it would with pre-ping too.
    Raising DisconnectionError from a checkout listener makes the pool replace the connection and retry.
    """
    dialect = engine.sync_engine.dialect

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= after_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    event.listen(engine.sync_engine, "checkin", on_checkin)
    event.listen(engine.sync_engine, "checkout", on_checkout)


def insert_or_skip(table: Table, *, where: ColumnElement[bool] | None = None) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` of every column (bound by name): a row that would break a unique
    index is skipped, and so is one for which ``where`` does not hold. PostgreSQL's construct; SQLite's
    compiler renders the same clause."""
    if where is None:
        return pg_insert(table).values(_all_bound(table)).on_conflict_do_nothing()
    row = select(*(bindparam(c.name, type_=c.type) for c in table.c)).where(where)
    return pg_insert(table).from_select([c.name for c in table.c], row).on_conflict_do_nothing()


def _all_bound(table: Table) -> dict[str, Any]:
    return {column.name: bindparam(column.name) for column in table.c}


def insert_all(table: Table) -> Insert:
    """``INSERT INTO table`` with every column a bound parameter of the column's name."""
    return insert(table).values(_all_bound(table))


def with_inserts(guard: Insert | None, inserts: Sequence[tuple[Table, str, int]]) -> ClauseElement:
    """One PostgreSQL statement for several writes (data-modifying CTEs): ``guard``, an ``INSERT …
    RETURNING`` that may insert nothing (a claim), and for each ``(table, prefix, n)`` ``n`` rows of
    ``table``, every column bound by name as ``{prefix}{i}_{column}``, inserted only if the guard inserted
    a row. It returns the guard's rows (without a guard: the rows are inserted unconditionally and it
    returns one row). All of it is one statement, so it is atomic even alone; SQLite has no such CTEs."""
    claim = guard.cte("mz_guard") if guard is not None else None
    ctes = []
    for table, prefix, n in inserts:
        for i in range(n):
            row = select(*(bindparam(f"{prefix}{i}_{c.name}", type_=c.type) for c in table.c))
            if claim is not None:
                row = row.select_from(claim)
            ctes.append(insert(table).from_select([c.name for c in table.c], row).cte(f"mz_{prefix}{i}"))
    final = select(*claim.c) if claim is not None else select(literal_column("1"))
    return final.add_cte(*ctes) if ctes else final


def prefixed(rows: Sequence[dict[str, Any]], prefix: str) -> dict[str, Any]:
    """The parameters of ``rows`` for :func:`with_inserts` (``{prefix}{i}_{column}``)."""
    return {f"{prefix}{i}_{name}": value for i, row in enumerate(rows) for name, value in row.items()}


_DRIVER_KEY = "mz.hot_driver"


@event.listens_for(Session, "after_transaction_end")
def _forget_driver(session: Session, transaction: SessionTransaction) -> None:
    """The driver connection a session's transaction ran on is not the session's once it ends."""
    if transaction.parent is None:
        session.info.pop(_DRIVER_KEY, None)


@dataclass(frozen=True)
class _DriverForm:
    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # positional: (name, bind processor)
    defaults: dict[str, Any]

    def args(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.defaults, **params} if self.defaults else params
        return [values[name] if processor is None else processor(values[name]) for name, processor in self.binds]


class HotStatement:
    """A Core statement for a hot path: compiled once, run with parameters in the session's transaction.

    On asyncpg, once the transaction has begun, it runs on the driver connection itself with SQLAlchemy's
    own compiled SQL and bind processors, skipping SQLAlchemy's per-statement execution layer (what that
    saves: ``bench/README.md``). The transaction's first statement begins it through SQLAlchemy's own
    adapter (the same BEGIN, the adapter's state, see :func:`_begin_on_adapter`) and runs on the driver
    as well. Elsewhere (SQLite, or an adapter without that method) it runs through SQLAlchemy. Rows are
    the driver's (index them by position); driver values are what SQLAlchemy's types give for UUID,
    timestamptz, text, numbers and booleans, so only those column types are fit to be returned.
    Integrity errors are raised as SQLAlchemy's :class:`~sqlalchemy.exc.IntegrityError` on both paths.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[Dialect, _DriverForm] = {}

    def _form(self, dialect: Dialect) -> _DriverForm:
        form = self._forms.get(dialect)
        if form is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            names = tuple(compiled.positiontup or ())
            binds = compiled.binds
            form = _DriverForm(
                sql=compiled.string,
                binds=tuple((n, binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names),
                defaults={n: binds[n].value for n in names if binds[n].value is not None},
            )
            self._forms[dialect] = form
        return form

    async def _driver(self, session: AsyncSession) -> tuple[Any, Dialect, Any]:
        known = session.info.get(_DRIVER_KEY)
        if known is not None:
            return known
        connection = await session.connection()
        dialect = connection.dialect
        if dialect.driver != "asyncpg":
            return connection, dialect, None
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is None:
            return connection, dialect, None
        if not driver.is_in_transaction() and not await _begin_on_adapter(raw.dbapi_connection):
            return connection, dialect, None  # this statement goes through SQLAlchemy, which sends BEGIN
        session.info[_DRIVER_KEY] = found = (connection, dialect, driver)
        return found

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """The rows the statement returns (none for a statement without RETURNING)."""
        connection, dialect, driver = session.info.get(_DRIVER_KEY) or await self._driver(session)
        if driver is None:
            result = await connection.execute(self.statement, params)
            return result.all() if result.returns_rows else []
        form = self._forms.get(dialect) or self._form(dialect)
        args = form.args(params)
        try:
            return await driver.fetch(form.sql, *args)
        except Exception as exc:
            raise _translated(exc, form.sql, args) from exc

    async def first(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Any] | None:
        found = await self.rows(session, params)
        return found[0] if found else None

    async def many(self, session: AsyncSession, params: Sequence[dict[str, Any]]) -> None:
        """Run the statement once per parameter set (asyncpg pipelines them: one round trip)."""
        if not params:
            return
        if len(params) == 1:
            await self.rows(session, params[0])
            return
        connection, dialect, driver = session.info.get(_DRIVER_KEY) or await self._driver(session)
        if driver is None:
            await connection.execute(self.statement, list(params))
            return
        form = self._forms.get(dialect) or self._form(dialect)
        args = [form.args(p) for p in params]
        try:
            await driver.executemany(form.sql, args)
        except Exception as exc:
            raise _translated(exc, form.sql, args) from exc

    async def alone(
        self, sessionmaker: async_sessionmaker[AsyncSession], params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """Run the statement on its own, outside any unit of work, committed by itself: a read that needs no
        snapshot shared with others, an audit row of a read or of a failure, a refusal kept for an
        idempotency key. One statement is atomic alone, so on asyncpg it runs in autocommit on the driver:
        one round trip instead of BEGIN, it, COMMIT. Returns its rows."""
        engine = sessionmaker.kw["bind"]
        if engine.dialect.driver != "asyncpg":
            async with writer_turn(engine), engine.begin() as connection:
                result = await connection.execute(self.statement, params)
                return result.all() if result.returns_rows else []
        form = self._forms.get(engine.dialect) or self._form(engine.dialect)
        args = form.args(params)
        async with _autocommit(engine).connect() as connection:
            driver: Any = (await connection.get_raw_connection()).driver_connection
            try:
                return await driver.fetch(form.sql, *args)
            except Exception as exc:
                raise _translated(exc, form.sql, args) from exc


async def _begin_on_adapter(adapter: Any) -> bool:
    """Begin the transaction of SQLAlchemy's asyncpg adapter as its first statement would (the same BEGIN,
    the adapter's own state, so that its commit and rollback end it), so that the transaction's first
    statement runs on the driver too. The adapter's method is private: without it (another SQLAlchemy),
    False, and SQLAlchemy begins with the statement."""
    start = getattr(adapter, ADAPTER_START_TRANSACTION, None)
    mutex = getattr(adapter, ADAPTER_EXECUTE_MUTEX, None)
    if start is None or mutex is None or getattr(adapter, ADAPTER_TRANSACTION, False) is not None:
        return False
    async with mutex:
        await start()
    return getattr(adapter, ADAPTER_TRANSACTION, None) is not None


_AUTOCOMMIT: weakref.WeakKeyDictionary[Any, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine's autocommit twin (same pool), made once."""
    twin = _AUTOCOMMIT.get(engine.sync_engine)
    if twin is None:
        twin = _AUTOCOMMIT[engine.sync_engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return twin


def _translated(exc: Exception, sql: str, args: Any) -> Exception:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, args, exc)
    return exc


def detached(cls: type[T], values: dict[str, Any]) -> T:
    """A mapped object of rows just written with a Core statement (``values``: every column): detached,
    with its identity, as if loaded from the database (as the ORM's loader does, the values go straight
    into the instance's dictionary, without attribute events). No session tracks it."""
    instance: T = manager_of_class(cls).new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance


class ReadOnlySession(Session):
    """A session that refuses to flush changes: the sessions of :func:`create_read_sessionmaker`."""

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read session does not write; use a unit of work")
        super().flush(objects)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for one read statement each, such as a DataLoader batch.

    On PostgreSQL they run in autocommit, so a single SELECT is one round trip instead of three (BEGIN,
    the SELECT, ROLLBACK). One statement sees what a READ COMMITTED transaction would show it, so a
    single-statement read loses nothing; several statements in one such session see no common snapshot
    (use the ordinary sessionmaker for those). They never write. SQLite keeps its explicit transactions.
    """
    bind = engine if engine.dialect.name == "sqlite" else _autocommit(engine)
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, sync_session_class=ReadOnlySession)
