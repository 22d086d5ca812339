"""REST of the notifications domain: the Twilio status callback (mounted under ``/api/v1``).

Twilio signs every callback with ``X-Twilio-Signature`` over the URL it posted to — the
``StatusCallback`` we gave it, built from ``settings.public_url`` — and the form fields. We check the
signature against that public URL (never the Host header), so a forged or replayed-elsewhere report
is refused with 403 and changes nothing. A genuine report moves the message forward idempotently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import structlog
from litestar import Request, Response, post

from integrations.sms import parse_twilio_status_callback, verify_twilio_signature
from integrations.sms.twilio import SIGNATURE_HEADER
from notifications import delivery
from notifications.channels import WEBHOOK_PATH

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


def _message_id(url: str) -> uuid.UUID | None:
    values = parse_qs(urlsplit(url).query).get("m")
    try:
        return uuid.UUID(values[0]) if values else None
    except ValueError:
        return None


async def handle_twilio_callback(runtime: Runtime, url: str, params: Mapping[str, str], signature: str | None) -> int:
    """Verify and apply one status callback; returns the HTTP status to answer with."""
    settings = runtime.settings
    if not verify_twilio_signature(settings.twilio_auth_token, url, dict(params), signature):
        log.warning("notifications.twilio_callback_forged", url=url)
        return 403
    try:
        callback = parse_twilio_status_callback(params)
    except ValueError:
        return 400
    if callback.account_sid is not None and callback.account_sid != settings.twilio_account_sid:
        return 403
    await delivery.apply_sms_status(
        runtime,
        status=callback.status,
        provider_id=callback.message_sid,
        raw_status=callback.raw_status,
        message_id=_message_id(url),
        error_code=callback.error_code,
    )
    return 204


@post(WEBHOOK_PATH.removeprefix("/api/v1"), status_code=200, summary="Twilio: отчёт о доставке SMS")
async def twilio_status_callback(request: Request[Any, Any, Any]) -> Response[bytes]:
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    query = request.url.query
    url = f"{runtime.settings.public_url.rstrip('/')}{request.url.path}" + (f"?{query}" if query else "")
    status = await handle_twilio_callback(runtime, url, params, request.headers.get(SIGNATURE_HEADER))
    return Response(content=b"", status_code=status)


ROUTES = [twilio_status_callback]
