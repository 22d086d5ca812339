"""Simulator of the ЕРЗЛ / insurer upstream (our contract, see :mod:`integrations.erzl.wire`).

``create_erzl_simulator(region)`` returns a Litestar app serving ``/erzl/v1``. Its people are the demo
region's: the ЕНП is the person's policy number, the insurer the one the region gave them (one of the
region's СМО below), the attached clinic's ФРМО OID the region's. Billed services are generated per
person from a seed of their ЕНП (the years before this one in full, this year up to today, never a
dispanserization this year), and tests add their own with :meth:`ErzlSimulatorState.add_service`.

The register's side of the scenarios is in the state's methods (tests call them, a served simulator
exposes them at ``POST /erzl/v1/_sim/...``):

* :meth:`~ErzlSimulatorState.delay_person` — the person's search answers "not found yet" (202 with
  ``retryAfter``) for a while, as on EPGU;
* :meth:`~ErzlSimulatorState.review` / :meth:`~ErzlSimulatorState.answer` / :meth:`~ErzlSimulatorState.close`
  — the insurer works an appeal; an upheld dispute marks the case's service as not paid;
* :meth:`~ErzlSimulatorState.process` / :meth:`~ErzlSimulatorState.complete` / :meth:`~ErzlSimulatorState.reject`
  — the TFOMS and the new insurer work a change application; completion moves the person's record to the
  new insurer (the old one closes and joins the history); ``auto_process`` / ``auto_complete`` do it by
  themselves after a while (the embedded demo), as ``auto_answer`` answers appeals;
* :meth:`~ErzlSimulatorState.insurer_exits` — an insurer leaves the region's OMS (326-ФЗ art. 16 exception).

The register applies 326-ФЗ art. 16 itself: an ordinary change is refused (``change_not_allowed``) after
1 November or when the person already changed insurer by an ordinary application this calendar year.

Faults as in the other simulators: ERROR → HTTP 503 with a JSON error, MALFORMED → a truncated JSON body
(the state is not touched), TIMEOUT → a stall, then normal processing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
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
from integrations.erzl import wire
from integrations.erzl.protocol import (
    AppealForm,
    ChangeForm,
)
from integrations.erzl.sim_state import (
    REGION_INSURERS,
    ErzlApiError,
    ErzlSimulatorState,
    SimAppeal,
    SimChange,
    _digits,
)


def create_erzl_simulator(  # noqa: PLR0915 - one closure per route
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
    auto_process: timedelta | None = None,
    auto_complete: timedelta | None = None,
    auto_answer: timedelta | None = None,
) -> Litestar:
    """The ЕРЗЛ / insurer upstream as an ASGI app; ``token=None`` accepts any caller."""
    state = ErzlSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        token=token,
        auto_process=auto_process,
        auto_complete=auto_complete,
        auto_answer=auto_answer,
    )
    base = wire.BASE_PATH

    async def guard(request: Request[Any, Any, Any], operation: str) -> Response[Any] | None:
        return await json_guard(state, request, operation, malformed=b'{"services": [{"caseId": ')

    async def body_of(request: Request[Any, Any, Any]) -> Any:
        try:
            return await request.json()
        except ValueError as exc:
            raise ErzlApiError(400, "bad_request", "Тело запроса не JSON") from exc

    def key_of(request: Request[Any, Any, Any]) -> str:
        key = request.headers.get("idempotency-key")
        if not key:
            raise ErzlApiError(400, "bad_request", "Не передан заголовок Idempotency-Key")
        return key

    @get(f"{base}/persons/policy")
    async def find_policy(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "find_policy")
        if refused is not None:
            return refused
        try:
            if not request.headers.get("x-consent-id"):
                raise ErzlApiError(403, "consent_required", "Нет согласия на обмен сведениями с ФОМС")
            person = state.find(request.query_params.get("snils"), request.query_params.get("esiaOid"))
            until = state.pending_until(person)
            if until is not None:
                return json_response({"state": "pending", "retryAfter": until.isoformat(timespec="seconds")}, 202)
            enp = _digits(person.oms_policy)
            record = state.record(person)
            history = state.histories.get(enp, [])
        except ErzlApiError as exc:
            return error_response(exc)
        return json_response({"state": "found", "policy": wire.to_json(record), "history": wire.to_json(history)})

    @get(f"{base}/insurers")
    async def list_insurers(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "list_insurers")
        if refused is not None:
            return refused
        region_code = request.query_params.get("region")
        found = list(state.insurers.values()) if region_code in (None, state.region.code) else []
        return json_response({"insurers": wire.to_json(found)})

    @get(f"{base}/persons/{{enp:str}}/services")
    async def billed_services(request: Request[Any, Any, Any], enp: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "billed_services")
        if refused is not None:
            return refused
        try:
            try:
                date_from = date.fromisoformat(request.query_params.get("from", ""))
                date_to = date.fromisoformat(request.query_params.get("to", ""))
            except ValueError as exc:
                raise ErzlApiError(400, "bad_request", "Укажите период: from и to (ГГГГ-ММ-ДД)") from exc
            if date_to < date_from:
                raise ErzlApiError(400, "bad_request", "Начало периода позже его конца")
            rows = state.services(enp, date_from, date_to)
        except ErzlApiError as exc:
            return error_response(exc)
        return json_response({"services": wire.to_json(rows)})

    @post(f"{base}/appeals", status_code=201)
    async def submit_appeal(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "submit_appeal")
        if refused is not None:
            return refused
        try:
            key = key_of(request)
            try:
                form = wire.from_json(AppealForm, await body_of(request))
            except wire.WireError as exc:
                raise ErzlApiError(400, "bad_request", f"Некорректное обращение: {exc}") from exc
            appeal, created = state.submit_appeal(form, key)
        except ErzlApiError as exc:
            return error_response(exc)
        return json_response(wire.to_json(state.appeal_info(appeal)), 201 if created else 200)

    @get(f"{base}/appeals/{{appeal_id:str}}")
    async def get_appeal(request: Request[Any, Any, Any], appeal_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "get_appeal")
        if refused is not None:
            return refused
        try:
            return json_response(wire.to_json(state.appeal_info(state.appeal(appeal_id))))
        except ErzlApiError as exc:
            return error_response(exc)

    @post(f"{base}/appeals/{{appeal_id:str}}/reopen", status_code=200)
    async def reopen_appeal(request: Request[Any, Any, Any], appeal_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "reopen_appeal")
        if refused is not None:
            return refused
        try:
            key = key_of(request)
            data = await body_of(request)
            comment = data.get("comment") if isinstance(data, dict) else None
            if not isinstance(comment, str) or not comment.strip():
                raise ErzlApiError(400, "bad_request", "Укажите, с чем вы не согласны")
            appeal = state.reopen(appeal_id, comment, key)
        except ErzlApiError as exc:
            return error_response(exc)
        return json_response(wire.to_json(state.appeal_info(appeal)))

    @post(f"{base}/changes", status_code=201)
    async def submit_change(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "submit_change")
        if refused is not None:
            return refused
        try:
            key = key_of(request)
            try:
                form = wire.from_json(ChangeForm, await body_of(request))
            except wire.WireError as exc:
                raise ErzlApiError(400, "bad_request", f"Некорректное заявление: {exc}") from exc
            change, created = state.submit_change(form, key)
        except ErzlApiError as exc:
            return error_response(exc)
        return json_response(wire.to_json(state.change_info(change)), 201 if created else 200)

    @get(f"{base}/changes/{{change_id:str}}")
    async def get_change(request: Request[Any, Any, Any], change_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "get_change")
        if refused is not None:
            return refused
        try:
            return json_response(wire.to_json(state.change_info(state.change(change_id))))
        except ErzlApiError as exc:
            return error_response(exc)

    @post(f"{base}/_sim/{{kind:str}}/{{item_id:str}}/{{action:str}}", status_code=200)
    async def register_side(
        request: Request[Any, Any, Any], kind: FromPath[str], item_id: FromPath[str], action: FromPath[str]
    ) -> Response[Any]:
        data = await request.json() if await request.body() else {}
        data = data if isinstance(data, dict) else {}
        try:
            if kind == "appeals":
                actions: dict[str, Callable[[], SimAppeal]] = {
                    "review": lambda: state.review(item_id),
                    "answer": lambda: state.answer(item_id, str(data.get("text", "")), upheld=bool(data.get("upheld"))),
                    "close": lambda: state.close(item_id),
                }
                return json_response(wire.to_json(state.appeal_info(actions[action]())))
            moves: dict[str, Callable[[], SimChange]] = {
                "process": lambda: state.process(item_id),
                "complete": lambda: state.complete(item_id),
                "reject": lambda: state.reject(item_id, str(data.get("reason", "Отказ"))),
            }
            return json_response(wire.to_json(state.change_info(moves[action]())))
        except (KeyError, ValueError, ErzlApiError) as exc:
            return json_response({"error": str(exc)}, 409)

    return simulator_app(
        [find_policy, list_insurers, billed_services, submit_appeal, get_appeal, reopen_appeal, submit_change,
         get_change, register_side],
        state,
    )  # fmt: skip


def simulator_state(app: Litestar) -> ErzlSimulatorState:
    return state_of(app, ErzlSimulatorState)


__all__ = ["REGION_INSURERS", "ErzlSimulatorState", "create_erzl_simulator", "simulator_state"]
