"""REST for drugs: the printout of a prescription (PDF) for a kiosk session or the patient.

``GET /api/v1/drugs/prescriptions/{prescription_id}.pdf`` with ``Authorization: Bearer`` of identity's
tokens (``actingFor`` as in GraphQL): the prescription's QR code and barcode and the pharmacies nearest first,
with hours and stock (or, when none has it, those that take it on deferred service). 404 for another's
prescription, 503 when no PDF can be drawn here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.drugs import printout, problems, service
from backend.drugs.graphql_types import hours_text, qr_payload
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_DRUGS, require_subject
from backend.identity.service import get_patient
from backend.middleware import request_id_of
from integrations.llo import PrescriptionStatus

if TYPE_CHECKING:
    from backend.runtime import Runtime


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


@get("/drugs/prescriptions/{name:str}", media_type="application/pdf")
async def prescription_printout(
    request: Request[Any, Any, Any],
    name: str,
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any]:
    """The prescription's code and the pharmacy list as PDF (kiosk printers are 80 mm wide)."""
    runtime: Runtime = request.app.state.runtime
    try:
        prescription_id = uuid.UUID(name.removesuffix(".pdf")) if name.endswith(".pdf") else None
    except ValueError:
        prescription_id = None
    if prescription_id is None:
        return _json(request, 404, "NOT_FOUND", "Рецепт не найден.")
    try:
        actor = await actor_from_scope(request.scope, runtime)
        ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
        async with runtime.sessionmaker() as session:
            patient_id = await require_subject(ctx, SCOPE_DRUGS, acting_for=acting_for, session=session)
            patient = await get_patient(session, patient_id)
    except ProblemError as exc:
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(request, status, exc.problem.code, exc.problem.message)
    except PublicError as exc:
        return _json(request, 401, exc.code, str(exc))
    try:
        found = await service.availability(runtime, patient_id, prescription_id)
    except problems.ProblemError as exc:
        status = 404 if isinstance(exc.problem, problems.PrescriptionNotFound) else 503
        return _json(request, status, exc.problem.code, exc.problem.message)
    row = found.prescription
    views = found.in_stock or found.deferral_options
    deferral = None
    if row.deferred_pharmacy_id:
        arrived = (
            f"поступило {row.arrived_on:%d.%m.%Y}" if row.arrived_on else f"ожидается до {row.deferred_due:%d.%m.%Y}"
        )
        deferral = f"Отсроченное обслуживание: {arrived}"
    data = printout.PrescriptionPrint(
        patient=patient.short_name if patient else "",
        series=row.series,
        number=row.number,
        barcode=row.barcode,
        qr_payload=qr_payload(row),
        drug=f"{row.mnn} {row.dosage}",
        quantity=row.quantity,
        dosing=row.dosing,
        valid_until=f"{row.valid_until:%d.%m.%Y}",
        status=PrescriptionStatus(row.status).label_ru,
        deferral=deferral,
        pharmacies=tuple(
            printout.PharmacyLine(v.name, v.address, hours_text(v.hours), v.distance_km, v.quantity) for v in views
        ),
        pharmacies_title="Где есть лекарство:" if found.in_stock else "Нет в наличии. Отсроченное обслуживание:",
    )
    try:
        pdf = printout.render(data)
    except printout.PrintUnavailable:
        return _json(request, 503, "PRINT_UNAVAILABLE", "Печать сейчас недоступна. Покажите рецепт в приложении.")
    await audit.record_now(
        runtime.sessionmaker, ctx, "drugs.prescription_printed", object_type="prescription", object_id=row.id,
        subject_id=patient_id,
    )  # fmt: skip
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="recept-{row.number}.pdf"', "Cache-Control": "no-store"},
    )


ROUTES = [prescription_printout]
