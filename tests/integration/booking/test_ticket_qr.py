"""The ticket's QR code names a page that answers: whether the appointment stands, when and where (no
patient's name), and a Russian «not found» for anything else."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from backend.booking import schema, ticket
from tests.support.booking import BOOK, CANCEL, BookingEnv, call, env, key
from tests.support.client import app_client
from tests.support.identity import auth_headers, token_for

pytestmark = pytest.mark.dialect
_ = env  # the fixture


async def test_the_tickets_qr_code_resolves(env: BookingEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = env.runtime
    patient = await env.patient(0)
    headers = auth_headers(token_for(rt, patient.id))
    printed: list[ticket.TicketData] = []
    real = ticket.render_ticket

    def spy(data: ticket.TicketData, **kwargs: Any) -> bytes:
        printed.append(data)
        return real(data, **kwargs)

    monkeypatch.setattr(ticket, "render_ticket", spy)
    async with app_client(rt, [schema]) as client:
        booked = await call(client, BOOK, headers, slot=(await env.slot_refs())[0], key=key())
        appointment = booked["appointment"]
        pdf = await client.get(appointment["ticketUrl"], headers=headers)
        assert pdf.status_code == 200
        check = urlsplit(printed[0].verify_url).path

        page = await client.get(check)  # scanned: no token
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Запись действительна" in page.text and "кабинет 101" in page.text
        assert patient.last_name not in page.text

        await call(client, CANCEL, headers, id=appointment["id"], key=key())
        await rt.relay.drain()
        assert "Запись отменена" in (await client.get(check)).text

        unknown = await client.get(check.replace(appointment["id"], str(uuid.uuid4())))
        assert unknown.status_code == 404 and "Талон не найден" in unknown.text
