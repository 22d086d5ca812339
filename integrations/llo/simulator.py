"""Simulator of the regional ЛЛО system and of the clinic MIS's requests (:mod:`integrations.llo.protocol`).

``create_llo_simulator(region)`` returns one Litestar app serving both contracts (``/llo/v1`` and
``/mis-requests/v1``, see :mod:`integrations.llo.wire`) and, for a served simulator, the other side's
hooks under ``…/_sim/``: the doctor issues a prescription, a pharmacy dispenses or is restocked, the clinic
processes, issues or refuses a request.

The world comes from the demo region: every person with drug rights is a beneficiary (federal categories
082/083, the regional R01 for diabetes), with the НСУ decision drawn from the seed; on first sight a
beneficiary has the prescriptions their doctor wrote a few days before the simulator started (metformin for
diabetes, enalapril for the disability groups, and one ordinary prescription), written in the region's order so
that their ids, series and numbers are the same in every process (``seed-demo`` prints them). Preferential
pharmacies stock the ЛЛО drugs, except metformin 1000 mg, which is out everywhere (the regional shortage the
deferred queue exists for).

Rules it keeps (``protocols.md`` §7): validity counts from the issue day (15 / 30 / 90 days); an open
prescription past its last day becomes ``expired`` — except one on deferred service, which the pharmacy
accepted in time; dispensing less than prescribed makes it ``partially_dispensed``; deferral only for a
preferential prescription at a preferential pharmacy that has no stock, due in ``deferral_days`` (10 by
default: the exact term is **unconfirmed**, 10 days per spbtr.ru, up to 15 elsewhere); a restock of that
drug at that pharmacy reserves it for the queue and raises ``drug_arrived``. Every change is an event in
the ordered feed. ``auto_restock`` / ``auto_decide`` make the demo move by itself on the simulator's clock.

The clinic refuses a renewal for a Schedule II narcotic or psychotropic drug (a visit is required) or
for a prescription that is not for a chronic disease, and a driving certificate for someone under 16.
A renewal issues a new prescription; a certificate becomes a СЭМД 166 registered through ``semd_hook``
(the composition root wires the ИЭМК simulator in; without a hook the result has no registry number).

Faults as in the other simulators: ERROR → HTTP 503, MALFORMED → a truncated JSON body, TIMEOUT → a
stall; none of them touches the state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from integrations.common.faults import FaultInjector, FaultProfile
from integrations.common.simulator import (
    error_response,
    json_guard,
    json_response,
    simulator_app,
    state_of,
)
from integrations.demo_region.model import Region
from integrations.llo import wire
from integrations.llo.protocol import (
    Drug,
    StockItem,
)
from integrations.llo.sim_state import (
    ATORVASTATIN,
    BISOPROLOL,
    ENALAPRIL,
    METFORMIN,
    MORPHINE,
    LloApiError,
    LloSimulatorState,
    SemdHook,
)


def _drug(data: dict[str, Any]) -> Drug:
    return Drug(str(data["mnn"]), str(data["dosage"]), narcotic_schedule=data.get("narcoticSchedule"))


def create_llo_simulator(  # noqa: PLR0915 - one handler per operation
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
    semd_hook: SemdHook | None = None,
    deferral_days: int = 10,
    auto_restock: timedelta | None = None,
    auto_decide: timedelta | None = None,
) -> Litestar:
    """The ЛЛО system and the clinic-requests service as one ASGI app; ``token=None`` accepts any caller."""
    state = LloSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        token=token,
        semd_hook=semd_hook,
        deferral_days=deferral_days,
        auto_restock=auto_restock,
        auto_decide=auto_decide,
    )
    llo, mis = wire.LLO_BASE, wire.REQUESTS_BASE

    async def guard(request: Request[Any, Any, Any], operation: str) -> Response[Any] | None:
        return await json_guard(state, request, operation, malformed=b'{"prescriptions": [{"id": ')

    async def serve(request: Request[Any, Any, Any], operation: str, answer: Callable[[], Any]) -> Response[Any]:
        refused = await guard(request, operation)
        if refused is not None:
            return refused
        try:
            return json_response(answer())
        except LloApiError as exc:
            return error_response(exc)

    @get(f"{llo}/beneficiaries/{{snils:str}}")
    async def beneficiary(request: Request[Any, Any, Any], snils: FromPath[str]) -> Response[Any]:
        return await serve(request, "beneficiary", lambda: wire.beneficiary_json(state.beneficiary(snils).record()))

    @get(f"{llo}/prescriptions")
    async def prescriptions(request: Request[Any, Any, Any]) -> Response[Any]:
        snils = request.query_params.get("snils") or ""
        return await serve(
            request,
            "prescriptions",
            lambda: {"prescriptions": [wire.prescription_json(p) for p in state.prescriptions_of(snils)]},
        )

    @get(f"{llo}/prescriptions/{{prescription_id:str}}")
    async def prescription(request: Request[Any, Any, Any], prescription_id: FromPath[str]) -> Response[Any]:
        return await serve(request, "prescription", lambda: wire.prescription_json(state.prescription(prescription_id)))

    @get(f"{llo}/pharmacies")
    async def pharmacies(request: Request[Any, Any, Any]) -> Response[Any]:
        return await serve(
            request, "pharmacies", lambda: {"pharmacies": [wire.pharmacy_json(p) for p in state.pharmacies.values()]}
        )

    @get(f"{llo}/stock")
    async def stock(request: Request[Any, Any, Any]) -> Response[Any]:
        mnn, dosage = request.query_params.get("mnn") or "", request.query_params.get("dosage") or ""

        def answer() -> Any:
            items = [
                StockItem(pharmacy_id, mnn, dosage, quantity, state.stock_updated[(pharmacy_id, m, d)])
                for (pharmacy_id, m, d), quantity in state.stock.items()
                if (m, d) == (mnn, dosage) and quantity > 0
            ]
            return {"stock": [wire.stock_json(s) for s in items]}

        return await serve(request, "stock", answer)

    @post(f"{llo}/prescriptions/{{prescription_id:str}}/deferral", status_code=200)
    async def defer(request: Request[Any, Any, Any], prescription_id: FromPath[str]) -> Response[Any]:
        key = request.headers.get("idempotency-key") or ""
        body = await request.json() if await request.body() else {}

        def answer() -> Any:
            if not key:
                raise LloApiError(400, "bad_request", "Не передан заголовок Idempotency-Key")
            pharmacy_id = body.get("pharmacyId") if isinstance(body, dict) else None
            if not isinstance(pharmacy_id, str):
                raise LloApiError(422, "bad_request", "Не указана аптека")
            return wire.prescription_json(state.defer(prescription_id, pharmacy_id, key))

        return await serve(request, "defer", answer)

    @get(f"{llo}/events")
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        def answer() -> Any:
            try:
                after = int(request.query_params.get("after") or 0)
                limit = min(max(int(request.query_params.get("limit") or 100), 1), 500)
            except ValueError as exc:
                raise LloApiError(400, "bad_request", "Некорректный курсор") from exc
            page = state.events[after : after + limit]
            return {"events": [wire.event_json(e) for e in page], "last": page[-1].seq if page else after}

        return await serve(request, "events", answer)

    @post(f"{llo}/_sim/{{action:str}}", status_code=200)
    async def llo_side(request: Request[Any, Any, Any], action: FromPath[str]) -> Response[Any]:
        data = await request.json() if await request.body() else {}
        try:
            if action == "restock":
                arrived = state.restock(str(data["pharmacyId"]), _drug(data), int(data["quantity"]))
                return json_response({"arrived": [p.id for p in arrived]})
            if action == "dispense":
                p = state.dispense(str(data["prescriptionId"]), str(data["pharmacyId"]), int(data["quantity"]))
                return json_response(wire.prescription_json(p))
            if action == "prescriptions":
                p = state.issue(
                    str(data["snils"]), _drug(data["drug"]), quantity=int(data["quantity"]),
                    valid_days=int(data["validDays"]), benefit_code=data.get("benefitCode"),
                    chronic=bool(data.get("chronic")),
                )  # fmt: skip
                return json_response(wire.prescription_json(p))
        except LloApiError as exc:
            return error_response(exc)
        except (KeyError, ValueError, TypeError) as exc:
            return json_response({"error": {"code": "bad_request", "message": str(exc)}}, 400)
        return json_response({"error": {"code": "bad_request", "message": f"unknown action {action}"}}, 404)

    @post(f"{mis}/requests", status_code=201)
    async def submit(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "submit")
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        try:
            if not key:
                raise LloApiError(400, "bad_request", "Не передан заголовок Idempotency-Key")
            try:
                form = wire.form_from_json(await request.json())
            except (wire.WireError, ValueError) as exc:
                raise LloApiError(422, "bad_request", f"Некорректная заявка: {exc}") from exc
            found, created = state.submit(form, key)
        except LloApiError as exc:
            return error_response(exc)
        return json_response(wire.request_json(found.info), 201 if created else 200)

    @get(f"{mis}/requests/{{request_id:str}}")
    async def get_request(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
        return await serve(request, "get_request", lambda: wire.request_json(state.request(request_id).info))

    @get(f"{mis}/requests")
    async def list_requests(request: Request[Any, Any, Any]) -> Response[Any]:
        snils = request.query_params.get("snils") or ""
        return await serve(
            request,
            "list_requests",
            lambda: {"requests": [wire.request_json(r.info) for r in state.requests_of(snils)]},
        )

    @post(f"{mis}/_sim/requests/{{request_id:str}}/{{action:str}}", status_code=200)
    async def clinic_side(
        request: Request[Any, Any, Any], request_id: FromPath[str], action: FromPath[str]
    ) -> Response[Any]:
        data = await request.json() if await request.body() else {}
        try:
            if action == "review":
                found = state.review(request_id)
            elif action == "decide":
                found = state.decide(request_id)
            elif action == "refuse":
                found = state.refuse(request_id, str(data.get("reason") or "Требуется очный приём"))
            else:
                return json_response({"error": {"code": "bad_request", "message": f"unknown action {action}"}}, 404)
        except LloApiError as exc:
            return error_response(exc)
        except ValueError as exc:
            return json_response({"error": {"code": "conflict", "message": str(exc)}}, 409)
        return json_response(wire.request_json(found.info))

    return simulator_app(
        [beneficiary, prescriptions, prescription, pharmacies, stock, defer, events, llo_side, submit, get_request,
         list_requests, clinic_side],
        state,
    )  # fmt: skip


def simulator_state(app: Litestar) -> LloSimulatorState:
    return state_of(app, LloSimulatorState)


__all__ = [
    "ATORVASTATIN",
    "BISOPROLOL",
    "ENALAPRIL",
    "METFORMIN",
    "MORPHINE",
    "LloSimulatorState",
    "create_llo_simulator",
    "simulator_state",
]
