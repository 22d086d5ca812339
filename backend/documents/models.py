"""The documents domain's tables: the patient's registered documents (metadata synced from ИЭМК / РЭМД and
what we read from each CDA), the sync state, the patient's own profile entries, the emergency profile
settings and the access grants to doctors.

Other domains' rows are referred to by plain UUID / string columns (no cross-domain foreign keys). The
CDA itself is never stored: it is fetched from the register when opened or downloaded; the facts the
profile needs are read from it once, at sync, and kept here (``facts``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class ContentStatus(enum.StrEnum):
    """What we could make of a document's content when it was synced (or last opened)."""

    OK = "ok"  # the CDA was read and its facts taken
    MALFORMED = "malformed"  # the CDA is not a СЭМД we can read
    PENDING = "pending"  # the register did not answer in time: read again at the next sync


class MedicalDocument(UUIDPrimaryKey, Base):
    """One registered document of a patient, as the register lists it (plus what its CDA told us)."""

    __tablename__ = "medical_documents"
    __table_args__ = (
        UniqueConstraint("patient_id", "registry_number"),
        Index("ix_medical_documents_patient_id_created_at", "patient_id", "created_at"),
    )

    patient_id: Mapped[uuid.UUID]
    registry_number: Mapped[str] = mapped_column(String(64))
    local_uid: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # REMD type (НСИ 1520)
    title: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]  # the document's own time (aware)
    org_oid: Mapped[str] = mapped_column(String(128))
    org_name: Mapped[str | None] = mapped_column(String(255))
    author_name: Mapped[str | None] = mapped_column(String(255))
    author_position: Mapped[str | None] = mapped_column(String(255))
    registered_at: Mapped[datetime | None]
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_status: Mapped[str] = mapped_column(String(16), default=ContentStatus.PENDING.value)
    content_error: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class DocumentSyncState(Base):
    """When a patient's documents were last compared with the register, and how it went."""

    __tablename__ = "document_sync_states"

    patient_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    synced_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ProfileEntry(UUIDPrimaryKey, Base):
    """Something the patient adds to their profile themselves (shown as the patient's own words)."""

    __tablename__ = "profile_entries"
    __table_args__ = (
        UniqueConstraint("patient_id", "idempotency_key"),
        Index("ix_profile_entries_patient_id", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))  # allergy | chronic_condition | medication | ...
    text: Mapped[str] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(32))  # ICD-10 when the patient gave one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    idempotency_key: Mapped[str] = mapped_column(String(128))


class EmergencyProfileSetting(Base):
    """What of the profile the patient shares with an ambulance crew, and whom to call."""

    __tablename__ = "emergency_profile_settings"

    patient_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    share_allergies: Mapped[bool] = mapped_column(Boolean, default=True)
    share_conditions: Mapped[bool] = mapped_column(Boolean, default=True)
    share_blood_group: Mapped[bool] = mapped_column(Boolean, default=True)
    contact_name: Mapped[str | None] = mapped_column(String(255))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentAccessGrant(UUIDPrimaryKey, Base):
    """The patient opens their profile and chosen documents to one doctor until ``expires_at``.

    Addressed to a doctor by SNILS (``doctor_snils``), or by a one-time code (``code_hash``) the doctor
    enters once: the grant is then bound to that doctor (``doctor_staff_id``).
    """

    __tablename__ = "document_access_grants"
    __table_args__ = (
        UniqueConstraint("patient_id", "idempotency_key"),
        Index("ix_document_access_grants_patient_id", "patient_id"),
        Index("ix_document_access_grants_doctor_snils", "doctor_snils"),
        Index("ix_document_access_grants_doctor_staff_id", "doctor_staff_id"),
    )

    patient_id: Mapped[uuid.UUID]
    doctor_snils: Mapped[str | None] = mapped_column(String(14))
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    doctor_staff_id: Mapped[str | None] = mapped_column(String(64))
    include_profile: Mapped[bool] = mapped_column(Boolean, default=True)
    document_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    idempotency_key: Mapped[str] = mapped_column(String(128))
