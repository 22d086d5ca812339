"""The inbox live feed: the bus carries the stored item itself, so a delivery reads nothing; a subscriber
receives only its own patient's items; the subscription needs an authenticated patient (or someone
allowed to act for them).

Subscriptions run in this event loop through the app's schema, with the context a websocket connection
gets after ``connection_init`` (as in the authorization matrix)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from backend.api.loaders import LoaderRegistry
from backend.api.schema import Schema, build_schema
from backend.core.context import Actor, RequestContext
from backend.identity import authn
from backend.runtime import Runtime
from notifications.channels import InboxEvent, InProcessInboxBus
from notifications.models import InboxItem
from notifications.service import plan
from tests.support.identity import make_patient, token_for
from tests.support.statements import counting_statements

pytestmark = pytest.mark.dialect

QUERY = "subscription { inboxItemAdded { id event title text createdAt read } }"


async def _subscribe(runtime: Runtime, schema: Schema, token: str | None) -> AsyncGenerator[Any, None]:
    actor, session_id = await authn.authenticate_token(token, runtime) if token else (Actor.anonymous(), None)
    context = authn.IdentityContext(
        runtime=runtime,
        ctx=RequestContext(actor=actor, request_id=uuid.uuid4().hex),
        loaders=LoaderRegistry(),
        session_id=session_id,
    )
    stream = await schema.subscribe(QUERY, context_value=context)
    assert isinstance(stream, AsyncGenerator)
    return stream


async def _listening(bus: Any, patient: uuid.UUID, stream: AsyncGenerator[Any, None]) -> asyncio.Future[Any]:
    """Start the subscription and return its first result once the bus holds it."""
    first = asyncio.ensure_future(anext(stream))
    for _ in range(500):
        if bus.subscriber_count(patient) or first.done():
            break
        await asyncio.sleep(0.01)
    return first


@pytest.fixture
def bus(runtime: Runtime) -> InProcessInboxBus:
    in_process = InProcessInboxBus()
    runtime.adapters.inbox_bus = in_process
    return in_process


async def test_a_new_item_reaches_its_subscriber_as_stored_without_a_database_read(
    runtime: Runtime, bus: InProcessInboxBus
) -> None:
    schema = build_schema(runtime.settings)
    patient = (await make_patient(runtime)).id
    stream = await _subscribe(runtime, schema, token_for(runtime, patient))
    try:
        first = await _listening(bus, patient, stream)
        delivered_before_plan = first.done()
        result = await plan(
            runtime,
            patient_id=patient,
            event="policy.updated",
            data={"insurer": "СМО Тест"},
            urgent=False,
            dedupe_key="policy:live",
        )
        # The delivery itself: the bus hands the published item to the resolver, which reads nothing.
        with counting_statements(runtime) as statements:
            received = await first
        assert statements == []
    finally:
        await stream.aclose()
    assert not delivered_before_plan
    assert not received.errors
    async with runtime.sessionmaker() as session:
        row = (await session.scalars(select(InboxItem).where(InboxItem.id == result.inbox_item))).one()
    assert received.data["inboxItemAdded"] == {
        "id": str(row.id),
        "event": row.event,
        "title": row.title,
        "text": row.body,
        "createdAt": row.created_at.astimezone(UTC).isoformat(),
        "read": False,
    }


async def test_a_subscriber_receives_only_its_own_patients_items(runtime: Runtime, bus: InProcessInboxBus) -> None:
    schema = build_schema(runtime.settings)
    mine, other = (await make_patient(runtime)).id, (await make_patient(runtime)).id
    stream = await _subscribe(runtime, schema, token_for(runtime, mine))
    at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    others_item = InboxEvent(id=uuid.uuid4(), patient_id=other, event="e", title="чужое", text="чужое", created_at=at)
    my_item = InboxEvent(id=uuid.uuid4(), patient_id=mine, event="e", title="моё", text="моё", created_at=at)
    try:
        first = await _listening(bus, mine, stream)
        await bus.publish(others_item)
        await bus.publish(my_item)
        received = await first  # the first item this subscriber gets is its own: the other's never came
    finally:
        await stream.aclose()
    assert received.data["inboxItemAdded"]["id"] == str(my_item.id)


async def test_the_subscription_needs_an_authenticated_patient(runtime: Runtime, bus: InProcessInboxBus) -> None:
    schema = build_schema(runtime.settings)
    stream = await _subscribe(runtime, schema, None)
    try:
        refused = await anext(stream)
    finally:
        await stream.aclose()
    assert refused.data is None
    assert [e.extensions["code"] for e in refused.errors] == ["NOT_AUTHENTICATED"]
    assert bus._subscribers == {}  # nothing was subscribed


def test_an_inbox_event_survives_the_wire_unchanged() -> None:
    item = InboxEvent(
        id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        event="appointment.reminder",
        title="Напоминание о приёме",
        text="Завтра в 09:30 — терапевт, каб. 12.",
        created_at=datetime(2025, 3, 1, 6, 30, 15, 123456, tzinfo=UTC),
    )
    assert InboxEvent.decode(item.encode()) == item
    with pytest.raises(ValueError):
        InboxEvent.decode(str(item.id))  # the bare item id an older node published is not an event
