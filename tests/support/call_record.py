"""Builders for the call record's tests: calls as the service writes them, and the operator's audited actions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from backend.audit.models import AuditEvent
from backend.call_record.models import Call
from backend.runtime import Runtime
from tests.support.identity import auth_headers, make_patient, operator_token
from tests.support.statements import Setup

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
_ACTION = [{"at": AT.isoformat(), "action": "bookAppointment", "outcome": "ok"}]


async def add_calls(
    runtime: Runtime, operator_id: str, count: int, *, at: datetime = AT, open_last: bool = False, actions: int = 0
) -> list[uuid.UUID]:
    """``count`` calls of ``operator_id`` a quarter of an hour apart (closed, the last one open if
    ``open_last``), and ``actions`` audited actions of the operator after the last opening."""
    ids = []
    async with runtime.sessionmaker() as session, session.begin():
        for i in range(count):
            opened = at + timedelta(minutes=15 * i)
            closed = None if open_last and i == count - 1 else opened + timedelta(minutes=4)
            call = Call(
                id=uuid.uuid4(),
                operator_id=operator_id,
                caller_phone="+79001234567",
                opened_at=opened,
                audit_from=opened,
                closed_at=closed,
                outcome=None if closed is None else ("booked" if i % 2 else "information"),
                actions=_ACTION if closed else [],
                open_key=uuid.uuid4().hex,
            )
            session.add(call)
            ids.append(call.id)
        last = at + timedelta(minutes=15 * (count - 1))
        for j in range(actions):
            session.add(
                AuditEvent(
                    id=uuid.uuid4(),
                    at=last + timedelta(seconds=j + 1),
                    actor_kind="operator",
                    actor_id=operator_id,
                    subject_id=uuid.uuid4(),
                    channel="callcentre",
                    action="bookAppointment",
                )
            )
    return ids


async def _two_operators(runtime: Runtime) -> tuple[str, str, dict[str, str], dict[str, str]]:
    one, many = str(uuid.uuid4()), str(uuid.uuid4())
    return (
        one,
        many,
        auth_headers(await operator_token(runtime, operator_id=one)),
        auth_headers(await operator_token(runtime, operator_id=many)),
    )


async def current_call_scenario(runtime: Runtime) -> Setup:
    """An open call with one action, and one with five (statement counts)."""
    one, many, one_headers, many_headers = await _two_operators(runtime)
    await add_calls(runtime, one, 1, open_last=True, actions=1)
    await add_calls(runtime, many, 1, open_last=True, actions=5)
    return {}, {}, one_headers, many_headers


async def recent_calls_scenario(runtime: Runtime) -> Setup:
    one, many, one_headers, many_headers = await _two_operators(runtime)
    await add_calls(runtime, one, 1)
    await add_calls(runtime, many, 5)
    return {"first": 10}, {"first": 10}, one_headers, many_headers


async def calls_kpi_scenario(runtime: Runtime) -> Setup:
    operator = str(uuid.uuid4())
    await add_calls(runtime, operator, 1, at=datetime(2025, 2, 10, 9, tzinfo=UTC))
    await add_calls(runtime, operator, 6, at=datetime(2025, 3, 3, 9, tzinfo=UTC), open_last=True)
    few = {"dateFrom": "2025-02-10", "dateTo": "2025-02-10"}
    more = {"dateFrom": "2025-03-03", "dateTo": "2025-03-03"}
    return few, more, auth_headers(await operator_token(runtime, operator_id=operator))


async def caller_candidates_scenario(runtime: Runtime) -> Setup:
    """An open call from a number one person has, and one from a number five people share (statement counts:
    the same whatever the matches, the audit rows of all of them in one INSERT)."""
    one, many, one_headers, many_headers = await _two_operators(runtime)
    shared = f"+7900{uuid.uuid4().int % 10_000_000:07d}"
    single = f"+7901{uuid.uuid4().int % 10_000_000:07d}"
    await make_patient(runtime, phone=single)
    for _ in range(5):
        await make_patient(runtime, phone=shared)
    for operator, phone in ((one, single), (many, shared)):
        [call_id] = await add_calls(runtime, operator, 1, open_last=True)
        async with runtime.sessionmaker() as session, session.begin():
            call = await session.get(Call, call_id)
            assert call is not None
            call.caller_phone = phone
    return {}, {}, one_headers, many_headers
