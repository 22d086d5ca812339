"""The vault's tables: files (metadata and the wrapped data key; the bytes are in the blob store),
shares (a patient opening files or folders to a doctor for a while), and idempotency keys."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class VaultFile(UUIDPrimaryKey, Base):
    """One uploaded document of a patient. ``deleted_at`` set: in the bin (restorable until
    ``deleted_at + recovery``); ``erased_at`` set: the blob is gone, the row stays as a tombstone."""

    __tablename__ = "vault_files"
    __table_args__ = (
        Index("ix_vault_files_patient_folder", "patient_id", "folder"),
        Index("ix_vault_files_deleted_at", "deleted_at"),
        UniqueConstraint("blob_key"),
    )

    patient_id: Mapped[uuid.UUID]
    folder: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    document_date: Mapped[date | None] = mapped_column(Date)
    clinic: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    blob_key: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]


class VaultShare(UUIDPrimaryKey, Base):
    """Files and folders opened to a recipient until ``expires_at``: a doctor by SNILS (signed in with
    their own ESIA account), or whoever holds the code (stored as its SHA-256 only)."""

    __tablename__ = "vault_shares"
    __table_args__ = (
        Index("ix_vault_shares_patient", "patient_id"),
        Index("ix_vault_shares_recipient_snils", "recipient_snils"),
        Index("ix_vault_shares_expires_at", "expires_at"),
        UniqueConstraint("code_hash"),
    )

    patient_id: Mapped[uuid.UUID]
    file_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    folders: Mapped[list[str]] = mapped_column(JSONType, default=list)
    recipient_snils: Mapped[str | None] = mapped_column(String(14))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    first_opened_at: Mapped[datetime | None]
    expiry_notified_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80))


class VaultIdempotency(UUIDPrimaryKey, Base):
    """A vault mutation's idempotency key and its stored result."""

    __tablename__ = "vault_idempotency"
    __table_args__ = (UniqueConstraint("actor_key", "operation", "key"),)

    actor_key: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
