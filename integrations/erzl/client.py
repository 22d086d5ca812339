"""The HTTP client of the ЕРЗЛ / insurer contract; implements :class:`~integrations.erzl.protocol.InsuranceRegister`.

One request per call, no retries, the deadline enforced with :func:`asyncio.timeout`; build ``http`` with
:func:`integrations.common.http.build_http_client` (``inprocess://erzl`` → the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

from integrations.common.http import JsonClient, JsonUpstream
from integrations.erzl import wire
from integrations.erzl.protocol import (
    AppealForm,
    AppealInfo,
    AppealNotFound,
    BilledService,
    CaseNotFound,
    ChangeForm,
    ChangeInfo,
    ChangeNotAllowed,
    ChangeNotFound,
    ChangePending,
    ConsentRequired,
    DisputeExists,
    ErzlAccessDenied,
    ErzlBadRequest,
    ErzlMalformedReply,
    ErzlRefusal,
    ErzlTimeout,
    ErzlUnavailable,
    Insurer,
    InsurerNotFound,
    PersonNotFound,
    PolicyFound,
    PolicyLookup,
    PolicyPending,
    PolicyRecord,
    ReopenNotAllowed,
)

T = TypeVar("T")

DEFAULT_ERROR_MAP: Mapping[str, type[ErzlRefusal]] = {
    "unauthorized": ErzlAccessDenied,
    "bad_request": ErzlBadRequest,
    "consent_required": ConsentRequired,
    "not_found": PersonNotFound,
    "case_not_found": CaseNotFound,
    "appeal_not_found": AppealNotFound,
    "dispute_exists": DisputeExists,
    "reopen_not_allowed": ReopenNotAllowed,
    "insurer_not_found": InsurerNotFound,
    "change_pending": ChangePending,
    "change_not_allowed": ChangeNotAllowed,
    "change_not_found": ChangeNotFound,
}

UPSTREAM = JsonUpstream(
    name="Сервис ОМС",
    not_json="Некорректный ответ сервиса ОМС: не JSON",
    refusal=ErzlRefusal,
    timeout=ErzlTimeout,
    unavailable=ErzlUnavailable,
    malformed=ErzlMalformedReply,
)


class ErzlClient(JsonClient):
    """``ErzlClient(http, token=..., timeout_s=...)``; ``http`` carries the base URL."""

    upstream = UPSTREAM
    default_base_path = wire.BASE_PATH
    default_error_map = DEFAULT_ERROR_MAP

    async def find_policy(
        self, *, consent_id: str, snils: str | None = None, esia_oid: str | None = None
    ) -> PolicyLookup:
        params = {k: v for k, v in (("snils", snils), ("esiaOid", esia_oid)) if v}
        status, body = await self._exchange(
            "GET", "/persons/policy", params=params, headers={"X-Consent-Id": consent_id}
        )
        data = _obj(body)
        if status == 202 or data.get("state") == "pending":
            return PolicyPending(retry_after=_parse(wire.from_json, PolicyPending, data).retry_after)
        record = _parse(wire.from_json, PolicyRecord, data.get("policy"))
        history = data.get("history") or []
        if not isinstance(history, list):
            raise ErzlMalformedReply("Некорректный ответ сервиса ОМС: history")
        return PolicyFound(record=record, history=tuple(_parse(wire.from_json, PolicyRecord, h) for h in history))

    async def list_insurers(self, region: str) -> list[Insurer]:
        _, body = await self._exchange("GET", "/insurers", params={"region": region})
        return _list(body, "insurers", Insurer)

    async def billed_services(self, enp: str, *, date_from: date, date_to: date) -> list[BilledService]:
        _, body = await self._exchange(
            "GET",
            f"/persons/{quote(enp, safe='')}/services",
            params={"from": date_from.isoformat(), "to": date_to.isoformat()},
        )
        return _list(body, "services", BilledService)

    async def submit_appeal(self, form: AppealForm, *, idempotency_key: str) -> AppealInfo:
        _, body = await self._exchange(
            "POST", "/appeals", json_body=wire.to_json(form), headers={"Idempotency-Key": idempotency_key}
        )
        return _parse(wire.from_json, AppealInfo, body)

    async def get_appeal(self, appeal_id: str) -> AppealInfo:
        _, body = await self._exchange("GET", f"/appeals/{quote(appeal_id, safe='')}")
        return _parse(wire.from_json, AppealInfo, body)

    async def reopen_appeal(self, appeal_id: str, *, comment: str, idempotency_key: str) -> AppealInfo:
        _, body = await self._exchange(
            "POST",
            f"/appeals/{quote(appeal_id, safe='')}/reopen",
            json_body={"comment": comment},
            headers={"Idempotency-Key": idempotency_key},
        )
        return _parse(wire.from_json, AppealInfo, body)

    async def submit_change(self, form: ChangeForm, *, idempotency_key: str) -> ChangeInfo:
        _, body = await self._exchange(
            "POST", "/changes", json_body=wire.to_json(form), headers={"Idempotency-Key": idempotency_key}
        )
        return _parse(wire.from_json, ChangeInfo, body)

    async def get_change(self, change_id: str) -> ChangeInfo:
        _, body = await self._exchange("GET", f"/changes/{quote(change_id, safe='')}")
        return _parse(wire.from_json, ChangeInfo, body)


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ErzlMalformedReply("Некорректный ответ сервиса ОМС: ожидался объект")
    return body


def _parse(parse: Any, kind: type[T], value: Any) -> T:
    try:
        return parse(kind, value)
    except wire.WireError as exc:
        raise ErzlMalformedReply(f"Некорректный ответ сервиса ОМС: {exc}") from exc


def _list(body: Any, key: str, kind: type[T]) -> list[T]:
    items = _obj(body).get(key)
    if not isinstance(items, list):
        raise ErzlMalformedReply(f"Некорректный ответ сервиса ОМС: нет списка {key}")
    return [_parse(wire.from_json, kind, item) for item in items]
