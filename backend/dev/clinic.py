"""Development-only triggers for what a clinic does on its side, so a demo needs no MIS and no waiting:

* ``POST /dev/home-visits/{number}/{change}`` — ``assign`` a doctor, ``on-the-way``, ``visited``, ``cancel``:
  the home-call simulator changes the request and pushes ``HandleHomeCallRequestChanged`` to our endpoint,
  exactly as a MIS does (the status, the timeline, the notification and the subscription follow);
* ``POST /dev/attachment/{application_id}/{decision}`` — ``accept``, ``complete``, ``reject``: the attachment
  simulator decides the application and our sync picks the change up (that upstream pushes nothing).

Mounted with ``/dev/sms`` only in the embedded and test profiles (:func:`backend.dev.routes.routes_for`),
refused in production, over the in-process simulators only; not part of the API contract.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter

from backend.attachment import service as attachment
from backend.runtime import Runtime
from integrations.attachment import RejectionReason
from integrations.attachment.simulator import simulator_state as attachment_state
from integrations.homecall import HomeCallStatus
from integrations.homecall.simulator import simulator_state as homecall_state

HOME_VISIT_CHANGES = {
    "assign": HomeCallStatus.DOCTOR_ASSIGNED,
    "on-the-way": HomeCallStatus.ON_THE_WAY,
    "visited": HomeCallStatus.VISITED,
    "cancel": HomeCallStatus.CANCELLED_BY_MO,
}
ATTACHMENT_DECISIONS = ("accept", "complete", "reject")


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    if runtime.settings.is_production:
        raise NotFoundException()
    return runtime


@post("/dev/home-visits/{number:str}/{change:str}", include_in_schema=False, status_code=200)
async def dev_home_visit_change(request: Request[Any, Any, Any], number: str, change: str) -> dict[str, Any]:
    runtime = _runtime(request)
    status = HOME_VISIT_CHANGES.get(change)
    if status is None:
        raise ValidationException(f"Изменение: одно из {', '.join(HOME_VISIT_CHANGES)}.")
    simulator = runtime.adapters.homecall_simulator
    if simulator is None:
        raise NotFoundException("Служба вызова врача на дом не симулятор: изменения делает МИС.")
    state = homecall_state(simulator)
    if number not in state.requests:
        raise NotFoundException(f"Вызов {number} не найден.")
    comment = "Врач не сможет прийти, запишитесь на прием" if status is HomeCallStatus.CANCELLED_BY_MO else None
    try:
        changed = await state.mis_change(number, status, comment=comment)
    except Exception as exc:  # the simulator's own rule (a change the status does not allow)
        raise ValidationException(f"Это изменение сейчас невозможно: {exc}") from None
    delivered = bool(state.deliveries) and state.deliveries[-1].ok
    return {"number": number, "status": changed.status.value, "pushed": delivered}


@post("/dev/attachment/{application_id:uuid}/{decision:str}", include_in_schema=False, status_code=200)
async def dev_attachment_decision(
    request: Request[Any, Any, Any],
    application_id: uuid.UUID,
    decision: str,
    reason: str = Parameter(query="reason", default=RejectionReason.AREA_OVERLOADED.value),
) -> dict[str, Any]:
    runtime = _runtime(request)
    if decision not in ATTACHMENT_DECISIONS:
        raise ValidationException(f"Решение: одно из {', '.join(ATTACHMENT_DECISIONS)}.")
    simulator = runtime.adapters.attachment_simulator
    if simulator is None:
        raise NotFoundException("Служба прикрепления не симулятор: решения принимает поликлиника.")
    upstream_id = await attachment.upstream_id_of(runtime, application_id)
    state = attachment_state(simulator)
    if upstream_id is None or upstream_id not in state.applications:
        raise NotFoundException(f"Заявление {application_id} не найдено.")
    try:
        if decision == "accept":
            state.accept(upstream_id)
        elif decision == "complete":
            state.complete(upstream_id)
        else:
            state.reject(upstream_id, RejectionReason(reason))
    except (KeyError, ValueError) as exc:
        raise ValidationException(f"Это решение сейчас невозможно: {exc}") from None
    changed = await attachment.sync(runtime)
    return {
        "application": str(application_id),
        "status": state.applications[upstream_id].status.value,
        "synced": changed,
    }


ROUTES = [dev_home_visit_change, dev_attachment_decision]
