"""REST for vaccination (mounted under /api/v1):

``GET /api/v1/vaccination/certificates/{certificate_id}.pdf`` with ``Authorization: Bearer`` of identity's
tokens: the certificate's PDF with its QR code, for the patient, a proxy (``?actingFor=``) or a kiosk session
(the kiosk prints it). Audited.

``GET /api/v1/vaccination/verify?c=<token>``: public, what the QR code opens. It checks our signature and
that we issued the certificate, and answers only the minimum: valid or not, initials, birth year, vaccine and
date per vaccination. JSON by default; an HTML page for a browser (``Accept: text/html``). Rate-limited per
client address (``MZ_VACCINATION_VERIFY_PER_MINUTE``): past it, 429 with ``Retry-After``.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from litestar import MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.audit import service as audit
from backend.core.context import Actor, Channel, RequestContext
from backend.identity.authn import actor_from_scope
from backend.identity.policy import require_certificate_subject
from backend.identity.ratelimit import failure_counter
from backend.identity.service import get_patient
from backend.middleware import request_id_of
from backend.vaccination import service
from backend.vaccination.certificate import CertificateUnavailable, Verification
from backend.vaccination.problems import CertificateNotFound

if TYPE_CHECKING:
    from backend.runtime import Runtime

MAX_TOKEN = 8192
WINDOW_S = 60


@dataclass
class ProblemBody:
    """A refusal: a stable code and the Russian text for the person."""

    code: str
    message: str


_STATUS_TEXT = {
    401: "Нужно войти",
    403: "Нет прав (оператор 122 сертификат не получает)",
    404: "Сертификат не найден",
    429: "Слишком много проверок с одного адреса: повторите через минуту",
    503: "Печать сертификата сейчас недоступна",
}


def _responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=ProblemBody, description=_STATUS_TEXT[status], generate_examples=False)
        for status in statuses
    }


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


@get(
    "/vaccination/certificates/{name:str}",
    media_type="application/pdf",
    summary="Сертификат о прививках (PDF с QR-кодом)",
    responses=_responses(401, 403, 404, 503),
)
async def certificate_pdf(  # noqa: PLR0911 - one answer per refusal
    request: Request[Any, Any, Any],
    name: str,
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any]:
    """The certificate as PDF (A4) with the QR code of its public verification."""
    runtime: Runtime = request.app.state.runtime
    try:
        certificate_id = uuid.UUID(name.removesuffix(".pdf")) if name.endswith(".pdf") else None
    except ValueError:
        certificate_id = None
    if certificate_id is None:
        return _json(request, 404, "NOT_FOUND", "Сертификат не найден.")
    try:
        actor = await actor_from_scope(request.scope, runtime)
        ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
        async with runtime.sessionmaker() as session:
            patient_id = await require_certificate_subject(ctx, acting_for=acting_for, session=session)
            patient = await get_patient(session, patient_id)
        row = await service.certificate_of(runtime, patient_id, certificate_id)
    except ProblemError as exc:
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(request, status, exc.problem.code, exc.problem.message)
    except PublicError as exc:
        return _json(request, 401, exc.code, str(exc))
    except CertificateNotFound as exc:
        return _json(request, 404, "NOT_FOUND", exc.message)
    if patient is None:
        return _json(request, 404, "NOT_FOUND", "Сертификат не найден.")
    try:
        pdf = await service.certificate_pdf(runtime, patient, row)
    except CertificateUnavailable:
        return _json(request, 503, "CERTIFICATE_UNAVAILABLE", "Печать сертификата сейчас недоступна. Попробуйте позже.")
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "vaccination.certificate_downloaded",
        object_type="vaccination_certificate",
        object_id=row.id,
        subject_id=patient_id,
    )
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="vaccination-certificate-{row.id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def _page(verdict: Verification) -> str:
    title = "Сертификат подтвержден" if verdict.valid else "Сертификат не подтвержден"
    lines = [verdict.message]
    if verdict.valid:
        lines.append(f"{verdict.initials}, {verdict.birth_year} г. р.")
        lines += [f"{v.given_on.strftime('%d.%m.%Y')} — {v.vaccine}" for v in verdict.vaccinations]
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}"
        "<p>«Мое здоровье»</p></body></html>"
    )


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "-"


@get(
    service.VERIFY_PATH.removeprefix("/api/v1"),
    media_type=MediaType.JSON,
    summary="Проверка сертификата о прививках по QR-коду",
    responses=_responses(429),
)
async def verify_certificate(request: Request[Any, Any, Any], c: FromQuery[str] = "") -> Response[Any]:
    """Public: is this QR code's certificate ours and unchanged? Only the minimum is shown."""
    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.vaccination_verify_per_minute
    refused = await failure_counter(runtime).acquire(
        [(f"vaccination-verify:{_client(request)}", limit)], window_s=WINDOW_S
    )
    if refused:
        response = _json(request, 429, "TOO_MANY_REQUESTS", "Слишком много проверок. Повторите через минуту.")
        response.headers["Retry-After"] = str(WINDOW_S)
        return response
    if not c or len(c) > MAX_TOKEN:
        verdict = Verification(
            valid=False, message="Сертификат не подтвержден: нет кода сертификата или он слишком длинный."
        )
    else:
        verdict = await service.verify(runtime, c)
    if verdict.valid and verdict.certificate_id is not None:
        subject = await service.certificate_holder(runtime, uuid.UUID(verdict.certificate_id))
        ctx = RequestContext(actor=Actor.anonymous(Channel.MOBILE), request_id=request_id_of(request.scope))
        await audit.record_now(
            runtime.sessionmaker,
            ctx,
            "vaccination.certificate_verified",
            object_type="vaccination_certificate",
            object_id=uuid.UUID(verdict.certificate_id),
            subject_id=subject,
        )
    headers = {"Cache-Control": "no-store"}
    if "text/html" in request.headers.get("accept", "") and "application/json" not in request.headers.get("accept", ""):
        return Response(content=_page(verdict), media_type=MediaType.HTML, headers=headers)
    return Response(
        content={
            "valid": verdict.valid,
            "message": verdict.message,
            "initials": verdict.initials,
            "birthYear": verdict.birth_year,
            "vaccinations": [{"vaccine": v.vaccine, "date": v.given_on.isoformat()} for v in verdict.vaccinations],
            "issuedAt": verdict.issued_at.isoformat() if verdict.issued_at else None,
        },
        media_type=MediaType.JSON,
        headers=headers,
    )


ROUTES = [certificate_pdf, verify_certificate]
