"""The SMTP e-mail channel against a real SMTP server (aiosmtpd on loopback): the message as sent,
and the provider's refusals sorted into permanent (5xx) and temporary (4xx, connection) ones."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from notifications.channels import EmailRejected, EmailTemporaryError, SmtpEmailSender

SENDER = "«Мое здоровье» <no-reply@moe-zdorovye.test>"


@dataclass
class Mailbox:
    """An aiosmtpd handler: accepts mail, or refuses recipients by their local part."""

    received: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        local = address.split("@", 1)[0]
        if local == "nobody":
            return "550 5.1.1 Mailbox unavailable"
        if local == "full":
            return "452 4.2.2 Mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(message)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


async def test_a_message_reaches_the_server_as_composed(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{port}?starttls=off", sender=SENDER)
    message_id = await sender.send(
        to="ivanov@example.test", subject="Запись к врачу", body="Вы записаны к терапевту.", message_id="m-1"
    )
    [received] = mailbox.received
    assert received["Subject"] == "Запись к врачу"
    assert received["Message-ID"] == message_id
    assert "moe-zdorovye.test" in received["From"]
    assert received.get_content().strip() == "Вы записаны к терапевту."
    assert mailbox.envelopes == [("no-reply@moe-zdorovye.test", ["ivanov@example.test"])]


async def test_refusals_are_sorted_into_permanent_and_temporary(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{port}?starttls=off", sender=SENDER)
    with pytest.raises(EmailRejected, match="550"):
        await sender.send(to="nobody@example.test", subject="x", body="x", message_id="m-2")
    with pytest.raises(EmailTemporaryError, match="452"):
        await sender.send(to="full@example.test", subject="x", body="x", message_id="m-3")
    assert mailbox.received == []


async def test_a_server_that_is_down_is_a_temporary_failure() -> None:
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{_free_port()}?starttls=off", sender=SENDER, timeout_s=2)
    with pytest.raises(EmailTemporaryError):
        await sender.send(to="ivanov@example.test", subject="x", body="x", message_id="m-4")


async def test_starttls_is_required_by_default(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{port}", sender=SENDER, timeout_s=5)
    with pytest.raises(EmailTemporaryError):  # the server offers no STARTTLS: nothing goes out in clear
        await sender.send(to="ivanov@example.test", subject="x", body="x", message_id="m-5")
    assert mailbox.received == []
    with pytest.raises(ValueError, match="starttls"):
        SmtpEmailSender(f"smtp://127.0.0.1:{port}?starttls=maybe", sender=SENDER)
