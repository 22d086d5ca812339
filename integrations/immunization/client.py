"""The HTTP client of the immunization register (FHIR R4 JSON, see :mod:`.protocol`); implements
:class:`~integrations.immunization.protocol.ImmunizationRegister`.

One request per call, no retries, the deadline enforced with :func:`asyncio.timeout`; build ``http`` with
:func:`integrations.common.http.build_http_client` (``inprocess://immunization`` → the simulator).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from integrations.immunization import wire
from integrations.immunization.protocol import (
    RegisterAccessDenied,
    RegisterBadRequest,
    RegisterExemption,
    RegisterImmunization,
    RegisterMalformedReply,
    RegisterPersonNotFound,
    RegisterRejected,
    RegisterTimeout,
    RegisterUnavailable,
)

BASE_PATH = "/immunization/fhir"
_ERRORS: dict[int, type[RegisterRejected]] = {
    400: RegisterBadRequest,
    401: RegisterAccessDenied,
    403: RegisterAccessDenied,
    404: RegisterPersonNotFound,
}


def snils_digits(snils: str) -> str:
    return re.sub(r"\D", "", snils)


class ImmunizationClient:
    """``ImmunizationClient(http, token=..., timeout_s=...)``; ``http`` carries the base URL."""

    def __init__(self, http: httpx.AsyncClient, *, token: str | None, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._token = token
        self._timeout_s = timeout_s

    async def immunizations(self, snils: str) -> list[RegisterImmunization]:
        body = await self._get(f"/persons/{snils_digits(snils)}/immunizations")
        try:
            return [wire.immunization_from_json(r) for r in wire.resources_of(body)]
        except (wire.WireError, AttributeError, TypeError) as exc:
            raise RegisterMalformedReply(f"Некорректный ответ регистра прививок: {exc}") from exc

    async def exemptions(self, snils: str) -> list[RegisterExemption]:
        body = await self._get(f"/persons/{snils_digits(snils)}/exemptions")
        try:
            return [wire.exemption_from_json(r) for r in wire.resources_of(body)]
        except (wire.WireError, AttributeError, TypeError) as exc:
            raise RegisterMalformedReply(f"Некорректный ответ регистра прививок: {exc}") from exc

    async def _get(self, path: str) -> Any:
        headers = {"Accept": "application/fhir+json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.get(f"{BASE_PATH}{path}", headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise RegisterTimeout(f"Регистр прививок не ответил за {self._timeout_s:g} с") from exc
        except httpx.HTTPError as exc:
            raise RegisterUnavailable(f"Регистр прививок недоступен: {exc}") from exc
        if response.status_code >= 500:
            raise RegisterUnavailable(f"Регистр прививок ответил HTTP {response.status_code}")
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise RegisterMalformedReply("Некорректный ответ регистра прививок: не JSON") from exc
        if response.status_code >= 400:
            issue = (body.get("issue") or [{}])[0] if isinstance(body, dict) else {}
            code = str(issue.get("code") or "error")
            message = str(issue.get("diagnostics") or "Отказ без описания")
            raise _ERRORS.get(response.status_code, RegisterRejected)(code, message, status_code=response.status_code)
        return body
