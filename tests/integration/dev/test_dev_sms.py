"""Issue 26, item 17: a development-only view of the SMS the simulators "sent"; none in production."""

from __future__ import annotations

import uuid

import pytest

from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.identity import codes, tokens
from backend.identity.service import memory_sms
from backend.runtime import Runtime
from backend.settings import Profile
from tests.support.client import app_client
from tests.support.identity import make_patient

pytestmark = pytest.mark.dialect

PHONE = "+79280007788"


async def _send_code(runtime: Runtime) -> str:
    patient = await make_patient(runtime)
    async with UnitOfWork(runtime, RequestContext.for_system("test")) as uow:
        await codes.send_code(
            uow,
            purpose="test",
            target_id=uuid.uuid4(),
            patient_id=patient.id,
            phone=PHONE,
            text="Код для входа: {code}",
            at=tokens.now(runtime),
        )
    await runtime.relay.drain()
    return memory_sms(runtime).last_code(PHONE)


async def test_the_sent_code_can_be_read_at_dev_sms(runtime: Runtime) -> None:
    code = await _send_code(runtime)
    async with app_client(runtime) as client:
        response = await client.get("/dev/sms")
    assert response.status_code == 200
    body = response.json()
    assert body["note"].startswith("Только для разработки")
    assert {"to": PHONE, "text": f"Код для входа: {code}", "source": "коды подтверждения", "at": None} in body[
        "messages"
    ]


async def test_production_has_no_dev_sms(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.model_copy(update={"profile": Profile.PRODUCTION}))
    async with app_client(runtime) as client:
        response = await client.get("/dev/sms")
    assert response.status_code == 404
