"""The directory's tables: a copy of the hub's reference data, keyed by the hub's ids.

Rows are upserted by :mod:`backend.directory.service` and never deleted: what vanished upstream is
``active = False``. ``synced_at`` is when the row last took a change from the hub (a sync that finds
nothing new writes nothing). Relationships are ``lazy="raise"``: load explicitly or through a loader.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.db import Base, JSONType, UUIDPrimaryKey, utcnow


class District(UUIDPrimaryKey, Base):
    """A district of the region (``GetDistrictList``)."""

    __tablename__ = "districts"

    upstream_id: Mapped[str] = mapped_column(String(64), unique=True)  # IdDistrict
    name: Mapped[str] = mapped_column(String(255))
    okato: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class MedicalOrganisation(UUIDPrimaryKey, Base):
    """A medical organisation (``GetLPUList``): the hub's ``IdLPU`` and the ФРМО OID."""

    __tablename__ = "medical_organisations"
    __table_args__ = (
        Index("ix_medical_organisations_name_id", "name", "id"),  # keyset pagination
        Index("ix_medical_organisations_district_id", "district_id"),
    )

    upstream_id: Mapped[str] = mapped_column(String(64), unique=True)  # IdLPU
    oid: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(512))
    short_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(64))  # LPUType as the hub sends it
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("districts.id"))
    part_of: Mapped[str | None] = mapped_column(String(64))  # IdLPU of the parent organisation
    description: Mapped[str | None] = mapped_column(Text)
    # Not in the hub's Clinic contract (the demo simulator sends them; a real hub leaves them empty).
    address: Mapped[str | None] = mapped_column(String(512))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(64))
    # From the hub's GetLPUInfo (``LpuInfo``): the e-mail, the hours as the hub wrote them (``WorkTime``) and
    # the week read from them (backend.directory.hours; null when absent or not readable).
    email: Mapped[str | None] = mapped_column(String(255))
    work_time: Mapped[str | None] = mapped_column(Text)
    opening_hours: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(default=True)
    # Folded names (casefold, ё→е, punctuation dropped) for search that works alike on every dialect.
    search_text: Mapped[str] = mapped_column(Text, default="")
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    district: Mapped[District] = relationship(lazy="raise")


class Specialty(UUIDPrimaryKey, Base):
    """A specialty by its federal (НСИ) code, ``FerIdSpesiality``."""

    __tablename__ = "specialties"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    direct_booking: Mapped[bool | None]  # bookable without a referral; None: the hub does not say
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrganisationSpecialty(UUIDPrimaryKey, Base):
    """A specialty an organisation books for, with the organisation's own ``IdSpesiality``.

    The hub's ``GetDoctorList`` takes that local id, which need not equal the federal code.
    """

    __tablename__ = "organisation_specialties"
    __table_args__ = (
        UniqueConstraint("organisation_id", "specialty_id"),
        Index("ix_organisation_specialties_specialty_id", "specialty_id"),
    )

    # Named by hand: the conventional name would exceed PostgreSQL's 63 characters.
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("medical_organisations.id", name="fk_organisation_specialties_organisation_id")
    )
    specialty_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("specialties.id"))
    upstream_id: Mapped[str] = mapped_column(String(64))  # IdSpesiality within the organisation
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[MedicalOrganisation] = relationship(lazy="raise")
    specialty: Mapped[Specialty] = relationship(lazy="raise")


class Doctor(UUIDPrimaryKey, Base):
    """A doctor (``GetDoctorList``); the hub's ``IdDoc`` is unique within the organisation only."""

    __tablename__ = "doctors"
    __table_args__ = (
        UniqueConstraint("organisation_id", "upstream_id"),
        Index("ix_doctors_specialty_id", "specialty_id"),
    )

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("medical_organisations.id"))
    upstream_id: Mapped[str] = mapped_column(String(64))  # IdDoc
    specialty_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("specialties.id"))
    full_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    snils: Mapped[str | None] = mapped_column(String(14))
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[MedicalOrganisation] = relationship(lazy="raise")
    specialty: Mapped[Specialty] = relationship(lazy="raise")
