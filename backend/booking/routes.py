"""REST for booking: the printable ticket (PDF), for a kiosk session or the patient (mounted under /api/v1).

``GET /api/v1/booking/tickets/{appointment_id}.pdf`` with ``Authorization: Bearer`` of identity's tokens;
the appointment must be the token subject's (a kiosk session's patient, an operator's caller, the patient
or a proxy's principal through ``?actingFor=``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.audit import service as audit
from backend.booking import ticket
from backend.booking.models import Appointment
from backend.core.context import RequestContext
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_TICKETS, require_subject
from backend.identity.service import get_patient
from backend.middleware import request_id_of

if TYPE_CHECKING:
    from backend.runtime import Runtime


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


@get("/booking/tickets/{name:str}", media_type="application/pdf")
async def appointment_ticket(  # noqa: PLR0911 - one answer per refusal
    request: Request[Any, Any, Any],
    name: str,
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any]:
    """The ticket of an appointment as PDF (kiosk printers are 80 mm wide)."""
    runtime: Runtime = request.app.state.runtime
    if not name.endswith(".pdf"):
        return _json(request, 404, "NOT_FOUND", "Талон не найден.")
    try:
        appointment_id = uuid.UUID(name.removesuffix(".pdf"))
    except ValueError:
        return _json(request, 404, "NOT_FOUND", "Талон не найден.")
    try:
        actor = await actor_from_scope(request.scope, runtime)
        ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
        async with runtime.sessionmaker() as session:
            patient_id = await require_subject(ctx, SCOPE_TICKETS, acting_for=acting_for, session=session)
            appointment = await session.get(Appointment, appointment_id)
            patient = await get_patient(session, patient_id)
    except ProblemError as exc:
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(request, status, exc.problem.code, exc.problem.message)
    except PublicError as exc:
        return _json(request, 401, exc.code, str(exc))
    if appointment is None or appointment.patient_id != patient_id or patient is None:
        return _json(request, 404, "NOT_FOUND", "Талон не найден.")
    data = ticket.TicketData(
        appointment_id=str(appointment.id),
        clinic=appointment.mo_name,
        address=appointment.address,
        doctor=appointment.doctor_name,
        specialty=appointment.specialty_name,
        start=appointment.slot_start,
        room=appointment.room,
        patient=patient.short_name,
        verify_url=f"{runtime.settings.public_url.rstrip('/')}/t/{appointment.id}",
    )
    try:
        pdf = ticket.render_ticket(data, timezone=runtime.settings.region_timezone)
    except ticket.TicketUnavailable:
        return _json(
            request,
            503,
            "TICKET_UNAVAILABLE",
            "Печать талона сейчас недоступна. Запись сохранена, покажите ее в регистратуре.",
        )
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "booking.ticket_printed",
        object_type="appointment",
        object_id=appointment.id,
        subject_id=patient_id,
    )
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="talon-{appointment.id}.pdf"', "Cache-Control": "no-store"},
    )


ROUTES = [appointment_ticket]
