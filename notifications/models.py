"""Tables of the notifications domain: contact points, preferences, messages, delivery attempts, inbox.

A person is a plain UUID column everywhere (the identity domain owns patients; no cross-domain FKs).
One :class:`NotificationMessage` is one (notification, person, channel): its unique key makes every
producer retry harmless, and its status machine plus :class:`DeliveryAttempt` rows prove what happened.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, UUIDPrimaryKey, utcnow


class MessageChannel(enum.StrEnum):
    SMS = "sms"
    PUSH = "push"
    EMAIL = "email"
    INBOX = "inbox"


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its (next) attempt, maybe deferred to the morning
    SENDING = "sending"  # an attempt is under way, or its outcome is unknown (reconciled before any resend)
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the handset (or the inbox) has it
    UNDELIVERED = "undelivered"  # the operator gave up
    FAILED = "failed"  # refused for good (bad number, dead token, expired)
    DEAD = "dead"  # temporary failures until the last attempt: dead letter

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({MessageStatus.DELIVERED, MessageStatus.UNDELIVERED, MessageStatus.FAILED, MessageStatus.DEAD})


class AttemptOutcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took it
    TEMPORARY_ERROR = "temporary_error"  # provably not sent; retried with back-off
    REJECTED = "rejected"  # permanent refusal
    UNKNOWN = "unknown"  # the reply was lost (timeout, garbled): reconcile before resending
    RECONCILED = "reconciled"  # an unknown outcome turned out to be a send
    NOT_SENT = "not_sent"  # an unknown outcome turned out not to be a send
    DEFERRED = "deferred"  # quiet hours: moved to the morning without calling anyone


class ContactPoint(UUIDPrimaryKey, Base):
    """Where a person can be reached: kept by notifications, fed by identity (ESIA) and by the person."""

    __tablename__ = "notification_contacts"

    patient_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PushToken(UUIDPrimaryKey, Base):
    __tablename__ = "notification_push_tokens"
    __table_args__ = (UniqueConstraint("provider", "token"), Index("ix_notification_push_tokens_patient", "patient_id"))

    patient_id: Mapped[uuid.UUID]
    provider: Mapped[str] = mapped_column(String(16))  # "fcm" | "apns"
    token: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    invalidated_at: Mapped[datetime | None]  # the provider said the token is dead


class ChannelPreference(UUIDPrimaryKey, Base):
    """A person's choice for one channel; absent rows mean the channel's default."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("patient_id", "channel"),)

    patient_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NotificationMessage(UUIDPrimaryKey, Base):
    __tablename__ = "notification_messages"
    __table_args__ = (
        UniqueConstraint("dedupe_key", "patient_id", "channel"),
        Index("ix_notification_messages_due", "status", "next_attempt_at"),
        Index("ix_notification_messages_patient", "patient_id", "created_at"),
        Index("ix_notification_messages_provider_ref", "provider_id"),
    )

    dedupe_key: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str | None] = mapped_column(String(254))  # phone / e-mail at planning time; push: None
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # when a queued message is due (deferral, back-off)
    not_after: Mapped[datetime | None]  # useless afterwards (a reminder after the visit)
    claimed_until: Mapped[datetime | None]  # a worker holds it until then
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    next_check_at: Mapped[datetime | None]  # when to poll the provider for a delivery report
    fallback_of: Mapped[uuid.UUID | None]  # the push this SMS replaces
    fallback_checked_at: Mapped[datetime | None]  # push: the fallback scan has dealt with it
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]


class DeliveryAttempt(UUIDPrimaryKey, Base):
    """One try at one message, written before the provider is called and completed after."""

    __tablename__ = "notification_delivery_attempts"
    __table_args__ = (UniqueConstraint("message_id", "number"),)

    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification_messages.id", ondelete="CASCADE"))
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # None: under way or crashed
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)


class InboxItem(UUIDPrimaryKey, Base):
    __tablename__ = "notification_inbox"
    __table_args__ = (Index("ix_notification_inbox_patient", "patient_id", "created_at"),)

    patient_id: Mapped[uuid.UUID]
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_messages.id", ondelete="CASCADE"), unique=True
    )
    dedupe_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class ReminderLedger(UUIDPrimaryKey, Base):
    """A reminder (source, appointment, kind) that has been handed to the pipeline: never again."""

    __tablename__ = "notification_reminders"
    __table_args__ = (UniqueConstraint("source", "object_id", "kind"),)

    source: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
