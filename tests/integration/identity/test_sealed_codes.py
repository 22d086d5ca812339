"""An SMS code is never in clear text in the database: the outbox row keeps the message sealed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from backend.identity.service import memory_sms
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, operator_token

pytestmark = pytest.mark.dialect

OPEN = """mutation($b: Date!, $p: String) {
  openOnBehalfSession(birthDate: $b, omsPolicy: $p, sendSmsCode: true) {
    __typename ... on OnBehalfSession { smsCodeSent }
  }
}"""


async def test_the_sent_code_is_not_in_the_outbox_row(runtime: Runtime) -> None:
    caller = await make_patient(runtime, birth_date=date(1966, 6, 6), phone="+79280003344")
    async with identity_client(runtime) as client:
        opened = await gql(
            client,
            OPEN,
            {"b": "1966-06-06", "p": caller.oms_policy},
            headers=auth_headers(await operator_token(runtime)),
        )
    assert opened["data"]["openOnBehalfSession"]["smsCodeSent"] is True
    await runtime.relay.drain()
    code = memory_sms(runtime).last_code("+79280003344")  # the SMS went out, with its code
    async with runtime.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "identity.sms_code"))).all()
    assert len(rows) == 1 and rows[0].dispatched_at is not None
    assert code not in str(rows[0].payload)
    assert "+79280003344" in str(rows[0].payload)
