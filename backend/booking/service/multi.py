"""What a domain that books several appointments together (dispanserization's plans) reads back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.booking.models import Appointment


async def appointments_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Appointment]:
    """The appointments among ``ids`` (one statement)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Appointment).where(Appointment.id.in_(list(ids))))
    return {a.id: a for a in rows}
