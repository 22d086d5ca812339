"""Simulator of the attachment upstream (our contract, see :mod:`integrations.attachment.wire`).

``create_attachment_simulator(region)`` returns a Litestar app serving ``/attachment/v1`` and, for a
served simulator, the clinic's side at ``POST /attachment/v1/_sim/applications/{id}/{action}``
(``process`` | ``accept`` | ``complete`` | ``reject`` with ``{"reason": …, "comment": …}``).

Attachment lives in an :class:`~integrations.demo_region.areas.AttachmentRegister`; pass the one the
booking hub (:func:`integrations.fer.areas.use_register`) and the home-call simulators use, and a
completed application moves the person there too.

The clinic's decision (:meth:`AttachmentSimulatorState.process`) follows the rules clinics apply
(323-ФЗ art. 21, order 406н): the organisation must attach people and serve the person's age group,
the form must match the register, a minor applies through a confirmed legal representative (the
parent the region knows), the choice is made at most once a year except on a change of residence,
the person must not be attached there already, and an overloaded organisation refuses
(:meth:`~AttachmentSimulatorState.overload`). Decisions happen on the test hooks, or by themselves
``auto_process`` / ``auto_complete`` after submission / acceptance by the simulator's clock.

Faults as in the other simulators: ERROR → HTTP 503 with a JSON error, MALFORMED → a truncated JSON
body (the state is not touched), TIMEOUT → a stall, then normal processing.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from integrations.attachment import wire
from integrations.attachment.protocol import (
    ApplicationForm,
    ApplicationInfo,
    ApplicationStatus,
    AttachmentMethod,
    AttachmentRecord,
    RejectionReason,
    StatusStep,
)
from integrations.common.faults import FaultInjector, FaultProfile
from integrations.common.simulator import (
    SimulatorApiError,
    error_response,
    json_guard,
    json_response,
    naive_local,
    simulator_app,
    state_of,
)
from integrations.demo_region.areas import AttachmentRegister, is_child, serves_age
from integrations.demo_region.model import Person, Region
from integrations.fer.areas import AreaType

YEAR = timedelta(days=365)


class AttachmentApiError(SimulatorApiError):
    """A refusal of this simulator (``status_code``, ``code``, ``message``)."""


@dataclass(slots=True)
class SimApplication:
    id: str
    form: ApplicationForm
    person_oid: str
    idempotency_key: str
    submitted_at: datetime
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    updated_at: datetime | None = None
    history: list[StatusStep] = field(default_factory=list)
    rejection_reason: RejectionReason | None = None
    rejection_comment: str | None = None
    attached_on: date | None = None


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold().replace("ё", "е")


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


class AttachmentSimulatorState:
    def __init__(
        self,
        region: Region,
        *,
        faults: FaultInjector,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
        register: AttachmentRegister | None = None,
        auto_process: timedelta | None = None,
        auto_complete: timedelta | None = None,
        overloaded_mos: Iterable[str] = (),
    ) -> None:
        self.region = region
        self.faults = faults
        self.token = token
        self.tz = ZoneInfo(region.timezone)
        self._clock = clock or (lambda: datetime.now(self.tz))
        self.register = register or AttachmentRegister(region, today=self.now().date())
        self.auto_process = auto_process
        self.auto_complete = auto_complete
        self.overloaded: set[str] = set(overloaded_mos)
        self.calls: Counter[str] = Counter()
        self.applications: dict[str, SimApplication] = {}
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._by_policy = {_digits(p.oms_policy): p for p in region.people}
        self._by_snils = {_digits(p.snils): p for p in region.people}

    def now(self) -> datetime:
        return naive_local(self._clock(), self.tz)

    def overload(self, mo_id: str) -> None:
        self.overloaded.add(mo_id)

    # -- reads -------------------------------------------------------------------------------------

    def person(self, oms_number: str) -> Person:
        person = self._by_policy.get(_digits(oms_number))
        if person is None:
            raise AttachmentApiError(404, "not_insured", "Полис ОМС не найден в регистре застрахованных лиц")
        return person

    def record(self, oms_number: str) -> AttachmentRecord | None:
        person = self.person(oms_number)
        entry = self.register.current(person.esia_oid)
        if entry is None:
            return None
        mo = self.register.organisation(entry.mo_id)
        area = self.register.area(entry.area_id) if entry.area_id else None
        doctor = self.register.doctor(area.doctor_id) if area else None
        return AttachmentRecord(
            oms_number=person.oms_policy,
            mo_id=entry.mo_id,
            mo_oid=mo.oid if mo else None,
            mo_name=mo.name if mo else None,
            area_number=area.number if area else None,
            area_type=AreaType(area.area_type) if area else None,
            doctor_id=doctor.id if doctor else None,
            doctor_snils=doctor.snils if doctor else None,
            doctor_name=doctor.full_name if doctor else None,
            attached_on=entry.since,
            method=AttachmentMethod.APPLICATION if entry.by_application else AttachmentMethod.TERRITORIAL,
        )

    def info(self, app: SimApplication) -> ApplicationInfo:
        return ApplicationInfo(
            id=app.id,
            status=app.status,
            mo_id=app.form.mo_id,
            oms_number=app.form.person.oms_number,
            submitted_at=app.submitted_at,
            updated_at=app.updated_at or app.submitted_at,
            history=tuple(app.history),
            rejection_reason=app.rejection_reason,
            rejection_comment=app.rejection_comment,
            attached_on=app.attached_on,
        )

    def application(self, application_id: str) -> SimApplication:
        app = self.applications.get(application_id)
        if app is None:
            raise AttachmentApiError(404, "application_not_found", "Заявление не найдено")
        return app

    def search(self, oms_number: str | None, changed_since: datetime | None) -> list[SimApplication]:
        found = []
        for app in self.applications.values():
            if oms_number is not None and _digits(app.form.person.oms_number) != _digits(oms_number):
                continue
            if changed_since is not None and (app.updated_at or app.submitted_at) <= changed_since:
                continue
            found.append(app)
        return found

    # -- submission --------------------------------------------------------------------------------

    def submit(self, form: ApplicationForm, idempotency_key: str) -> tuple[SimApplication, bool]:
        """The application and whether it was created now (False: a repeated idempotency key)."""
        known = self._by_key.get(idempotency_key)
        if known is not None:
            return self.applications[known], False
        if self.register.organisation(form.mo_id) is None:
            raise AttachmentApiError(422, "organisation_not_found", "Медицинская организация не найдена")
        try:
            person = self.person(form.person.oms_number)
        except AttachmentApiError as exc:
            raise AttachmentApiError(422, exc.code, exc.message) from exc
        pending = [
            a
            for a in self.applications.values()
            if a.person_oid == person.esia_oid and a.status in (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED)
        ]
        if pending:
            raise AttachmentApiError(409, "application_pending", "У гражданина есть заявление на рассмотрении")
        now = self.now()
        app = SimApplication(
            id=f"ATT-{now:%Y%m%d}-{next(self._ids):05d}",
            form=form,
            person_oid=person.esia_oid,
            idempotency_key=idempotency_key,
            submitted_at=now,
            updated_at=now,
        )
        app.history.append(StatusStep(ApplicationStatus.SUBMITTED, now))
        self.applications[app.id] = app
        self._by_key[idempotency_key] = app.id
        return app, True

    # -- the clinic's side -------------------------------------------------------------------------

    def decide(self, app: SimApplication) -> RejectionReason | None:  # noqa: PLR0911  (one return per rule)
        """The rejection the clinic's rules give the application (None: acceptable)."""
        form = app.form
        person = self.region.person_by_oid(app.person_oid)
        today = self.now().date()
        mo = self.register.organisation(form.mo_id)
        if mo is None or not mo.attaches or not self.register.areas_of(form.mo_id):
            return RejectionReason.NOT_PRIMARY_CARE
        if form.person.birth_date != person.birth_date or _norm(form.person.last_name) != _norm(person.last_name):
            return RejectionReason.DATA_MISMATCH
        current = self.register.current(person.esia_oid)
        if current is not None and current.mo_id == form.mo_id:
            return RejectionReason.ALREADY_ATTACHED
        child = is_child(person, today)
        if not serves_age(self.register.areas_of(form.mo_id), child):
            return RejectionReason.AGE_GROUP_NOT_SERVED
        if child:
            rep = form.representative
            parent = self._by_snils.get(_digits(rep.snils)) if rep else None
            if parent is None or person.parent_oid != parent.esia_oid:
                return RejectionReason.REPRESENTATIVE_NOT_CONFIRMED
        last_choice = next((e for e in reversed(self.register.history(person.esia_oid)) if e.by_application), None)
        if last_choice is not None and today - last_choice.since < YEAR and not form.change_of_residence:
            return RejectionReason.ALREADY_CHANGED_THIS_YEAR
        if form.mo_id in self.overloaded:
            return RejectionReason.AREA_OVERLOADED
        return None

    def process(self, application_id: str) -> SimApplication:
        """The clinic looks at a submitted application: accepted, or rejected with the rule's reason."""
        app = self._in(application_id, ApplicationStatus.SUBMITTED)
        reason = self.decide(app)
        if reason is None:
            return self._step(app, ApplicationStatus.ACCEPTED, None)
        return self.reject(application_id, reason)

    def accept(self, application_id: str, comment: str | None = None) -> SimApplication:
        return self._step(self._in(application_id, ApplicationStatus.SUBMITTED), ApplicationStatus.ACCEPTED, comment)

    def complete(self, application_id: str, comment: str | None = None) -> SimApplication:
        app = self._in(application_id, ApplicationStatus.ACCEPTED)
        today = self.now().date()
        self.register.attach(app.person_oid, app.form.mo_id, today)
        app.attached_on = today
        return self._step(app, ApplicationStatus.COMPLETED, comment)

    def reject(self, application_id: str, reason: RejectionReason, comment: str | None = None) -> SimApplication:
        app = self._in(application_id, ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED)
        app.rejection_reason = reason
        app.rejection_comment = comment
        return self._step(app, ApplicationStatus.REJECTED, comment or reason.message_ru)

    def clinic_action(self, application_id: str, action: str, data: dict[str, Any]) -> SimApplication:
        """The served hook: ``process`` | ``accept`` | ``complete`` | ``reject`` (``reason``, ``comment``)."""
        comment = data.get("comment")
        if action == "process":
            return self.process(application_id)
        if action == "accept":
            return self.accept(application_id, comment)
        if action == "complete":
            return self.complete(application_id, comment)
        if action == "reject":
            return self.reject(application_id, RejectionReason(data.get("reason", "other")), comment)
        raise ValueError(f"unknown action {action}")

    def tick(self) -> None:
        """Apply the automatic decisions that are due by the clock."""
        now = self.now()
        for app in list(self.applications.values()):
            since = app.updated_at or app.submitted_at
            due_process = self.auto_process is not None and now - since >= self.auto_process
            if app.status is ApplicationStatus.SUBMITTED and due_process:
                self.process(app.id)
                since = app.updated_at or since
            due_complete = self.auto_complete is not None and now - since >= self.auto_complete
            if app.status is ApplicationStatus.ACCEPTED and due_complete:
                self.complete(app.id)

    def _in(self, application_id: str, *statuses: ApplicationStatus) -> SimApplication:
        app = self.applications.get(application_id)
        if app is None:
            raise KeyError(application_id)
        if app.status not in statuses:
            raise ValueError(f"application {application_id} is {app.status.value}")
        return app

    def _step(self, app: SimApplication, status: ApplicationStatus, comment: str | None) -> SimApplication:
        now = self.now()
        app.status = status
        app.updated_at = now
        app.history.append(StatusStep(status, now, comment))
        return app


def create_attachment_simulator(
    region: Region,
    *,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    token: str | None = None,
    register: AttachmentRegister | None = None,
    auto_process: timedelta | None = None,
    auto_complete: timedelta | None = None,
    overloaded_mos: Iterable[str] = (),
) -> Litestar:
    """The attachment upstream as an ASGI app; ``token=None`` accepts any caller."""
    state = AttachmentSimulatorState(
        region,
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock,
        token=token,
        register=register,
        auto_process=auto_process,
        auto_complete=auto_complete,
        overloaded_mos=overloaded_mos,
    )
    base = wire.BASE_PATH

    async def guard(request: Request[Any, Any, Any], operation: str) -> Response[Any] | None:
        return await json_guard(state, request, operation, malformed=b'{"applications": [{"id": ')

    @get(f"{base}/persons/{{oms_number:str}}/attachment")
    async def get_attachment(request: Request[Any, Any, Any], oms_number: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "get_attachment")
        if refused is not None:
            return refused
        try:
            record = state.record(oms_number)
        except AttachmentApiError as exc:
            return error_response(exc)
        return json_response({"attachment": None if record is None else wire.record_json(record)})

    @post(f"{base}/applications", status_code=201)
    async def submit(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "submit")
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        try:
            if not key:
                raise AttachmentApiError(400, "bad_request", "Не передан заголовок Idempotency-Key")
            try:
                form = wire.form_from_json(await request.json())
            except (wire.WireError, ValueError) as exc:
                raise AttachmentApiError(422, "bad_request", f"Некорректное заявление: {exc}") from exc
            app, created = state.submit(form, key)
        except AttachmentApiError as exc:
            return error_response(exc)
        return json_response(wire.application_json(state.info(app)), 201 if created else 200)

    @get(f"{base}/applications/{{application_id:str}}")
    async def get_application(request: Request[Any, Any, Any], application_id: FromPath[str]) -> Response[Any]:
        refused = await guard(request, "get_application")
        if refused is not None:
            return refused
        try:
            app = state.application(application_id)
        except AttachmentApiError as exc:
            return error_response(exc)
        return json_response(wire.application_json(state.info(app)))

    @get(f"{base}/applications")
    async def list_applications(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = await guard(request, "list_applications")
        if refused is not None:
            return refused
        since_text = request.query_params.get("changed_since")
        try:
            since = datetime.fromisoformat(since_text).replace(tzinfo=None) if since_text else None
        except ValueError:
            return error_response(AttachmentApiError(400, "bad_request", "Некорректный параметр changed_since"))
        found = state.search(request.query_params.get("oms_number"), since)
        return json_response({"applications": [wire.application_json(state.info(a)) for a in found]})

    @post(f"{base}/_sim/applications/{{application_id:str}}/{{action:str}}", status_code=200)
    async def clinic_side(
        request: Request[Any, Any, Any], application_id: FromPath[str], action: FromPath[str]
    ) -> Response[Any]:
        data = await request.json() if await request.body() else {}
        try:
            app = state.clinic_action(application_id, action, data if isinstance(data, dict) else {})
        except (KeyError, ValueError) as exc:
            return json_response({"error": str(exc)}, 409)
        return json_response(wire.application_json(state.info(app)))

    return simulator_app([get_attachment, submit, get_application, list_applications, clinic_side], state)


def simulator_state(app: Litestar) -> AttachmentSimulatorState:
    return state_of(app, AttachmentSimulatorState)
