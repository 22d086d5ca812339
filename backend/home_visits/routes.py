"""REST for home visits: the MIS's push ``HandleHomeCallRequestChanged`` (mounted under /api/v1).

``POST /api/v1/home-visits/push`` with ``SOAPAction: "http://tempuri.org/IHomeCallService/
HandleHomeCallRequestChanged"`` and the HomeCallService's own SOAP body; the reply is the service's
``MethodResult`` (an ``ErrorList`` for a message we refuse, a SOAP Fault with HTTP 500 when the change
could not be stored, so the MIS delivers it again). The ``guid`` in the message authenticates the MIS
(``MZ_HOMECALL_PUSH_GUID``, by default ``MZ_HOMECALL_GUID``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post

from backend.home_visits import service

if TYPE_CHECKING:
    from backend.runtime import Runtime

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


@post("/home-visits/push", status_code=200, media_type=SOAP_CONTENT_TYPE)
async def home_call_push(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``HandleHomeCallRequestChanged`` from the MIS: a home-call request's status changed."""
    runtime: Runtime = request.app.state.runtime
    status, reply = await service.handle_push(runtime, await request.body(), request.headers.get("soapaction"))
    return Response(content=reply, status_code=status, media_type=SOAP_CONTENT_TYPE)


ROUTES = [home_call_push]
