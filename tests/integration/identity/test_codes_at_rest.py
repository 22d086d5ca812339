"""Issue 26, item 17: a one-time code does not stay in clear text in the outbox once it is sent."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import codes, tokens
from backend.identity.service import SMS_TOPIC, memory_sms
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support.identity import make_patient

pytestmark = pytest.mark.dialect

PHONE = "+79280005566"


async def test_the_sms_code_is_blanked_in_the_outbox_once_sent(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        await codes.send_code(
            uow,
            purpose="test",
            target_id=uuid.uuid4(),
            patient_id=patient.id,
            phone=PHONE,
            text="Код подтверждения: {code}",
            at=tokens.now(runtime),
        )
    await runtime.relay.drain()
    code = memory_sms(runtime).last_code(PHONE)  # the SMS went out with the code
    async with runtime.sessionmaker() as session:
        row = (await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == SMS_TOPIC))).one()
    assert row.dispatched_at is not None
    assert code not in str(row.payload)
    assert row.payload["phone"] == PHONE  # what is no secret stays for investigations
