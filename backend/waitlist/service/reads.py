"""What the patient sees of their entries: the place in the line, the live offer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.waitlist.models import (
    ACTIVE_ENTRY,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
)

if TYPE_CHECKING:
    pass

log = structlog.get_logger(__name__)


# ---------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class EntryView:
    entry: WaitlistEntry
    position: int | None  # the place in the line of its clinic and specialty (1 = next), while waiting
    offer: WaitlistOffer | None  # the live offer, if any


async def entries_of(session: AsyncSession, patient_id: uuid.UUID) -> list[EntryView]:
    """The patient's entries, newest first, each with its place in the line and its live offer (three
    statements whatever the number)."""
    entries = list(
        await session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.patient_id == patient_id)
            .order_by(WaitlistEntry.created_at.desc(), WaitlistEntry.seq.desc())
            .limit(50)
        )
    )
    if not entries:
        return []
    ahead = WaitlistEntry.__table__.alias("ahead")
    mine = WaitlistEntry.__table__.alias("mine")
    positions: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(mine.c.id, func.count(ahead.c.id))
                .join(
                    ahead,
                    and_(
                        ahead.c.mo_id == mine.c.mo_id,
                        ahead.c.specialty_code == mine.c.specialty_code,
                        ahead.c.status.in_(ACTIVE_ENTRY),
                        or_(
                            ahead.c.priority > mine.c.priority,
                            and_(ahead.c.priority == mine.c.priority, ahead.c.seq <= mine.c.seq),
                        ),
                    ),
                )
                .where(mine.c.id.in_([e.id for e in entries]), mine.c.status.in_(ACTIVE_ENTRY))
                .group_by(mine.c.id)
            )
        ).all()
    )
    offers = {
        o.entry_id: o
        for o in await session.scalars(
            select(WaitlistOffer).where(
                WaitlistOffer.entry_id.in_([e.id for e in entries]), WaitlistOffer.status == OfferStatus.OFFERED.value
            )
        )
    }
    return [EntryView(e, positions.get(e.id), offers.get(e.id)) for e in entries]


@dataclass(frozen=True)
class UnmetDemand:
    """A specialty the patient could not book for lack of free time (they joined the waitlist instead)."""

    on: date
    specialty_name: str


async def unmet_demand_since(session: AsyncSession, patient_id: uuid.UUID, since: datetime) -> list[UnmetDemand]:
    """The patient's waitlist entries created since ``since``, oldest first: a join is accepted only when
    nothing was free in the range asked (``joining._free_in_range``), so each one is a booking that failed for
    lack of slots (what the virtual insurance representative answers with the insurer's hotline)."""
    rows = await session.execute(
        select(WaitlistEntry.created_at, WaitlistEntry.specialty_name)
        .where(WaitlistEntry.patient_id == patient_id, WaitlistEntry.created_at >= since)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.seq)
        .limit(20)
    )
    return [UnmetDemand(on=at.date(), specialty_name=name) for at, name in rows.all()]
