"""``GET /dev/sms``: the SMS this process "sent" — one-time codes (identity's in-memory sender) and
notifications (the in-process SMS simulator) — so every demo flow can be followed without a phone.

Mounted only in the embedded and test profiles (:func:`routes_for`); the handler refuses production too.
Not part of the API contract (``include_in_schema=False``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, ValidationException

from backend.dev import clinic
from backend.identity.service import MemorySmsSender, sms_sender
from backend.runtime import Runtime
from backend.settings import Settings
from integrations.smp.simulator import simulator_state as smp_state
from integrations.sms.simulator import SmscSimulatorState, TwilioSimulatorState

NOTE = "Только для разработки: SMS, которые «отправили» симуляторы этого процесса (новые сверху)."


def _at(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


def sent_sms(runtime: Runtime) -> list[dict[str, Any]]:
    """What the simulators of ``runtime`` were asked to send, newest first."""
    messages: list[dict[str, Any]] = []
    sender = sms_sender(runtime)
    if isinstance(sender, MemorySmsSender):
        messages += [
            {"to": m.phone, "text": m.text, "source": "коды подтверждения", "at": None}
            for m in reversed(sender.messages)
        ]
    simulator = runtime.adapters.sms_simulator
    state = getattr(simulator.state, "simulator", None) if simulator is not None else None
    if isinstance(state, SmscSimulatorState):
        messages += [
            {"to": f"+{m.phone}", "text": m.mes, "source": "уведомления", "at": _at(m.created)}
            for m in reversed(state.messages)
        ]
    elif isinstance(state, TwilioSimulatorState):
        messages += [
            {"to": m.to, "text": m.body, "source": "уведомления", "at": _at(m.date_created)}
            for m in sorted(state.messages.values(), key=lambda m: m.date_created, reverse=True)
        ]
    return messages


@get("/dev/sms", include_in_schema=False)
async def dev_sms(request: Request[Any, Any, Any]) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    if runtime.settings.is_production:
        raise NotFoundException()
    return {"note": NOTE, "messages": sent_sms(runtime)}


@post("/dev/ambulance/call", include_in_schema=False, status_code=201)
async def dev_ambulance_call(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The demo's "call 103/112": the in-process СМП simulator places a call for demo person ``person`` (for
    ``forChild``) and plays it in real time (``moe-zdorovye ambulance-call``)."""
    runtime: Runtime = request.app.state.runtime
    app = runtime.adapters.smp_simulator
    if runtime.settings.is_production or app is None:
        raise NotFoundException()
    data = await request.json()
    state = smp_state(app)
    try:
        call_id = state.person_call(int(data["person"]), for_child=data.get("forChild"))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValidationException(f"person: a demo person's index ({exc})") from None
    state.start()
    return {"callId": call_id}


def routes_for(settings: Settings) -> list[Any]:
    """The development routes for ``settings``: none in production."""
    return [] if settings.is_production else [dev_sms, dev_ambulance_call, *clinic.ROUTES]
