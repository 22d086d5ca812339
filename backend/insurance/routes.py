"""REST for insurance: the digital policy as a printable PDF (mounted under /api/v1).

``GET /api/v1/insurance/policy.pdf`` with ``Authorization: Bearer`` of identity's tokens: a kiosk session's
patient, an operator's caller, the patient, or a proxy's principal through ``?actingFor=`` (the
``insurance_policy`` scope). Each print is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_INSURANCE_POLICY, require_subject
from backend.insurance import printing, problems
from backend.insurance.service import policy
from backend.middleware import request_id_of

if TYPE_CHECKING:
    from backend.runtime import Runtime

_STATUS = {
    problems.PolicyNotFound.CODE: 404,
    problems.PolicyNotReady.CODE: 409,
    problems.ConsentRequired.CODE: 409,
    problems.InsuranceServiceUnavailable.CODE: 503,
}


@dataclass
class ProblemBody:
    """A refusal: a stable code and the Russian text for the person."""

    code: str
    message: str


_STATUS_TEXT = {
    401: "Нужно войти",
    403: "Нет прав на полис этого пациента",
    404: "Полис не найден в регистре застрахованных лиц",
    409: "Сведения о полисе еще не получены или нет согласия на обмен с ФОМС",
    422: "Система ОМС не приняла запрос",
    503: "Сервис ОМС или печать сейчас недоступны",
}
_RESPONSES = {
    status: ResponseSpec(data_container=ProblemBody, description=text, generate_examples=False)
    for status, text in _STATUS_TEXT.items()
}


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


@get("/insurance/policy.pdf", media_type="application/pdf", summary="Печать полиса ОМС", responses=_RESPONSES)
async def policy_pdf(
    request: Request[Any, Any, Any],
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any]:
    """The digital policy as PDF (80 mm wide: a kiosk prints it)."""
    runtime: Runtime = request.app.state.runtime
    try:
        actor = await actor_from_scope(request.scope, runtime)
        ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
        async with runtime.sessionmaker() as session:
            patient_id = await require_subject(ctx, SCOPE_INSURANCE_POLICY, acting_for=acting_for, session=session)
    except ProblemError as exc:
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(request, status, exc.problem.code, exc.problem.message)
    except PublicError as exc:
        return _json(request, 401, exc.code, str(exc))
    try:
        view = await policy.view(runtime, patient_id)
    except problems.ProblemError as exc:
        return _json(request, _STATUS.get(exc.problem.code, 422), exc.problem.code, exc.problem.message)
    try:
        pdf = printing.render_policy(view)
    except printing.PolicyPrintUnavailable:
        return _json(
            request, 503, "POLICY_PRINT_UNAVAILABLE", "Печать полиса сейчас недоступна. Номер полиса: " + view.enp
        )
    await audit.record_now(
        runtime.sessionmaker, ctx, "insurance.policy_printed", object_type="insurance_policy", subject_id=patient_id
    )
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="polis-oms.pdf"', "Cache-Control": "no-store"},
    )


ROUTES = [policy_pdf]
