"""REST for ambulance tracking: the СМП dispatch subsystem's webhook (mounted under /api/v1).

``POST /api/v1/ambulance/feed`` with one feed event (``integrations/smp/wire.py``) as JSON, or a batch
``{"events": [...]}`` of up to 1,000, signed in ``X-Smp-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`` with ``MZ_SMP_WEBHOOK_SECRET``. Answers 200 (``{"accepted": true, "events": n}``) once every
event is applied (or known already), 401 for a bad signature, 400 for an unreadable body (nothing of it is
taken), 500 when it could not be stored (the dispatch side delivers the whole body again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec

from backend.ambulance import service
from integrations.smp import SIGNATURE_HEADER

if TYPE_CHECKING:
    from backend.runtime import Runtime


_REFUSALS = {
    400: ResponseSpec(data_container=dict, generate_examples=False, description="Событие или пакет не прочитан"),
    401: ResponseSpec(data_container=dict, generate_examples=False, description="Подпись неверна или устарела"),
    500: ResponseSpec(
        data_container=dict, generate_examples=False, description="Не сохранено: диспетчерская доставит снова"
    ),
}


@post(
    "/ambulance/feed",
    status_code=200,
    media_type="application/json",
    tags=["ambulance"],
    responses=_REFUSALS,
)
async def smp_feed(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Events of the СМП dispatch feed: one (a status with the call's state, or a brigade's position) or a
    batch ``{"events": [...]}`` of up to 1,000."""
    runtime: Runtime = request.app.state.runtime
    status, reply = await service.handle_push(runtime, await request.body(), request.headers.get(SIGNATURE_HEADER))
    return Response(content=reply, status_code=status, media_type="application/json")


ROUTES = [smp_feed]
