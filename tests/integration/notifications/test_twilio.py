"""Twilio: delivery reports through our signed webhook; a forged report is refused and changes nothing;
an unknown outcome is settled by the report instead of a second SMS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import backend.app
from integrations.sms.twilio import SIGNATURE_HEADER, compute_twilio_signature
from notifications import delivery
from notifications.channels import twilio_callback_url
from notifications.models import MessageStatus
from tests.support.client import app_client
from tests.support.notifications import (
    PHONE,
    CrashingGateway,
    Rig,
    attempts,
    emit,
    messages,
    notification_rig,
    swap_gateway,
    with_phone,
)

pytestmark = pytest.mark.dialect


@pytest.fixture
async def rig(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    async with notification_rig(
        database_url, redis_url, tmp_path, sms_provider="twilio", notify_reconcile_grace_s=300
    ) as rig:
        yield rig


async def test_delivery_reports_arrive_through_the_signed_webhook(rig: Rig) -> None:
    patient = await with_phone(rig.runtime)
    await emit(rig.runtime, patient)
    [row] = await messages(rig.runtime, patient, "sms")
    assert (row.status, row.provider) == (MessageStatus.SENT, "twilio")
    [sms] = rig.sms_to(PHONE)
    assert sms.status_callback == twilio_callback_url(rig.runtime.settings, row.id)
    await rig.advance(seconds=5)
    assert [c.params["MessageStatus"] for c in rig.state.callbacks] == ["sent", "delivered"]
    assert all(c.error is None for c in rig.state.callbacks)  # our handler accepted both
    [row] = await messages(rig.runtime, patient, "sms")
    assert (row.status, row.provider_status) == (MessageStatus.DELIVERED, "delivered")


async def test_killed_after_twilio_accepted_is_settled_by_the_report_not_resent(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    swap_gateway(rig, CrashingGateway)
    await emit(runtime, patient)
    [row] = await messages(runtime, patient, "sms")
    assert (row.status, row.provider_id) == (MessageStatus.SENDING, None)  # we never learnt the sid
    swap_gateway(rig, lambda inner: inner)

    await rig.advance(seconds=1)  # Twilio's "sent" report names our message id in its URL
    [row] = await messages(runtime, patient, "sms")
    [sms] = rig.sms_to(PHONE)
    assert (row.status, row.provider_id) == (MessageStatus.SENT, sms.sid)
    [attempt] = await attempts(runtime, row.id)
    assert (attempt.outcome, attempt.provider_id) == ("reconciled", sms.sid)

    await rig.advance(seconds=runtime.settings.notify_reconcile_grace_s + 1)
    await delivery.tick(runtime)
    assert len(rig.sms_to(PHONE)) == 1
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.DELIVERED


async def test_unknown_outcome_waits_for_the_report_before_resending(rig: Rig) -> None:
    runtime = rig.runtime
    patient = await with_phone(runtime)
    swap_gateway(rig, lambda inner: CrashingGateway(inner, before=True))  # the request never left
    await emit(runtime, patient)
    swap_gateway(rig, lambda inner: inner)
    await rig.advance(seconds=runtime.settings.notify_send_lease_s + 1)
    await delivery.tick(runtime)  # lease over, but a report could still come: wait
    assert rig.sms_to(PHONE) == []
    [row] = await messages(runtime, patient, "sms")
    assert row.status == MessageStatus.SENDING
    await rig.advance(seconds=runtime.settings.notify_reconcile_grace_s)
    await delivery.tick(runtime)
    assert len(rig.sms_to(PHONE)) == 1
    assert [a.outcome for a in await attempts(runtime, row.id)] == ["not_sent", "accepted"]


async def test_forged_callback_is_refused_and_changes_nothing(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend.app, "REST_MODULES", ("notifications.routes",))
    runtime = rig.runtime
    settings = runtime.settings
    patient = await with_phone(runtime)
    await emit(runtime, patient)
    [row] = await messages(runtime, patient, "sms")
    url = twilio_callback_url(settings, row.id)
    path = url.removeprefix(settings.public_url)
    params = {
        "AccountSid": settings.twilio_account_sid,
        "MessageSid": row.provider_id or "",
        "MessageStatus": "failed",
        "ErrorCode": "30008",
    }
    good = compute_twilio_signature(settings.twilio_auth_token, url, params)
    async with app_client(runtime) as client:
        forged = await client.post(
            path, data=params, headers={SIGNATURE_HEADER: compute_twilio_signature("attacker", url, params)}
        )
        unsigned = await client.post(path, data=params)
        elsewhere = compute_twilio_signature(settings.twilio_auth_token, "https://evil.example/hook", params)
        replayed_elsewhere = await client.post(path, data=params, headers={SIGNATURE_HEADER: elsewhere})
        tampered = await client.post(
            path, data={**params, "MessageStatus": "delivered"}, headers={SIGNATURE_HEADER: good}
        )
        assert [r.status_code for r in (forged, unsigned, replayed_elsewhere, tampered)] == [403, 403, 403, 403]
        [unchanged] = await messages(runtime, patient, "sms")
        assert (unchanged.status, unchanged.updated_at) == (MessageStatus.SENT, row.updated_at)

        genuine = await client.post(path, data=params, headers={SIGNATURE_HEADER: good})
        assert genuine.status_code == 204
        [failed] = await messages(runtime, patient, "sms")
        assert failed.status == MessageStatus.FAILED
        assert "30008" in (failed.last_error or "")

        again = await client.post(path, data=params, headers={SIGNATURE_HEADER: good})
        late = {**params, "MessageStatus": "sent"}
        late_signed = await client.post(
            path, data=late, headers={SIGNATURE_HEADER: compute_twilio_signature(settings.twilio_auth_token, url, late)}
        )
        assert (again.status_code, late_signed.status_code) == (204, 204)
    [still] = await messages(runtime, patient, "sms")
    assert (still.status, still.final_at) == (MessageStatus.FAILED, failed.final_at)  # never moves back
