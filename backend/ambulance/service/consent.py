"""The patient's consent to share their location (and, if chosen, the emergency profile) with the crew.

For one call only: recorded when given, withdrawable, expired when the call closes (:func:`expire`, run by
the feed in the same unit of work). Location updates are validated (coordinates in range, not from the
future, not stale, at most one per :data:`MIN_INTERVAL`) and sent to the dispatch subsystem after commit
(:data:`TOPIC_LOCATION`, by id: a withdrawn consent stops what was not sent yet). The emergency profile is
the documents domain's (``documents.emergency_profile``: only what the patient chose to share there), sent
once (:data:`TOPIC_PROFILE`) and only with this consent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update

from backend.ambulance.models import FINAL, AmbulanceCall, AmbulanceConsent, AmbulanceLocation
from backend.ambulance.problems import CallClosed, CallNotFound, InvalidInput, NoConsent, TooFrequent, fail
from backend.ambulance.service.reads import call_for
from backend.core.context import RequestContext
from backend.core.uow import UnitOfWork
from backend.documents import service as documents
from backend.outbox.service import Envelope
from integrations.smp import CrewProfile, SharedLocation, SmpCallClosed, SmpCallNotFound

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

TOPIC_LOCATION = "ambulance.location"
TOPIC_PROFILE = "ambulance.profile"
MIN_INTERVAL = timedelta(seconds=5)
FUTURE_SKEW = timedelta(seconds=30)
MAX_AGE = timedelta(minutes=10)


def is_active(consent: AmbulanceConsent | None) -> bool:
    return consent is not None and consent.withdrawn_at is None and consent.expired_at is None


async def _open_call(uow: UnitOfWork, subject_id: uuid.UUID, call_ref: uuid.UUID) -> AmbulanceCall:
    call = await call_for(uow.session, subject_id, call_ref, for_update=True)
    if call is None:
        raise fail(CallNotFound.default())
    if call.status in FINAL:
        raise fail(CallClosed.default())
    return call


async def consent_of(uow: UnitOfWork, call_ref: uuid.UUID) -> AmbulanceConsent | None:
    return await uow.session.scalar(select(AmbulanceConsent).where(AmbulanceConsent.call_ref == call_ref))


async def grant(
    uow: UnitOfWork, subject_id: uuid.UUID, call_ref: uuid.UUID, *, share_profile: bool
) -> AmbulanceConsent:
    call = await _open_call(uow, subject_id, call_ref)
    now = uow.runtime.now()
    row = await consent_of(uow, call.id)
    if row is None:
        row = AmbulanceConsent(id=uuid.uuid4(), call_ref=call.id, patient_id=call.patient_id or subject_id)
        uow.session.add(row)
    row.granted_at, row.withdrawn_at = now, None
    row.share_profile = bool(share_profile or row.share_profile)
    await uow.session.flush()
    if row.share_profile and row.profile_sent_at is None:
        uow.emit(TOPIC_PROFILE, {"consent_id": str(row.id)})
    uow.audit(
        "ambulance.consent_granted",
        object_type="ambulance_call",
        object_id=call.id,
        subject_id=row.patient_id,
        details={"share_profile": row.share_profile},
    )
    return row


async def withdraw(uow: UnitOfWork, subject_id: uuid.UUID, call_ref: uuid.UUID) -> AmbulanceConsent:
    call = await _open_call(uow, subject_id, call_ref)
    row = await consent_of(uow, call.id)
    if not is_active(row):
        raise fail(NoConsent.default())
    assert row is not None
    row.withdrawn_at = uow.runtime.now()
    uow.audit("ambulance.consent_withdrawn", object_type="ambulance_call", object_id=call.id, subject_id=row.patient_id)
    return row


def check_location(lat: float, lon: float, accuracy_m: float | None, at: datetime, now: datetime) -> None:
    if not (-90.0 <= lat <= 90.0):
        raise fail(InvalidInput.of("lat", "Широта — число от −90 до 90."))
    if not (-180.0 <= lon <= 180.0):
        raise fail(InvalidInput.of("lon", "Долгота — число от −180 до 180."))
    if accuracy_m is not None and not (0 <= accuracy_m <= 10_000):
        raise fail(InvalidInput.of("accuracyM", "Точность — от 0 до 10 000 метров."))
    if at.tzinfo is None:
        raise fail(InvalidInput.of("at", "Время определения местоположения — с часовым поясом."))
    if at > now + FUTURE_SKEW:
        raise fail(InvalidInput.of("at", "Время определения местоположения — в будущем: проверьте часы телефона."))
    if at < now - MAX_AGE:
        raise fail(InvalidInput.of("at", "Местоположение устарело (старше 10 минут): определите его заново."))


async def share_location(
    uow: UnitOfWork,
    subject_id: uuid.UUID,
    call_ref: uuid.UUID,
    *,
    lat: float,
    lon: float,
    accuracy_m: float | None,
    at: datetime,
) -> AmbulanceLocation:
    now = uow.runtime.now()
    check_location(lat, lon, accuracy_m, at, now)
    call = await _open_call(uow, subject_id, call_ref)
    row = await consent_of(uow, call.id)
    if not is_active(row):
        raise fail(NoConsent.default())
    assert row is not None
    if row.last_location_at is not None and now - row.last_location_at < MIN_INTERVAL:
        raise fail(TooFrequent.default())
    row.last_location_at = now
    location = AmbulanceLocation(
        id=uuid.uuid4(), call_ref=call.id, lat=lat, lon=lon, accuracy_m=accuracy_m, at=at, received_at=now
    )
    uow.session.add(location)
    uow.emit(TOPIC_LOCATION, {"location_id": str(location.id)})
    uow.audit("ambulance.location_shared", object_type="ambulance_call", object_id=call.id, subject_id=row.patient_id)
    return location


async def expire(uow: UnitOfWork, call_ref: uuid.UUID) -> None:
    """The call closed: its consent ends (in the feed's unit of work)."""
    await uow.session.execute(
        update(AmbulanceConsent)
        .where(AmbulanceConsent.call_ref == call_ref, AmbulanceConsent.expired_at.is_(None))
        .values(expired_at=uow.runtime.now())
    )


# -- to the crew, after commit -------------------------------------------------------------------------


async def on_location(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox: send one shared location to the crew, once, and only while the consent stands."""
    async with UnitOfWork(runtime, RequestContext.for_system("ambulance.crew")) as uow:
        location = await uow.session.get(
            AmbulanceLocation, uuid.UUID(envelope.payload["location_id"]), with_for_update=True
        )
        if location is None or location.sent_at is not None:
            return
        call = await uow.session.get(AmbulanceCall, location.call_ref)
        consent = await consent_of(uow, location.call_ref)
        if call is None or not is_active(consent):
            return  # withdrawn (or the call closed) before it was sent: it is not sent
        try:
            await runtime.adapters.smp.share_location(
                call.call_id, SharedLocation(location.lat, location.lon, location.accuracy_m, location.at)
            )
        except (SmpCallClosed, SmpCallNotFound):
            log.info("ambulance.location_not_accepted", call_id=call.call_id)
            return
        location.sent_at = runtime.now()


async def on_profile(envelope: Envelope, runtime: Runtime) -> None:
    """Outbox: send the emergency profile (what the patient chose in the documents domain) once, with consent."""
    async with UnitOfWork(runtime, RequestContext.for_system("ambulance.crew")) as uow:
        consent = await uow.session.get(
            AmbulanceConsent, uuid.UUID(envelope.payload["consent_id"]), with_for_update=True
        )
        if (
            consent is None
            or consent.profile_sent_at is not None
            or not consent.share_profile
            or not is_active(consent)
        ):
            return
        call = await uow.session.get(AmbulanceCall, consent.call_ref)
        assert call is not None
        profile = await documents.emergency_profile(
            runtime, consent.patient_id, ctx=RequestContext.for_system("ambulance.crew")
        )
        if profile is None:
            log.info("ambulance.no_emergency_profile", call_id=call.call_id)
            return
        try:
            await runtime.adapters.smp.share_profile(
                call.call_id,
                CrewProfile(
                    blood_group=profile.blood_group,
                    allergies=profile.allergies,
                    chronic_conditions=profile.chronic_conditions,
                    contact_name=profile.contact_name,
                    contact_phone=profile.contact_phone,
                ),
            )
        except (SmpCallClosed, SmpCallNotFound):
            return
        consent.profile_sent_at = runtime.now()
