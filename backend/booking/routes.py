"""REST for booking: the printable ticket (PDF), for a kiosk session or the patient, and the page its QR
code names (mounted under /api/v1).

``GET /api/v1/booking/tickets/{appointment_id}.pdf`` with ``Authorization: Bearer`` of identity's tokens;
the appointment must be the token subject's (a kiosk session's patient, an operator's caller, the patient
or a proxy's principal through ``?actingFor=``).

``GET /api/v1/booking/ticket-check/{appointment_id}``: no token (whoever holds the paper ticket scans
it, at the registry desk too): whether the appointment stands, when and where, as the ticket itself
says; never the patient's name. Each check is audited.
"""

from __future__ import annotations

import html
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from litestar import MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.audit import service as audit
from backend.booking import ticket
from backend.booking.models import Appointment, AppointmentState
from backend.core.context import Actor, Channel, RequestContext
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_TICKETS, require_subject
from backend.identity.service import get_patient
from backend.middleware import request_id_of

if TYPE_CHECKING:
    from backend.runtime import Runtime


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


#: Where the app mounts these routes (backend.app's API_V1), for the address printed in the QR code.
MOUNTED_AT = "/api/v1"
CHECK_PATH = "/booking/ticket-check"

_STATE_TEXT: dict[str, str] = {
    AppointmentState.BOOKED.value: "Запись действительна",
    AppointmentState.CANCEL_PENDING.value: "Запись отменена",
    AppointmentState.CANCELLED_BY_PATIENT.value: "Запись отменена",
    AppointmentState.CANCELLED_BY_MO.value: "Запись отменена медицинской организацией",
    AppointmentState.RESCHEDULED.value: "Запись перенесена на другое время: этот талон больше не действует",
    AppointmentState.VISITED.value: "Прием состоялся",
    AppointmentState.NO_SHOW.value: "Прием не состоялся: пациент не пришел",
}


def ticket_check_url(public_url: str, appointment_id: uuid.UUID) -> str:
    """What the ticket's QR code holds: the address of :func:`ticket_check`."""
    return f"{public_url.rstrip('/')}{MOUNTED_AT}{CHECK_PATH}/{appointment_id}"


def _page(status: int, title: str, lines: list[str]) -> Response[Any]:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p>«Мое здоровье»</p></body></html>"
    )
    return Response(content=page, status_code=status, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})


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
        verify_url=ticket_check_url(runtime.settings.public_url, appointment.id),
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


@get(
    f"{CHECK_PATH}/{{appointment_id:uuid}}",
    media_type=MediaType.HTML,
    responses={
        404: ResponseSpec(
            data_container=str, generate_examples=False, media_type=MediaType.HTML, description="Талон не найден."
        )
    },
)
async def ticket_check(request: Request[Any, Any, Any], appointment_id: uuid.UUID) -> Response[Any]:
    """The page a ticket's QR code names: the appointment's state, time and place (no patient's name)."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        return _page(404, "Талон не найден", ["Проверьте талон или обратитесь в регистратуру."])
    ctx = RequestContext(actor=Actor.anonymous(Channel.MOBILE), request_id=request_id_of(request.scope))
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "booking.ticket_checked",
        object_type="appointment",
        object_id=appointment.id,
        subject_id=appointment.patient_id,
    )
    day, time_text = ticket.local_when(appointment.slot_start, runtime.settings.region_timezone)
    lines = [
        f"{day}, {time_text}",
        f"{appointment.specialty_name}: {appointment.doctor_name}",
        appointment.mo_name,
        *([appointment.address] if appointment.address else []),
        f"кабинет {appointment.room}" if appointment.room else "кабинет уточните в регистратуре",
    ]
    return _page(200, _STATE_TEXT.get(appointment.status, "Состояние записи уточните в регистратуре"), lines)


ROUTES = [appointment_ticket, ticket_check]
