"""REST for documents: the original CDA with its detached signatures, as a ZIP (mounted under /api/v1).

``GET /api/v1/documents/{id}/original.zip`` with ``Authorization: Bearer`` of identity's tokens (the
patient, or a proxy with the documents scope through ``?actingFor=``). The archive holds
``document.xml`` (byte for byte as signed) and ``document.xml.<role>.sig`` (DER CMS SignedData).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from litestar import Request, Response, get
from litestar.params import Parameter

from backend.api.boundary import error_response
from backend.api.problems import ProblemError, PublicError
from backend.core.context import RequestContext
from backend.documents import problems, service
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_DOCUMENTS, require_subject
from backend.middleware import request_id_of
from integrations.iemk import IemkError

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


def _json(request: Request[Any, Any, Any], status: int, code: str, message: str) -> Response[Any]:
    return error_response(status, code, message, request_id_of(request.scope))


@get("/documents/{document_id:uuid}/original.zip", media_type="application/zip")
async def document_original(
    request: Request[Any, Any, Any],
    document_id: uuid.UUID,
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any]:
    """The original document and its signatures."""
    runtime: Runtime = request.app.state.runtime
    try:
        actor = await actor_from_scope(request.scope, runtime)
        ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
        async with runtime.sessionmaker() as session:
            patient_id = await require_subject(ctx, SCOPE_DOCUMENTS, acting_for=acting_for, session=session)
        document, archive = await service.download_original(runtime, ctx, patient_id, document_id)
    except ProblemError as exc:
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(request, status, exc.problem.code, exc.problem.message)
    except PublicError as exc:
        return _json(request, 401, exc.code, str(exc))
    except problems.DocumentsError as exc:
        return _json(request, 404, exc.problem.code, exc.problem.message)
    except IemkError as exc:
        log.warning("documents.download_unavailable", document_id=str(document_id), error=type(exc).__name__)
        unavailable = problems.DocumentsUnavailable.default()
        return _json(request, 503, unavailable.code, unavailable.message)
    return Response(
        content=archive,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{document.registry_number}.zip"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [document_original]
