"""The call record over GraphQL: a call opened, the operator's actions inside it taken from the audit trail,
closed with its outcome; the refusals; the supervisor's counts per hour and outcome."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.call_record import service
from backend.call_record.models import Call
from backend.core.context import RequestContext
from backend.runtime import Runtime
from tests.support.call_record import add_calls
from tests.support.client import gql
from tests.support.identity import auth_headers, make_patient, operator_token

pytestmark = pytest.mark.dialect

OPEN = """mutation($phone: String, $k: String!) { openCall(callerPhone: $phone, idempotencyKey: $k) {
  __typename ... on CallOpened { call { id callerPhone openedAt closedAt } }
  ... on InvalidInput { fields { field message } } ... on Problem { code message } } }"""
CLOSE = """mutation($c: UUID!, $o: CallOutcome!, $note: String, $k: String!) {
  closeCall(callId: $c, outcome: $o, note: $note, idempotencyKey: $k) {
    __typename ... on CallClosed { call { id patientId outcome outcomeLabel note durationSeconds
      actions { action label outcome outcomeLabel subjectId } } }
    ... on InvalidInput { fields { field message } } ... on Problem { code message } } }"""
CURRENT = "{ currentCall { id actions { action label } } }"
IDENTIFY = """mutation($b: Date!, $p: String) { openOnBehalfSession(birthDate: $b, omsPolicy: $p) {
  __typename ... on OnBehalfSession { accessToken } ... on Problem { code } } }"""
KPI = """query($a: Date!, $b: Date!) { callsKpi(dateFrom: $a, dateTo: $b) {
  total open averageDurationSeconds byHour { hour count } byOutcome { outcome label count } } }"""


async def _staff(runtime: Runtime) -> tuple[str, dict[str, str]]:
    operator = str(uuid.uuid4())
    return operator, auth_headers(await operator_token(runtime, operator_id=operator))


async def _call(client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any) -> Any:
    body = await gql(client, query, variables, headers=headers)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def _calls(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Call)) or 0)


async def test_a_call_keeps_the_operators_actions_and_outcome(runtime: Runtime, client: httpx.AsyncClient) -> None:
    operator, staff = await _staff(runtime)
    caller = await make_patient(runtime)
    opened = await _call(client, OPEN, staff, phone="8 (928) 000-11-22", k="open-1")
    call = opened["call"]
    assert (opened["__typename"], call["callerPhone"], call["closedAt"]) == ("CallOpened", "+79280001122", None)

    # The operator identifies the caller (once wrongly): both are the call's actions, read live while it is open.
    wrong = await _call(client, IDENTIFY, staff, b="1990-01-01", p=caller.oms_policy)
    assert wrong["code"] == "PATIENT_NOT_IDENTIFIED"
    right = await _call(client, IDENTIFY, staff, b=caller.birth_date.isoformat(), p=caller.oms_policy)
    assert right["__typename"] == "OnBehalfSession"
    live = await _call(client, CURRENT, staff)
    assert live["id"] == call["id"]
    assert "identity.on_behalf_opened" in [a["action"] for a in live["actions"]]

    runtime.adapters.clock = lambda: datetime.now(UTC) + timedelta(minutes=3)  # the call lasted three minutes
    closed = await _call(client, CLOSE, staff, c=call["id"], o="INFORMATION", note="Справка о графике", k="close-1")
    record = closed["call"]
    assert (closed["__typename"], record["outcome"], record["outcomeLabel"]) == (
        "CallClosed",
        "INFORMATION",
        "Дана справка",
    )
    assert record["patientId"] == str(caller.id) and record["note"] == "Справка о графике"
    assert 175 <= record["durationSeconds"] <= 185
    actions = record["actions"]
    # Each success once: the mutation's own row gives way to the domain's (the session opened, for the caller);
    # the refused attempt stays.
    opened_rows = [a for a in actions if a["label"] == "Оператор 122 открыл сеанс от вашего имени"]
    assert [(a["action"], a["outcome"]) for a in opened_rows if a["outcome"] == "ok"] == [
        ("identity.on_behalf_opened", "ok")
    ]
    assert ("identity.identification_failed", "Пациент не найден") in [
        (a["action"], a["outcomeLabel"]) for a in actions
    ]
    assert not {"openCall", "call_record.opened"} & {a["action"] for a in actions}
    assert await _call(client, CURRENT, staff) is None

    # A repeat of the close with its key answers the same; another close is refused.
    again = await _call(client, CLOSE, staff, c=call["id"], o="INFORMATION", k="close-1")
    assert again["call"]["actions"] == actions
    other = await _call(client, CLOSE, staff, c=call["id"], o="BOOKED", k="close-2")
    assert other["code"] == "CALL_ALREADY_CLOSED"
    assert operator  # the operator's id is the call's owner (checked by the refusals test)


async def test_refusals_change_nothing(runtime: Runtime, client: httpx.AsyncClient) -> None:
    _, staff = await _staff(runtime)
    _, stranger = await _staff(runtime)
    bad_phone = await _call(client, OPEN, staff, phone="12", k="k-0")
    assert bad_phone["fields"][0]["field"] == "callerPhone"
    assert await _calls(runtime) == 0

    first = (await _call(client, OPEN, staff, k="k-1"))["call"]
    assert (await _call(client, OPEN, staff, k="k-1"))["call"]["id"] == first["id"]  # the same key: the same call
    assert (await _call(client, OPEN, staff, k="k-2"))["code"] == "CALL_ALREADY_OPEN"
    # Another operator neither sees nor closes it.
    assert (await _call(client, CLOSE, stranger, c=first["id"], o="DROPPED", k="s-1"))["code"] == "CALL_NOT_FOUND"
    too_long = await _call(client, CLOSE, staff, c=first["id"], o="DROPPED", note="я" * 501, k="c-1")
    assert too_long["fields"][0]["field"] == "note"
    assert await _calls(runtime) == 1
    assert (await _call(client, CURRENT, staff))["id"] == first["id"]


async def test_the_supervisor_counts_calls_per_hour_and_outcome(runtime: Runtime, client: httpx.AsyncClient) -> None:
    operator, staff = await _staff(runtime)
    # Six calls from 09:00 UTC a quarter of an hour apart (the last still open), one the day before.
    await add_calls(runtime, operator, 6, at=datetime(2025, 3, 3, 9, tzinfo=UTC), open_last=True)
    await add_calls(runtime, operator, 1, at=datetime(2025, 3, 2, 9, tzinfo=UTC))
    kpi = await _call(client, KPI, staff, a="2025-03-03", b="2025-03-03")
    assert (kpi["total"], kpi["open"], kpi["averageDurationSeconds"]) == (6, 1, 240.0)
    assert [(h["hour"], h["count"]) for h in kpi["byHour"]] == [
        ("2025-03-03T09:00:00+00:00", 4),
        ("2025-03-03T10:00:00+00:00", 2),
    ]
    counts = {o["outcome"]: o["count"] for o in kpi["byOutcome"]}
    assert (counts["INFORMATION"], counts["BOOKED"], sum(counts.values())) == (3, 2, 5)
    too_long = await gql(client, KPI, {"a": "2025-01-01", "b": "2025-03-03"}, headers=staff)
    assert "31" in too_long["errors"][0]["message"]


CANDIDATES = """{ callerCandidates { __typename ... on CallerCandidates { phone message
  candidates { patientId shortName birthYear } } ... on Problem { code message } } }"""
BY_ID = """mutation($b: Date!, $id: UUID) { openOnBehalfSession(birthDate: $b, patientId: $id) {
  __typename ... on OnBehalfSession { patient { id shortName } } ... on Problem { code } } }"""


async def _lookups(runtime: Runtime) -> list[tuple[uuid.UUID | None, int]]:
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEvent.subject_id, AuditEvent.details).where(AuditEvent.action == "call_record.caller_lookup")
        )
        return sorted(((s, d["matches"]) for s, d in rows.all()), key=str)


async def test_the_caller_is_offered_by_the_number_of_the_call(runtime: Runtime, client: httpx.AsyncClient) -> None:
    _, staff = await _staff(runtime)
    # A mother and her son share the family phone; the console looks up only the number of an open call.
    mother = await make_patient(runtime, birth_date=date(1980, 2, 1))
    son = await make_patient(runtime, first_name="Иван", birth_date=date(2012, 6, 9), phone=mother.phone)
    assert (await _call(client, CANDIDATES, staff))["code"] == "NO_OPEN_CALL"
    await _call(client, OPEN, staff, phone=mother.phone, k="family")
    found = await _call(client, CANDIDATES, staff)
    assert found["__typename"] == "CallerCandidates" and found["phone"] == mother.phone
    assert [(c["patientId"], c["birthYear"]) for c in found["candidates"]] == [
        (str(mother.id), 1980),
        (str(son.id), 2012),
    ]
    assert "нескольких человек (2)" in found["message"]
    # Each person offered sees the lookup in their access log.
    assert await _lookups(runtime) == sorted([(mother.id, 2), (son.id, 2)], key=str)

    # Offered is not identified: the birth date the caller names must be the chosen person's.
    wrong = await _call(client, BY_ID, staff, b=mother.birth_date.isoformat(), id=str(son.id))
    assert wrong["code"] == "PATIENT_NOT_IDENTIFIED"
    right = await _call(client, BY_ID, staff, b=son.birth_date.isoformat(), id=str(son.id))
    assert right["__typename"] == "OnBehalfSession" and right["patient"]["id"] == str(son.id)
    closed = await _call(client, CLOSE, staff, c=(await _call(client, CURRENT, staff))["id"], o="INFORMATION", k="c")
    assert closed["call"]["patientId"] == str(son.id)
    done = [a["action"] for a in closed["call"]["actions"]]
    succeeded = [a["action"] for a in closed["call"]["actions"] if a["outcome"] == "ok"]
    assert succeeded.count("identity.on_behalf_opened") == 1 and "openOnBehalfSession" not in succeeded  # once
    assert done.count("call_record.caller_lookup") == 1  # one line for the lookup, whoever it offered


async def test_no_number_or_nobody_with_it_says_so_in_russian(runtime: Runtime, client: httpx.AsyncClient) -> None:
    _, staff = await _staff(runtime)
    _, other = await _staff(runtime)
    await _call(client, OPEN, staff, k="anonymous")
    unknown = await _call(client, CANDIDATES, staff)
    assert unknown["code"] == "CALLER_PHONE_UNKNOWN" and "полису" in unknown["message"]
    await _call(client, OPEN, other, phone="+7 999 000-00-01", k="nobody")
    nobody = await _call(client, CANDIDATES, other)
    assert nobody["candidates"] == [] and nobody["message"].startswith("С номером +79990000001 никто не найден")
    assert await _lookups(runtime) == [(None, 0)]
    one = await make_patient(runtime)
    await _call(client, CLOSE, other, c=(await _call(client, CURRENT, other))["id"], o="NOT_IDENTIFIED", k="n")
    await _call(client, OPEN, other, phone=one.phone, k="one")
    single = await _call(client, CANDIDATES, other)
    assert [c["shortName"] for c in single["candidates"]] == ["Тестова А. С."]
    assert "у одного человека" in single["message"]


async def test_closing_survives_a_write_committed_between_its_reads_and_its_write(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a transaction that reads and then writes failed at once («database is locked») when another
    connection committed in between (seen in the console's browser test under load); closing now takes the
    write lock first, and the other writer waits its turn. On PostgreSQL the row lock does it."""
    _, staff = await _staff(runtime)
    call = (await _call(client, OPEN, staff, k="open-race"))["call"]
    actions_since = service.actions_since
    other: list[asyncio.Task[None]] = []

    async def with_a_writer_in_between(*args: Any, **kwargs: Any) -> Any:
        ctx = RequestContext.for_system("test.writer")
        other.append(asyncio.create_task(audit.record_now(runtime.sessionmaker, ctx, "test.between")))
        await asyncio.sleep(0.3)  # time to commit, unless it must wait for the closing transaction's lock
        return await actions_since(*args, **kwargs)

    monkeypatch.setattr(service, "actions_since", with_a_writer_in_between)
    closed = await _call(client, CLOSE, staff, c=call["id"], o="INFORMATION", k="close-race")
    assert closed["__typename"] == "CallClosed", closed
    await asyncio.wait_for(other[0], 30)  # the other writer got its turn
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).where(AuditEvent.action == "test.between")) == 1


async def test_opening_survives_a_write_committed_between_its_reads_and_its_write(
    runtime: Runtime, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for openCall, whose reads (a repeated key, the operator's open call) come before its insert."""
    _, staff = await _staff(runtime)
    current = service.current
    other: list[asyncio.Task[None]] = []

    async def with_a_writer_in_between(*args: Any, **kwargs: Any) -> Any:
        ctx = RequestContext.for_system("test.writer")
        other.append(asyncio.create_task(audit.record_now(runtime.sessionmaker, ctx, "test.between")))
        await asyncio.sleep(0.3)
        return await current(*args, **kwargs)

    monkeypatch.setattr(service, "current", with_a_writer_in_between)
    opened = await _call(client, OPEN, staff, k="open-race")
    assert opened["__typename"] == "CallOpened", opened
    await asyncio.wait_for(other[0], 30)
    assert await _calls(runtime) == 1
