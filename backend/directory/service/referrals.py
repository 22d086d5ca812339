"""Whether a specialty is booked without a referral (``directBooking``), learned from the hub's answers.

The hub lists no such flag: ``GetSpesialityList`` gives ``IdSpesiality, NameSpesiality, FerIdSpesiality``
and counts of free tickets only (protocols.md §2.1). What the hub does say is its answer to
``SetAppointment``: it books a specialty without a referral, or refuses with ``REFERRAL_REQUIRED``. Booking
hands each such answer here; the specialty (by its federal code, the same at every clinic) keeps the last one:
``True`` once a booking without a referral went through, ``False`` once one was refused for want of one,
``None`` (unknown) until then. ``SpecialistType`` (general / narrow) in the same answer is not used: a narrow
specialist (an ophthalmologist, a gynaecologist) is booked without a referral in many regions.

Each answer is written in its own short transaction after the booking's unit of work ended (a refusal rolls
that one back), and at most once per process and value, so a booking costs no statement once it is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, update

from backend.directory.models import Specialty

if TYPE_CHECKING:
    from backend.runtime import Runtime

KNOWN_KEY = "directory.direct_booking"


def _known(runtime: Runtime) -> dict[str, bool]:
    known = runtime.adapters.directory_caches.get(KNOWN_KEY)
    if known is None:
        known = runtime.adapters.directory_caches[KNOWN_KEY] = {}  # type: ignore[assignment]
    return known  # type: ignore[return-value]


def direct_booking_known(runtime: Runtime, specialty_code: str, direct: bool) -> bool:
    """Whether this process already recorded ``direct`` for ``specialty_code``."""
    return _known(runtime).get(specialty_code) is direct


async def record_direct_booking(runtime: Runtime, specialty_code: str, direct: bool) -> None:
    """Record what the hub's answer said of ``specialty_code`` (its own transaction; see the module)."""
    if direct_booking_known(runtime, specialty_code, direct):
        return
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Specialty)
            .where(
                Specialty.code == specialty_code,
                or_(Specialty.direct_booking.is_(None), Specialty.direct_booking.is_not(direct)),
            )
            .values(direct_booking=direct)
        )
    _known(runtime)[specialty_code] = direct
