"""A person's contact points (phone, e-mail, push tokens) and channel preferences.

Contact points are the notifications domain's own copy, keyed by the patient's UUID: identity calls
:func:`upsert_contacts` after an ESIA sync and the app calls :func:`register_push_token`. Phones are
normalised to E.164 on the way in, so a bad number is refused where it is typed, never in a worker.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import utcnow
from integrations.sms import InvalidPhone, normalise_phone
from notifications.models import ChannelPreference, ContactPoint, MessageChannel, PushToken

log = structlog.get_logger(__name__)

# Without a stored choice: push and SMS on (SMS is a fallback when a push goes unread), e-mail off.
DEFAULTS: dict[MessageChannel, bool] = {
    MessageChannel.SMS: True,
    MessageChannel.PUSH: True,
    MessageChannel.EMAIL: False,
}
PUSH_PROVIDERS = frozenset({"fcm", "apns"})
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class InvalidEmail(ValueError):
    def __init__(self, message: str = "Неверный адрес электронной почты.") -> None:
        super().__init__(message)
        self.message = message


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise InvalidEmail()
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


async def insert_ignore(session: AsyncSession, model: Any, values: dict[str, Any], conflict: list[str]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite; True when a row was inserted."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Contacts:
    patient_id: uuid.UUID
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class Preferences:
    patient_id: uuid.UUID
    sms: bool
    push: bool
    email: bool
    phone: str | None
    email_address: str | None
    push_devices: int

    def enabled(self, channel: MessageChannel) -> bool:
        return {MessageChannel.SMS: self.sms, MessageChannel.PUSH: self.push, MessageChannel.EMAIL: self.email}.get(
            channel, True
        )


async def _contact_row(session: AsyncSession, patient_id: uuid.UUID) -> ContactPoint:
    # Write first, read after: on SQLite a transaction that reads before it writes can be refused the
    # write lock outright ("database is locked") when another connection wrote in between.
    await insert_ignore(
        session, ContactPoint, {"id": uuid.uuid4(), "patient_id": patient_id, "updated_at": utcnow()}, ["patient_id"]
    )
    row = await session.scalar(select(ContactPoint).where(ContactPoint.patient_id == patient_id))
    assert row is not None
    return row


async def upsert_contacts(
    session: AsyncSession, patient_id: uuid.UUID, *, phone: str | None = None, email: str | None = None
) -> Contacts:
    """Store what identity knows (ESIA's verified phone and e-mail); ``None`` leaves a value unchanged.

    An unusable value from upstream is logged and skipped rather than failing the caller's sync.
    """
    row = await _contact_row(session, patient_id)
    if phone is not None:
        try:
            row.phone = normalise_phone(phone)
        except InvalidPhone:
            log.warning("notifications.contact_phone_invalid", patient_id=str(patient_id))
    if email is not None:
        try:
            row.email = normalise_email(email)
        except InvalidEmail:
            log.warning("notifications.contact_email_invalid", patient_id=str(patient_id))
    await session.flush()
    return Contacts(patient_id, row.phone, row.email)


async def get_contacts(session: AsyncSession, patient_id: uuid.UUID) -> Contacts:
    row = await session.scalar(select(ContactPoint).where(ContactPoint.patient_id == patient_id))
    return Contacts(patient_id, row.phone if row else None, row.email if row else None)


async def register_push_token(session: AsyncSession, patient_id: uuid.UUID, *, provider: str, token: str) -> None:
    """Remember a device's push token (``provider`` ``fcm`` or ``apns``). A token that moved to another
    person (a shared phone, a new login) now belongs to the latest one; a dead token comes back to life."""
    if provider not in PUSH_PROVIDERS:
        raise ValueError(f"unknown push provider {provider!r}")
    token = token.strip()
    if not token or len(token) > 512:
        raise ValueError("push token must be 1–512 characters")
    inserted = await insert_ignore(
        session,
        PushToken,
        {"id": uuid.uuid4(), "patient_id": patient_id, "provider": provider, "token": token, "created_at": utcnow()},
        ["provider", "token"],
    )
    if not inserted:
        await session.execute(
            update(PushToken)
            .where(PushToken.provider == provider, PushToken.token == token)
            .values(patient_id=patient_id, invalidated_at=None)
        )


async def active_push_tokens(session: AsyncSession, patient_id: uuid.UUID) -> list[PushToken]:
    rows = await session.scalars(
        select(PushToken)
        .where(PushToken.patient_id == patient_id, PushToken.invalidated_at.is_(None))
        .order_by(PushToken.created_at)
    )
    return list(rows)


async def invalidate_push_token(session: AsyncSession, token_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(PushToken).where(PushToken.id == token_id).values(invalidated_at=at))


async def get_preferences(session: AsyncSession, patient_id: uuid.UUID) -> Preferences:
    rows = await session.scalars(select(ChannelPreference).where(ChannelPreference.patient_id == patient_id))
    chosen = {MessageChannel(row.channel): row.enabled for row in rows}
    values = {channel: chosen.get(channel, default) for channel, default in DEFAULTS.items()}
    contacts = await get_contacts(session, patient_id)
    devices = await active_push_tokens(session, patient_id)
    return Preferences(
        patient_id=patient_id,
        sms=values[MessageChannel.SMS],
        push=values[MessageChannel.PUSH],
        email=values[MessageChannel.EMAIL],
        phone=contacts.phone,
        email_address=contacts.email,
        push_devices=len(devices),
    )


async def update_preferences(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    sms: bool | None = None,
    push: bool | None = None,
    email: bool | None = None,
    phone: str | None = None,
    email_address: str | None = None,
) -> Preferences:
    """Change what the person asked for. Raises :class:`InvalidPhone` / :class:`InvalidEmail` (with
    Russian text) before anything is written."""
    normalised_phone = normalise_phone(phone) if phone is not None else None
    normalised_email = normalise_email(email_address) if email_address is not None else None
    for channel, value in ((MessageChannel.SMS, sms), (MessageChannel.PUSH, push), (MessageChannel.EMAIL, email)):
        if value is None:
            continue
        inserted = await insert_ignore(
            session,
            ChannelPreference,
            {
                "id": uuid.uuid4(),
                "patient_id": patient_id,
                "channel": channel.value,
                "enabled": value,
                "updated_at": utcnow(),
            },
            ["patient_id", "channel"],
        )
        if not inserted:
            await session.execute(
                update(ChannelPreference)
                .where(ChannelPreference.patient_id == patient_id, ChannelPreference.channel == channel.value)
                .values(enabled=value, updated_at=utcnow())
            )
    if normalised_phone is not None or normalised_email is not None:
        row = await _contact_row(session, patient_id)
        if normalised_phone is not None:
            row.phone = normalised_phone
        if normalised_email is not None:
            row.email = normalised_email
        await session.flush()
    return await get_preferences(session, patient_id)
