"""Reads: a person's calls (the live view and the history), the survey, and the staff KPI of arrival times.

A call is the person's when they made it (``caller_id``) or it is for them (``patient_id``); a proxy reads a
principal's (a child's) calls by acting for them. Anyone else's call is "not found".
"""

from __future__ import annotations

import math
import statistics
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.ambulance.models import FINAL, AmbulanceCall, AmbulancePrediction, AmbulanceStep, AmbulanceSurvey

WITHIN_MINUTES = 20


async def call_for(
    session: AsyncSession, subject_id: uuid.UUID, call_ref: uuid.UUID, *, for_update: bool = False
) -> AmbulanceCall | None:
    query = select(AmbulanceCall).where(
        AmbulanceCall.id == call_ref, or_(AmbulanceCall.caller_id == subject_id, AmbulanceCall.patient_id == subject_id)
    )
    return await session.scalar(query.with_for_update() if for_update else query)


@dataclass
class CallView:
    call: AmbulanceCall
    steps: list[AmbulanceStep] = field(default_factory=list)
    first_prediction: AmbulancePrediction | None = None
    survey_score: int | None = None

    @property
    def is_open(self) -> bool:
        return self.call.status not in FINAL


async def calls_of(
    session: AsyncSession, subject_id: uuid.UUID, *, open_only: bool = False, call_ref: uuid.UUID | None = None
) -> list[CallView]:
    """The person's calls, newest first, with their timeline, the departure's prediction and the survey
    answer (four statements, whatever the number of calls)."""
    query = select(AmbulanceCall).where(
        or_(AmbulanceCall.caller_id == subject_id, AmbulanceCall.patient_id == subject_id)
    )
    if open_only:
        query = query.where(AmbulanceCall.status.not_in(FINAL))
    if call_ref is not None:
        query = query.where(AmbulanceCall.id == call_ref)
    calls = list(await session.scalars(query.order_by(AmbulanceCall.accepted_at.desc())))
    views = {c.id: CallView(c) for c in calls}
    if not views:
        return []
    refs = list(views)
    for step in await session.scalars(
        select(AmbulanceStep).where(AmbulanceStep.call_ref.in_(refs)).order_by(AmbulanceStep.at)
    ):
        views[step.call_ref].steps.append(step)
    for p in await session.scalars(
        select(AmbulancePrediction)
        .where(AmbulancePrediction.call_ref.in_(refs))
        .order_by(AmbulancePrediction.predicted_at)
    ):
        if views[p.call_ref].first_prediction is None:
            views[p.call_ref].first_prediction = p
    for ref, score in await session.execute(
        select(AmbulanceSurvey.call_ref, AmbulanceSurvey.score).where(AmbulanceSurvey.call_ref.in_(refs))
    ):
        views[ref].survey_score = score
    return [views[c.id] for c in calls]


@dataclass(frozen=True)
class ArrivalStats:
    district_id: str
    calls: int
    median_minutes: float
    p90_minutes: float
    within_20_share: float
    eta_error_median_minutes: float | None  # |actual − predicted at departure|


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank


async def arrival_kpi(session: AsyncSession, start: datetime, end: datetime) -> list[ArrivalStats]:
    """Arrival times (acceptance → arrival) of calls that arrived in [start, end), by district and overall
    (``district_id`` ""): count, median, p90 (nearest rank), the share within 20 minutes, and the median
    error of the ETA predicted at departure. Two statements."""
    rows = (
        await session.execute(
            select(AmbulanceCall.id, AmbulanceCall.district_id, AmbulanceCall.accepted_at, AmbulanceCall.arrived_at)
            .where(AmbulanceCall.arrived_at >= start, AmbulanceCall.arrived_at < end)
            .order_by(AmbulanceCall.arrived_at)
        )
    ).all()
    if not rows:
        return []
    first: dict[uuid.UUID, datetime] = {}
    for ref, arrival in await session.execute(
        select(AmbulancePrediction.call_ref, AmbulancePrediction.arrival_at)
        .where(AmbulancePrediction.call_ref.in_([r[0] for r in rows]))
        .order_by(AmbulancePrediction.predicted_at.desc())
    ):
        first[ref] = arrival  # the earliest wins (read last)
    groups: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for ref, district, accepted, arrived in rows:
        assert arrived is not None
        minutes = (arrived - accepted).total_seconds() / 60
        predicted = first.get(ref)
        error = abs((arrived - predicted).total_seconds()) / 60 if predicted is not None else None
        groups[district].append((minutes, error))
        groups[""].append((minutes, error))
    out = []
    for district in sorted(groups):
        items = groups[district]
        times = [m for m, _ in items]
        errors = [e for _, e in items if e is not None]
        out.append(
            ArrivalStats(
                district_id=district,
                calls=len(items),
                median_minutes=round(float(statistics.median(times)), 1),
                p90_minutes=round(_p90(times), 1),
                within_20_share=round(sum(m <= WITHIN_MINUTES for m in times) / len(times), 3),
                eta_error_median_minutes=round(float(statistics.median(errors)), 1) if errors else None,
            )
        )
    return out
