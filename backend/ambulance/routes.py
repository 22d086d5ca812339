"""REST for ambulance tracking: the СМП dispatch subsystem's webhook (mounted under /api/v1).

``POST /api/v1/ambulance/feed`` with one feed event (``integrations/smp/wire.py``) as JSON, signed in
``X-Smp-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with ``MZ_SMP_WEBHOOK_SECRET``. Answers 200
once applied (or known already), 401 for a bad signature, 400 for an unreadable event, 500 when it could not
be stored (the dispatch side delivers again).
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
    400: ResponseSpec(data_container=dict, generate_examples=False, description="Событие не прочитано"),
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
    """One event of the СМП dispatch feed (a status with the call's state, or a brigade's position)."""
    runtime: Runtime = request.app.state.runtime
    status, reply = await service.handle_push(runtime, await request.body(), request.headers.get(SIGNATURE_HEADER))
    return Response(content=reply, status_code=status, media_type="application/json")


ROUTES = [smp_feed]
