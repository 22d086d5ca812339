"""Identity's tables: patients, proxy grants, sessions and refresh-token families, OAuth logins, staff,
kiosks, one-time SMS codes and used client-assertion ids.

Secrets are never stored in the clear: refresh tokens, authorization codes and SMS codes are kept as
SHA-256 digests (they are long random values or short-lived, attempt-limited codes), staff passwords
through scrypt (:mod:`backend.identity.staff`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class Patient(UUIDPrimaryKey, Base):
    """A person whose data the service holds; created and refreshed from ESIA (or by a guardian link)."""

    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_birth_date", "birth_date"),)

    esia_oid: Mapped[str | None] = mapped_column(String(32), unique=True)
    last_name: Mapped[str] = mapped_column(String(128))
    first_name: Mapped[str] = mapped_column(String(128))
    middle_name: Mapped[str | None] = mapped_column(String(128))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))  # "M" | "F"
    snils: Mapped[str | None] = mapped_column(String(14), unique=True)  # "123-456-789 01"
    oms_policy: Mapped[str | None] = mapped_column(String(16), unique=True)  # 16 digits (ЕНП)
    phone: Mapped[str | None] = mapped_column(String(32))  # verified mobile from ESIA, E.164
    email: Mapped[str | None] = mapped_column(String(255))
    # ESIA's ``addresses`` (PRG registration, PLV residence) as {"line", "fias_code", "postcode"}
    registration_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    residence_address: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    esia_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProxyGrant(UUIDPrimaryKey, Base):
    """``proxy_id`` may act for ``principal_id`` within ``scopes`` until ``expires_at``.

    ``kind``: ``guardian_esia`` (a child listed in the parent's ESIA data), ``guardian_declared`` (a
    declared link confirmed by staff against a document), ``trusted_adult`` (named by the principal,
    confirmed by the principal's SMS code). ``status``: pending → active → revoked (or rejected).
    """

    __tablename__ = "proxy_grants"
    __table_args__ = (
        Index("ix_proxy_grants_proxy_principal", "proxy_id", "principal_id"),
        Index("ix_proxy_grants_principal_id", "principal_id"),
    )

    principal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    proxy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    expires_at: Mapped[datetime | None]
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"type", "series", "number", "issued"}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(64))  # staff id or "sms" or "esia"
    revoked_at: Mapped[datetime | None]


class AuthSession(UUIDPrimaryKey, Base):
    """A session behind our access tokens (their ``sid``): a mobile login (= a refresh-token family),
    a staff login, an operator's on-behalf session, a kiosk device or patient session.

    Revoking the row ends every token of the session at its next use. ``idle_timeout_s`` slides
    ``last_seen_at`` (kiosk sessions); ``elevated_at`` marks an on-behalf session whose caller confirmed
    an SMS code (sensitive actions).
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_patient_id", "patient_id"),)

    kind: Mapped[str] = mapped_column(String(16))  # mobile | staff | on_behalf | kiosk_device | kiosk
    channel: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    actor_id: Mapped[str | None] = mapped_column(String(64))  # staff id / kiosk client id
    client_id: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    esia_session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    idle_timeout_s: Mapped[int | None] = mapped_column(Integer)
    elevated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(64))
    #: An operator's on-behalf session: the staff session it was opened from (it ends with it).
    parent_session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("auth_sessions.id"))


class RefreshToken(UUIDPrimaryKey, Base):
    """One refresh token of a family (= an :class:`AuthSession`); rotated on use, reuse revokes the family."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OAuthLogin(UUIDPrimaryKey, Base):
    """One mobile/web login in flight: our client's PKCE challenge and state, ESIA's state, then our code."""

    __tablename__ = "oauth_logins"

    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(512))
    app_state: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(128))
    esia_state: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    esia_session_id: Mapped[str | None] = mapped_column(String(64))
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("auth_sessions.id"))


class StaffAccount(UUIDPrimaryKey, Base):
    """A 122 operator (or registrar confirming guardianship documents), or a doctor reading what patients
    shared with them (``role = doctor``, with their SNILS)."""

    __tablename__ = "staff_accounts"

    login: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # operator | registrar | doctor
    snils: Mapped[str | None] = mapped_column(String(14), unique=True)  # a doctor's SNILS ("123-456-789 01")
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_totp_step: Mapped[int | None] = mapped_column(Integer)  # a TOTP code is accepted once
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KioskDevice(UUIDPrimaryKey, Base):
    """An infomat, bound to one medical organisation; authenticates with ``private_key_jwt``."""

    __tablename__ = "kiosk_devices"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    medical_organisation_ref: Mapped[str] = mapped_column(String(64))  # the hub's IdLPU
    public_key_pem: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedAssertion(Base):
    """A client-assertion ``jti`` already accepted (RFC 7523: single use); kept until it expires."""

    __tablename__ = "used_client_assertions"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class VerificationCode(UUIDPrimaryKey, Base):
    """A one-time SMS code confirming ``purpose`` on ``target_id`` (a proxy grant, an on-behalf session)."""

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_target_id", "target_id"),)

    purpose: Mapped[str] = mapped_column(String(32))  # proxy_grant | on_behalf
    target_id: Mapped[uuid.UUID]
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
