"""HTTP clients of the ЛЛО contract (:class:`LloClient`, a :class:`~integrations.llo.protocol.DrugRegistry`)
and of the clinic-requests contract (:class:`ClinicRequestsClient`, a
:class:`~integrations.llo.protocol.ClinicRequests`).

One request per call, no retries (the domain decides), the deadline enforced with :func:`asyncio.timeout`;
build ``http`` with :func:`integrations.common.http.build_http_client` (``inprocess://llo`` → the simulator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from integrations.common.http import JsonClient, JsonUpstream
from integrations.llo import wire
from integrations.llo.protocol import (
    AlreadyDeferred,
    AlreadyDispensed,
    Beneficiary,
    ClinicRequestForm,
    ClinicRequestInfo,
    DrugInStock,
    LloAccessDenied,
    LloBadRequest,
    LloEventPage,
    LloMalformedReply,
    LloRefusal,
    LloTimeout,
    LloUnavailable,
    NotBeneficiary,
    NotPreferential,
    Pharmacy,
    PharmacyNotFound,
    Prescription,
    PrescriptionExpired,
    PrescriptionNotFound,
    RenewalNotAllowed,
    RequestNotFound,
    RequestPending,
    StockItem,
)

T = TypeVar("T")

DEFAULT_ERROR_MAP: Mapping[str, type[LloRefusal]] = {
    "unauthorized": LloAccessDenied,
    "bad_request": LloBadRequest,
    "not_beneficiary": NotBeneficiary,
    "prescription_not_found": PrescriptionNotFound,
    "prescription_expired": PrescriptionExpired,
    "already_dispensed": AlreadyDispensed,
    "not_preferential": NotPreferential,
    "pharmacy_not_found": PharmacyNotFound,
    "drug_in_stock": DrugInStock,
    "already_deferred": AlreadyDeferred,
    "renewal_not_allowed": RenewalNotAllowed,
    "request_not_found": RequestNotFound,
    "request_pending": RequestPending,
}


def _upstream(name: str) -> JsonUpstream:
    return JsonUpstream(
        name=name,
        not_json=f"Некорректный ответ: {name.lower()} прислал не JSON",
        refusal=LloRefusal,
        timeout=LloTimeout,
        unavailable=LloUnavailable,
        malformed=LloMalformedReply,
    )


class _JsonClient(JsonClient):
    NAME = "Сервис"
    default_error_map = DEFAULT_ERROR_MAP

    async def aclose(self) -> None:
        """The httpx client is owned (and closed) by whoever built it."""

    def _parse(self, parse: Callable[[Any], T], body: Any) -> T:
        try:
            return parse(body)
        except wire.WireError as exc:
            raise LloMalformedReply(f"Некорректный ответ ({self.NAME.lower()}): {exc}") from exc

    def _items(self, body: Any, name: str, parse: Callable[[Any], T]) -> list[T]:
        items = body.get(name) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise LloMalformedReply(f"Некорректный ответ ({self.NAME.lower()}): нет списка {name}")
        return [self._parse(parse, item) for item in items]


class LloClient(_JsonClient):
    """``LloClient(http, token=..., timeout_s=...)``; ``http`` carries the base URL of the regional system."""

    NAME = "Сервис ЛЛО"
    upstream = _upstream(NAME)
    default_base_path = wire.LLO_BASE

    async def beneficiary(self, snils: str) -> Beneficiary | None:
        try:
            body = await self._request("GET", f"/beneficiaries/{quote(snils, safe='')}")
        except NotBeneficiary:
            return None
        return self._parse(wire.beneficiary_from_json, body)

    async def prescriptions(self, snils: str) -> list[Prescription]:
        body = await self._request("GET", "/prescriptions", params={"snils": snils})
        return self._items(body, "prescriptions", wire.prescription_from_json)

    async def prescription(self, prescription_id: str) -> Prescription:
        body = await self._request("GET", f"/prescriptions/{quote(prescription_id, safe='')}")
        return self._parse(wire.prescription_from_json, body)

    async def pharmacies(self) -> list[Pharmacy]:
        return self._items(await self._request("GET", "/pharmacies"), "pharmacies", wire.pharmacy_from_json)

    async def stock(self, mnn: str, dosage: str) -> list[StockItem]:
        body = await self._request("GET", "/stock", params={"mnn": mnn, "dosage": dosage})
        return self._items(body, "stock", wire.stock_from_json)

    async def defer(self, prescription_id: str, pharmacy_id: str, *, idempotency_key: str) -> Prescription:
        body = await self._request(
            "POST",
            f"/prescriptions/{quote(prescription_id, safe='')}/deferral",
            json_body={"pharmacyId": pharmacy_id},
            headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(wire.prescription_from_json, body)

    async def events(self, *, after: int, limit: int = 100) -> LloEventPage:
        body = await self._request("GET", "/events", params={"after": str(after), "limit": str(limit)})
        return self._parse(wire.event_page_from_json, body)


class ClinicRequestsClient(_JsonClient):
    """``ClinicRequestsClient(http, token=..., timeout_s=...)``: the clinic MIS's requests without a visit."""

    NAME = "Сервис заявок в поликлинику"
    upstream = _upstream(NAME)
    default_base_path = wire.REQUESTS_BASE

    async def submit(self, form: ClinicRequestForm, *, idempotency_key: str) -> ClinicRequestInfo:
        body = await self._request(
            "POST", "/requests", json_body=wire.form_json(form), headers={"Idempotency-Key": idempotency_key}
        )
        return self._parse(wire.request_from_json, body)

    async def get_request(self, request_id: str) -> ClinicRequestInfo:
        body = await self._request("GET", f"/requests/{quote(request_id, safe='')}")
        return self._parse(wire.request_from_json, body)

    async def list_requests(self, *, snils: str) -> list[ClinicRequestInfo]:
        body = await self._request("GET", "/requests", params={"snils": snils})
        return self._items(body, "requests", wire.request_from_json)
