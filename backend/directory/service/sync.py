"""Sync the directory from the booking hub, and the reads the GraphQL layer batches.

:func:`sync_directory` walks districts → organisations per district → specialties per organisation →
doctors per (organisation, specialty), only through the :class:`~integrations.fer.BookingHub` port.
All hub calls for one unit (the district list, one district's organisations, one organisation's
specialties and doctors) are made before its transaction opens, so no transaction waits on the hub.
Rows are upserted by select-then-insert/update (the same on PostgreSQL and SQLite) and written only
when something changed, so a repeated sync writes nothing. What vanished from a list that the hub did
return becomes inactive; a failed call leaves its part of the directory as it was and is named in
the summary, and the sync goes on with the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.core.db import utcnow
from backend.directory.hours import parse_work_time
from backend.directory.models import District, Doctor, MedicalOrganisation, OrganisationSpecialty, Specialty
from backend.directory.service.cache import forget_cached
from backend.directory.service.reads import fold
from integrations.fer import BookingHub, DistrictInfo, DoctorInfo, FerError, LpuInfo, LpuInfoHub, OrganisationInfo
from integrations.fer import Specialty as HubSpecialty

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

SYNC_ACTION = "directory.sync"

# Stages reported to ``progress(stage, done, total)``, with the label a person sees.
STAGE_LABELS: dict[str, str] = {
    "districts": "Районы",
    "organisations": "Медицинские организации",
    "doctors": "Специальности и врачи",
}
# Not a stage of its own: an organisation's card (GetLPUInfo: address, phone, hours) is fetched with its doctors,
# and a failure to get it is reported under this name.
CARD_STAGE = "hours"

Progress = Callable[[str, int, int], None]
MAX_FAILURE_MESSAGE = 500


# -- the summary ---------------------------------------------------------------------------------


@dataclass
class Counts:
    seen: int = 0  # listed by the hub in this run
    created: int = 0
    updated: int = 0  # changed, or seen again after being inactive
    deactivated: int = 0


@dataclass(frozen=True)
class SyncFailure:
    stage: str  # "districts" | "organisations" | "doctors"
    upstream_id: str | None  # the district or organisation whose call failed; None for the district list
    error: str  # exception class name
    message: str
    retryable: bool


@dataclass
class SyncSummary:
    started_at: datetime
    finished_at: datetime | None = None
    districts: Counts = field(default_factory=Counts)
    organisations: Counts = field(default_factory=Counts)
    specialties: Counts = field(default_factory=Counts)
    doctors: Counts = field(default_factory=Counts)
    cards: Counts = field(default_factory=Counts)  # GetLPUInfo: seen, and updated when the card changed
    failures: list[SyncFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def created(self) -> int:
        return sum(c.created for c in (self.districts, self.organisations, self.specialties, self.doctors))

    @property
    def changed(self) -> int:
        """Rows created, updated or deactivated by this run."""
        return sum(
            c.created + c.updated + c.deactivated
            for c in (self.districts, self.organisations, self.specialties, self.doctors, self.cards)
        )

    @property
    def outcome(self) -> str:
        return "ok" if self.ok else "partial"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data

    def add_failure(self, stage: str, upstream_id: str | None, exc: Exception) -> None:
        retryable = bool(getattr(exc, "retryable", False))
        message = str(exc)[:MAX_FAILURE_MESSAGE]  # a database error's text carries its SQL
        self.failures.append(SyncFailure(stage, upstream_id, type(exc).__name__, message, retryable))
        log.warning("directory.sync_failed", stage=stage, upstream_id=upstream_id, error=str(exc))


# -- helpers -------------------------------------------------------------------------------------


def _split_name(full_name: str) -> tuple[str, str | None, str | None]:
    parts = full_name.split()
    if not parts:
        return "", None, None
    return parts[0], (parts[1] if len(parts) > 1 else None), (" ".join(parts[2:]) or None)


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _upsert(
    session: AsyncSession,
    existing: Any | None,
    model: type[Any],
    values: dict[str, Any],
    *,
    counts: Counts,
    now: datetime,
) -> Any:
    """Insert ``model(**values)`` or bring ``existing`` to ``values``, and count what happened."""
    if existing is None:
        row = model(**values, synced_at=now)
        session.add(row)
        counts.created += 1
        return row
    was_active = getattr(existing, "active", None)
    if _assign(existing, values):
        existing.synced_at = now
        if was_active and values.get("active") is False:
            counts.deactivated += 1
        else:
            counts.updated += 1
    return existing


def _deactivate(
    rows: Iterable[Any], keep: set[Any], key: Callable[[Any], Any], counts: Counts | None, now: datetime
) -> None:
    """Mark inactive the active rows whose key is not in ``keep``."""
    for row in rows:
        if row.active and key(row) not in keep:
            row.active = False
            row.synced_at = now
            if counts is not None:
                counts.deactivated += 1


@dataclass(frozen=True)
class _OrganisationPlan:
    """One organisation's specialties and doctors as the hub listed them."""

    specialties: list[HubSpecialty]
    doctors: list[tuple[HubSpecialty, DoctorInfo]]
    card: LpuInfo | None = None  # GetLPUInfo; None: not asked (the hub has no such call), failed or not listed


# -- sync ----------------------------------------------------------------------------------------


async def sync_directory(
    runtime: Runtime, *, progress: Progress | None = None, hub: BookingHub | None = None
) -> SyncSummary:
    """Bring the directory up to date with the booking hub; see the module docstring.

    ``progress(stage, done, total)`` is called as each unit finishes (stages: :data:`STAGE_LABELS`).
    ``hub`` defaults to the runtime's (``runtime.adapters.fer``). Hub failures are
    recorded in the summary, never raised; one ``directory.sync`` audit event carries the counts.
    """
    if hub is None:
        hub = runtime.adapters.fer
    report: Progress = progress or (lambda stage, done, total: None)
    summary = SyncSummary(started_at=utcnow())
    ctx = RequestContext.for_system(SYNC_ACTION)
    try:
        await _Sync(runtime, hub, summary, report).run()
    except Exception as exc:  # the database, not the hub: on record if possible, then up to the caller
        forget_cached(runtime)
        summary.finished_at = utcnow()
        try:
            await audit.record_now(
                runtime.sessionmaker,
                ctx,
                SYNC_ACTION,
                outcome=f"error:{type(exc).__name__}",
                object_type="directory",
                details=summary.as_dict(),
            )
        except Exception:
            log.exception("directory.sync_audit_failed")
        raise
    forget_cached(runtime)
    summary.finished_at = utcnow()
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        SYNC_ACTION,
        outcome=summary.outcome,
        object_type="directory",
        details=summary.as_dict(),
    )
    log.info(
        "directory.synced",
        created=summary.created,
        changed=summary.changed,
        failures=len(summary.failures),
        seconds=round((summary.finished_at - summary.started_at).total_seconds(), 2),
    )
    return summary


class _Sync:
    def __init__(self, runtime: Runtime, hub: BookingHub, summary: SyncSummary, report: Progress) -> None:
        self.sessionmaker = runtime.sessionmaker
        self.hub = hub
        self.summary = summary
        self.report = report
        self.specialties_seen: set[str] = set()  # codes written in this run: the first listing wins

    async def run(self) -> None:
        try:
            districts = await self.hub.get_districts()
        except FerError as exc:
            self.summary.add_failure("districts", None, exc)
            return
        district_ids = await self._write_districts(districts)
        self.report("districts", len(districts), len(districts))

        organisations = await self._sync_organisations(districts, district_ids)

        for done, (upstream_id, organisation_id) in enumerate(organisations, start=1):
            await self._sync_organisation(upstream_id, organisation_id)
            self.report("doctors", done, len(organisations))

    # -- districts -------------------------------------------------------------------------------

    async def _write_districts(self, districts: Sequence[DistrictInfo]) -> dict[str, uuid.UUID]:
        counts, now = self.summary.districts, utcnow()
        listed = {d.id: d for d in districts}  # the last of duplicate ids wins
        counts.seen = len(listed)
        async with self.sessionmaker() as session, session.begin():
            existing = {d.upstream_id: d for d in await session.scalars(select(District))}
            rows = dict(existing)
            for info in listed.values():
                values = {"upstream_id": info.id, "name": info.name, "okato": info.okato, "active": True}
                rows[info.id] = _upsert(session, existing.get(info.id), District, values, counts=counts, now=now)
            _deactivate(existing.values(), set(listed), lambda d: d.upstream_id, counts, now)
            await session.flush()
            return {upstream_id: row.id for upstream_id, row in rows.items()}

    # -- organisations ---------------------------------------------------------------------------

    async def _sync_organisations(
        self, districts: Sequence[DistrictInfo], district_ids: dict[str, uuid.UUID]
    ) -> list[tuple[str, uuid.UUID]]:
        """Upsert every district's organisations; return the active ones (upstream id, row id)."""
        counts = self.summary.organisations
        listed_by: set[uuid.UUID] = set()  # districts whose list the hub returned
        seen: dict[str, uuid.UUID] = {}  # organisation upstream id -> row id, for those listed
        active: list[tuple[str, uuid.UUID]] = []
        unique_districts = list({d.id: d for d in districts}.values())
        for done, district in enumerate(unique_districts, start=1):
            try:
                infos = await self.hub.get_organisations(district.id)
            except FerError as exc:
                self.summary.add_failure("organisations", district.id, exc)
            else:
                # A regional organisation may be listed by several districts: the first listing wins
                # in a run, and its own District member (when it names a known district) decides.
                fresh = [o for o in {o.id: o for o in infos}.values() if o.id not in seen]
                try:
                    written = await self._write_organisations(fresh, district_ids[district.id], district_ids)
                except IntegrityError as exc:  # e.g. a concurrent sync inserted the same row first
                    self.summary.add_failure("organisations", district.id, exc)
                else:
                    listed_by.add(district_ids[district.id])
                    seen.update({o.upstream_id: o.id for o in written})
                    active.extend((o.upstream_id, o.id) for o in written if o.active)
            self.report("organisations", done, len(unique_districts))
        counts.seen = len(seen)
        await self._deactivate_organisations(set(seen), listed_by)
        return active

    async def _write_organisations(
        self, infos: Sequence[OrganisationInfo], listing_district: uuid.UUID, district_ids: dict[str, uuid.UUID]
    ) -> list[MedicalOrganisation]:
        counts, now = self.summary.organisations, utcnow()
        async with self.sessionmaker() as session, session.begin():
            ids = [o.id for o in infos]
            existing = {
                mo.upstream_id: mo
                for mo in await session.scalars(
                    select(MedicalOrganisation).where(MedicalOrganisation.upstream_id.in_(ids))
                )
            }
            rows: list[MedicalOrganisation] = []
            for info in infos:
                values = {
                    "upstream_id": info.id,
                    "oid": info.oid,
                    "name": info.full_name,
                    "short_name": info.short_name,
                    "kind": info.kind,
                    "district_id": district_ids.get(info.district_id or "", listing_district),
                    "part_of": info.part_of,
                    "description": info.description,
                    "address": info.address,
                    "latitude": info.latitude,
                    "longitude": info.longitude,
                    "phone": info.phone,
                    "search_text": fold(f"{info.full_name} {info.short_name}"),
                    "active": info.active,  # listed but closed upstream: kept inactive
                }
                rows.append(
                    _upsert(session, existing.get(info.id), MedicalOrganisation, values, counts=counts, now=now)
                )
            await session.flush()
            return rows

    async def _deactivate_organisations(self, seen: set[str], listed_by: set[uuid.UUID]) -> None:
        """Organisations missing from their district's returned list, or whose district vanished."""
        counts, now = self.summary.organisations, utcnow()
        async with self.sessionmaker() as session, session.begin():
            rows = await session.scalars(
                select(MedicalOrganisation)
                .join(District, District.id == MedicalOrganisation.district_id)
                .where(MedicalOrganisation.active, or_(District.id.in_(listed_by), ~District.active))
            )
            _deactivate(rows, seen, lambda mo: mo.upstream_id, counts, now)

    # -- specialties and doctors -----------------------------------------------------------------

    async def _card(self, upstream_id: str) -> LpuInfo | None:
        """The organisation's card (GetLPUInfo) when the hub has the call; a failure is reported, never raised."""
        if not isinstance(self.hub, LpuInfoHub):
            return None
        try:
            return await self.hub.get_lpu_info(upstream_id)
        except FerError as exc:
            self.summary.add_failure(CARD_STAGE, upstream_id, exc)
            return None

    async def _sync_organisation(self, upstream_id: str, organisation_id: uuid.UUID) -> None:
        card = await self._card(upstream_id)
        try:
            specialties = await self.hub.get_specialties(upstream_id)
            doctors = [
                (specialty, doctor)
                for specialty in specialties
                for doctor in await self.hub.get_doctors(upstream_id, specialty.id)
            ]
        except FerError as exc:
            self.summary.add_failure("doctors", upstream_id, exc)
            if card is not None:  # the card came: its hours need not wait for the doctors
                async with self.sessionmaker() as session, session.begin():
                    await self._write_card(session, organisation_id, card, utcnow())
            return
        try:
            await self._write_organisation(organisation_id, _OrganisationPlan(specialties, doctors, card))
        except IntegrityError as exc:
            self.summary.add_failure("doctors", upstream_id, exc)

    async def _write_organisation(self, organisation_id: uuid.UUID, plan: _OrganisationPlan) -> None:
        now = utcnow()
        spec_counts, doc_counts = self.summary.specialties, self.summary.doctors
        async with self.sessionmaker() as session, session.begin():
            if plan.card is not None:
                await self._write_card(session, organisation_id, plan.card, now)
            by_code = {_code(s): s for s in plan.specialties}
            known = {
                s.code: s for s in await session.scalars(select(Specialty).where(Specialty.code.in_(list(by_code))))
            }
            specialty_rows: dict[str, Specialty] = {}
            for code, info in by_code.items():
                row = known.get(code)
                if code not in self.specialties_seen:
                    self.specialties_seen.add(code)
                    spec_counts.seen += 1
                    row = _upsert(
                        session, row, Specialty, {"code": code, "name": info.name}, counts=spec_counts, now=now
                    )
                elif row is None:  # written earlier in this run by a transaction that failed
                    row = _upsert(
                        session, None, Specialty, {"code": code, "name": info.name}, counts=spec_counts, now=now
                    )
                specialty_rows[code] = row
            await session.flush()

            links = {
                link.specialty_id: link
                for link in await session.scalars(
                    select(OrganisationSpecialty).where(OrganisationSpecialty.organisation_id == organisation_id)
                )
            }
            link_counts = Counts()  # links are not reported on their own
            for code, info in by_code.items():
                specialty_id = specialty_rows[code].id
                values = {
                    "organisation_id": organisation_id,
                    "specialty_id": specialty_id,
                    "upstream_id": info.id,
                    "active": True,
                }
                _upsert(session, links.get(specialty_id), OrganisationSpecialty, values, counts=link_counts, now=now)
            _deactivate(
                links.values(), {r.id for r in specialty_rows.values()}, lambda link: link.specialty_id, None, now
            )

            doctors = {
                d.upstream_id: d
                for d in await session.scalars(select(Doctor).where(Doctor.organisation_id == organisation_id))
            }
            listed: set[str] = set()
            for specialty, doc in plan.doctors:
                if doc.id in listed:  # a doctor under two specialties: the first listing wins
                    continue
                listed.add(doc.id)
                last, first, middle = _split_name(doc.name)
                values = {
                    "organisation_id": organisation_id,
                    "upstream_id": doc.id,
                    "specialty_id": specialty_rows[_code(specialty)].id,
                    "full_name": " ".join(doc.name.split()),
                    "last_name": last,
                    "first_name": first,
                    "middle_name": middle,
                    "snils": doc.snils or None,
                    "active": True,
                }
                _upsert(session, doctors.get(doc.id), Doctor, values, counts=doc_counts, now=now)
            doc_counts.seen += len(listed)
            _deactivate(doctors.values(), listed, lambda d: d.upstream_id, doc_counts, now)

    async def _write_card(
        self, session: AsyncSession, organisation_id: uuid.UUID, card: LpuInfo, now: datetime
    ) -> None:
        """The card's address, phone, e-mail and hours onto the organisation (what the card leaves empty stays)."""
        row = await session.get_one(MedicalOrganisation, organisation_id)
        week = parse_work_time(card.work_time)
        if card.work_time and week is None:
            log.info("directory.work_time_unread", organisation=row.upstream_id, work_time=card.work_time)
        values: dict[str, Any] = {
            "work_time": card.work_time,
            "opening_hours": week.as_json() if week is not None else None,
            "email": card.email,
        }
        if card.address:
            values["address"] = card.address
        if card.phone:
            values["phone"] = card.phone
        self.summary.cards.seen += 1
        if _assign(row, values):
            row.synced_at = now
            self.summary.cards.updated += 1


def _code(specialty: HubSpecialty) -> str:
    """The federal code; a hub that leaves FerIdSpesiality empty gets its own id used."""
    return specialty.fer_id or specialty.id
