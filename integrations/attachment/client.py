"""The HTTP client of the attachment contract; implements :class:`~integrations.attachment.protocol.AttachmentRegistry`.

One request per call, no retries, the deadline enforced with :func:`asyncio.timeout`; build ``http``
with :func:`integrations.common.http.build_http_client` (``inprocess://attachment`` → the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from integrations.attachment import wire
from integrations.attachment.protocol import (
    ApplicationForm,
    ApplicationInfo,
    ApplicationNotFound,
    ApplicationPending,
    AttachmentAccessDenied,
    AttachmentBadRequest,
    AttachmentMalformedReply,
    AttachmentRecord,
    AttachmentRefusal,
    AttachmentTimeout,
    AttachmentUnavailable,
    OrganisationNotFound,
    PersonNotInsured,
)
from integrations.common.http import JsonClient, JsonUpstream

DEFAULT_ERROR_MAP: Mapping[str, type[AttachmentRefusal]] = {
    "unauthorized": AttachmentAccessDenied,
    "bad_request": AttachmentBadRequest,
    "not_insured": PersonNotInsured,
    "organisation_not_found": OrganisationNotFound,
    "application_pending": ApplicationPending,
    "application_not_found": ApplicationNotFound,
}

UPSTREAM = JsonUpstream(
    name="Сервис прикрепления",
    not_json="Некорректный ответ сервиса прикрепления: не JSON",
    refusal=AttachmentRefusal,
    timeout=AttachmentTimeout,
    unavailable=AttachmentUnavailable,
    malformed=AttachmentMalformedReply,
)


class AttachmentClient(JsonClient):
    """``AttachmentClient(http, token=..., timeout_s=...)``; ``http`` carries the base URL."""

    upstream = UPSTREAM
    default_base_path = wire.BASE_PATH
    default_error_map = DEFAULT_ERROR_MAP

    async def get_attachment(self, oms_number: str) -> AttachmentRecord | None:
        body = await self._request("GET", f"/persons/{quote(oms_number, safe='')}/attachment")
        try:
            value = _obj(body).get("attachment")
            return None if value is None else wire.record_from_json(value)
        except wire.WireError as exc:
            raise AttachmentMalformedReply(f"Некорректный ответ сервиса прикрепления: {exc}") from exc

    async def submit(self, form: ApplicationForm, *, idempotency_key: str) -> ApplicationInfo:
        body = await self._request(
            "POST", "/applications", json_body=wire.form_json(form), headers={"Idempotency-Key": idempotency_key}
        )
        return _application(body)

    async def get_application(self, application_id: str) -> ApplicationInfo:
        return _application(await self._request("GET", f"/applications/{quote(application_id, safe='')}"))

    async def list_applications(
        self, *, oms_number: str | None = None, changed_since: datetime | None = None
    ) -> list[ApplicationInfo]:
        params: dict[str, str] = {}
        if oms_number is not None:
            params["oms_number"] = oms_number
        if changed_since is not None:
            params["changed_since"] = changed_since.replace(tzinfo=None).isoformat(timespec="seconds")
        body = await self._request("GET", "/applications", params=params)
        items = _obj(body).get("applications")
        if not isinstance(items, list):
            raise AttachmentMalformedReply("Некорректный ответ сервиса прикрепления: нет списка заявлений")
        return [_application(item) for item in items]


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AttachmentMalformedReply("Некорректный ответ сервиса прикрепления: ожидался объект")
    return body


def _application(body: Any) -> ApplicationInfo:
    try:
        return wire.application_from_json(body)
    except wire.WireError as exc:
        raise AttachmentMalformedReply(f"Некорректный ответ сервиса прикрепления: {exc}") from exc
