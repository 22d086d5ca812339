"""Hot statements run in the session's transaction on both dialects, with SQLAlchemy's types and errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from backend.audit.models import AuditEvent
from backend.core.context import RequestContext
from backend.core.db import _DRIVER_KEY, HotStatement, insert_all, insert_or_skip
from backend.core.uow import UnitOfWork
from backend.identity.models import Patient
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support import testschema

pytestmark = pytest.mark.dialect

PATIENTS: Table = Patient.__table__  # type: ignore[assignment]
INSERT = HotStatement(insert_all(PATIENTS))
INSERT_OR_SKIP = HotStatement(insert_or_skip(PATIENTS).returning(PATIENTS.c.id))
BORN = HotStatement(select(PATIENTS.c.birth_date, PATIENTS.c.created_at).where(PATIENTS.c.id == bindparam("id")))


def _patient(**overrides: object) -> dict[str, object]:
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    values: dict[str, object] = {column.name: None for column in PATIENTS.c}
    values.update(
        id=uuid.uuid4(),
        last_name="Петрова",
        first_name="Анна",
        birth_date=datetime(1980, 5, 17).date(),
        sex="F",
        oms_policy=f"{uuid.uuid4().int % 10**16:016d}",
        created_at=at,
        updated_at=at,
    )
    values.update(overrides)
    return values


async def _count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Patient)) or 0)


async def test_statements_share_the_transaction_and_roll_back_with_it(runtime: Runtime) -> None:
    kept, dropped = _patient(), _patient()
    async with runtime.sessionmaker() as session, session.begin():
        await INSERT.rows(session, kept)  # the first statement begins the transaction (on asyncpg: on the driver)
        assert (session.info.get(_DRIVER_KEY) is not None) is (session.get_bind().dialect.driver == "asyncpg")
        row = await BORN.first(session, {"id": kept["id"]})  # then on the driver, in the same transaction
        assert row is not None and row[0] == kept["birth_date"] and row[1] == kept["created_at"]
        on_driver = session.info.get(_DRIVER_KEY) is not None
        assert on_driver is (session.get_bind().dialect.driver == "asyncpg")
    assert _DRIVER_KEY not in session.info  # forgotten when the transaction ended
    async with runtime.sessionmaker() as session:
        await INSERT.rows(session, dropped)
        await session.rollback()
    assert await _count(runtime) == 1


async def test_a_skipped_insert_returns_nothing_and_a_unique_violation_is_an_integrity_error(
    runtime: Runtime,
) -> None:
    first = _patient()
    async with runtime.sessionmaker() as session, session.begin():
        assert await INSERT_OR_SKIP.first(session, first) is not None
        assert await INSERT_OR_SKIP.first(session, {**first, "id": uuid.uuid4()}) is None  # same policy
    async with runtime.sessionmaker() as session, session.begin():
        await BORN.first(session, {"id": first["id"]})
        with pytest.raises(IntegrityError):
            await INSERT.rows(session, {**first, "id": uuid.uuid4()})
    assert await _count(runtime) == 1


async def test_many_writes_every_row(runtime: Runtime) -> None:
    rows = [_patient() for _ in range(3)]
    async with runtime.sessionmaker() as session, session.begin():
        await BORN.first(session, {"id": uuid.uuid4()})
        await INSERT.many(session, rows)
        await INSERT.many(session, [])
    assert await _count(runtime) == 3


async def test_a_unit_of_work_that_touches_nothing_makes_no_session(runtime: Runtime) -> None:
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        pass
    assert uow.committed and uow._session is None


async def test_collected_audit_and_outbox_rows_commit_with_the_unit_of_work_or_not_at_all(runtime: Runtime) -> None:
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        uow.audit("test.kept", details={"n": 1})
        message_id = uow.emit(testschema.TOPIC, {"note": "kept"})
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        uow.audit("test.dropped")
        uow.emit(testschema.TOPIC, {"note": "dropped"})
        uow.fail()
    await runtime.relay.drain()
    async with runtime.sessionmaker() as session:
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("test.%")))).all()
        message = await session.get(OutboxMessage, message_id)
        total = await session.scalar(select(func.count()).select_from(OutboxMessage))
        details = await session.scalar(select(AuditEvent.details).where(AuditEvent.action == "test.kept"))
    assert actions == ["test.kept"]
    assert details == {"n": 1}
    assert message is not None and message.payload == {"note": "kept"} and total == 1


async def test_alone_commits_one_statement_by_itself_and_keeps_integrity_errors(runtime: Runtime) -> None:
    first = _patient()
    await INSERT.alone(runtime.sessionmaker, first)
    assert await _count(runtime) == 1
    with pytest.raises(IntegrityError):
        await INSERT.alone(runtime.sessionmaker, {**first, "id": uuid.uuid4()})  # the same policy
    await INSERT_OR_SKIP.alone(runtime.sessionmaker, {**first, "id": uuid.uuid4()})  # skipped, no error
    assert await _count(runtime) == 1


async def _actions_and_messages(runtime: Runtime) -> tuple[list[str], list[dict[str, object]]]:
    async with runtime.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("test.%")).order_by(AuditEvent.action)
            )
        ).all()
        payloads = (await session.scalars(select(OutboxMessage.payload))).all()
    return list(actions), sorted(payloads, key=str)


async def test_a_claim_writes_the_rows_collected_before_it_only_if_it_inserts(runtime: Runtime) -> None:
    first = _patient()
    testschema.DELIVERIES.clear()
    # The claim inserts: its audit and outbox rows (collected before it) are written with it, and the
    # rows collected after it with the commit; the outbox rows are relayed once committed.
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        uow.audit("test.claimed", details={"n": 1})
        uow.audit("test.claimed_too")
        uow.emit(testschema.TOPIC, {"note": "with the claim"})
        claimed = await uow.claim(INSERT_OR_SKIP, first)
        assert claimed is not None and claimed[0] == first["id"]
        uow.audit("test.after")
        uow.emit(testschema.TOPIC, {"note": "after the claim"})
    await runtime.relay.drain()
    assert await _actions_and_messages(runtime) == (
        ["test.after", "test.claimed", "test.claimed_too"],
        [{"note": "after the claim"}, {"note": "with the claim"}],
    )
    assert sorted(testschema.DELIVERIES.values()) == [1, 1]
    # The same claim again (the policy is unique): nothing is inserted, and the rows it carried are dropped.
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        uow.audit("test.refused")
        uow.emit(testschema.TOPIC, {"note": "refused"})
        assert await uow.claim(INSERT_OR_SKIP, {**first, "id": uuid.uuid4()}) is None
    assert await _actions_and_messages(runtime) == (
        ["test.after", "test.claimed", "test.claimed_too"],
        [{"note": "after the claim"}, {"note": "with the claim"}],
    )
    assert await _count(runtime) == 1


async def test_a_claim_that_succeeded_rolls_back_with_its_rows_when_the_work_fails(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError):
        async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
            uow.audit("test.claimed")
            uow.emit(testschema.TOPIC, {"note": "with the claim"})
            assert await uow.claim(INSERT_OR_SKIP, _patient()) is not None
            raise RuntimeError("the hub refused after the claim")
    await runtime.relay.drain()
    assert await _actions_and_messages(runtime) == ([], [])
    assert await _count(runtime) == 0


async def test_orm_work_after_a_first_hot_statement_shares_its_transaction(runtime: Runtime) -> None:
    """A transaction a hot statement began (on asyncpg, through the adapter) is the ORM's too: its
    flushes join it, its commit ends it, its rollback undoes both."""
    kept, orm_kept = _patient(), _patient()
    async with runtime.sessionmaker() as session, session.begin():
        await INSERT.rows(session, kept)
        session.add(Patient(**orm_kept))
        await session.flush()
        assert await BORN.first(session, {"id": orm_kept["id"]}) is not None  # the ORM's row, same transaction
    assert await _count(runtime) == 2
    async with runtime.sessionmaker() as session:
        await INSERT.rows(session, _patient())
        session.add(Patient(**_patient()))
        await session.flush()
        await session.rollback()
    assert await _count(runtime) == 2
