"""A mutation commits all or nothing, on PostgreSQL and SQLite; side effects follow only a commit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEvent
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support import testschema
from tests.support.client import app_client, gql

pytestmark = pytest.mark.dialect


async def _counts(runtime: Runtime) -> tuple[int, list[tuple[str, str]]]:
    async with runtime.sessionmaker() as session:
        outbox_rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
        audit = (await session.execute(select(AuditEvent.action, AuditEvent.outcome).order_by(AuditEvent.at))).all()
    return int(outbox_rows or 0), [(a, o) for a, o in audit]


async def test_exception_after_writing_leaves_nothing_committed(runtime: Runtime) -> None:
    testschema.DELIVERIES.clear()
    async with app_client(runtime, [testschema]) as client:
        body = await gql(client, 'mutation { writeThenRaise(note: "x") { outboxId } }')
        await runtime.relay.drain()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    outbox_rows, audit = await _counts(runtime)
    assert outbox_rows == 0
    # The business write and its audit row rolled back; only the failure itself is on record.
    assert audit == [("writeThenRaise", "error:RuntimeError")]
    assert not testschema.DELIVERIES


async def test_typed_failure_after_writing_leaves_nothing_committed(runtime: Runtime) -> None:
    testschema.DELIVERIES.clear()
    async with app_client(runtime, [testschema]) as client:
        body = await gql(
            client,
            'mutation { writeThenProblem(note: "x") { __typename ... on Problem { code message } } }',
        )
        await runtime.relay.drain()
    assert body["data"]["writeThenProblem"] == {
        "__typename": "WriteRefused",
        "code": "WRITE_REFUSED",
        "message": "Запись отклонена.",
    }
    outbox_rows, audit = await _counts(runtime)
    assert outbox_rows == 0
    assert audit == [("writeThenProblem", "WRITE_REFUSED")]
    assert not testschema.DELIVERIES


async def test_success_commits_audits_and_delivers_once(runtime: Runtime) -> None:
    testschema.DELIVERIES.clear()
    async with app_client(runtime, [testschema]) as client:
        body = await gql(client, 'mutation { writeOk(note: "ok") { outboxId } }')
        await runtime.relay.drain()
    assert "errors" not in body
    outbox_rows, audit = await _counts(runtime)
    assert outbox_rows == 1
    assert sorted(audit) == [("test.write", "ok"), ("writeOk", "ok")]
    assert list(testschema.DELIVERIES.values()) == [1]
