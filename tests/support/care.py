"""Set-up for referrals, no-shows and dispanserization tests (issue 24): the booking tests' small region with
the adult polyclinic's prevention and diagnostic rooms, a narrow specialist booked by referral, the hub
client with the referral operations, and the attachment simulator sharing the region's register."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import time
from typing import Any

from backend.booking import service
from backend.directory.service import sync_directory
from backend.runtime import Runtime
from integrations.attachment import AttachmentClient
from integrations.attachment.simulator import create_attachment_simulator
from integrations.common.http import build_http_client
from integrations.demo_region.areas import AttachmentRegister
from integrations.demo_region.generator import PREVENTION_ROOMS
from integrations.demo_region.model import Doctor, Region, Specialty, WorkingHours
from integrations.fer.referrals import FerReferralsClient, issue_referral
from integrations.fer.simulator import create_fer_simulator, simulator_state
from tests.support.booking import ADULT_MO, CARDIOLOGIST, THERAPIST, TODAY, BookingEnv, Clock, make_region

ROOM_SPECIALTIES = (
    Specialty("9001", "Кабинет медицинской профилактики", 15, True),
    Specialty("9002", "Кабинет ЭКГ", 12, True),
    Specialty("9003", "Флюорографический кабинет", 12, True),
    Specialty("9004", "Маммографический кабинет", 15, True),
    Specialty("9005", "Процедурный кабинет", 12, True),
    Specialty("9006", "Эндоскопический кабинет", 30, True),
)
GYNAECOLOGIST = "doc-gyn-1"
ROOM_IDS = {code: f"room-{code}" for code, _, _ in PREVENTION_ROOMS}
#: Women born 1984 (index 24 of the booking region's people): 41 in 2025, due for dispanserization.
DUE_WOMAN = 24


def care_region() -> Region:
    region = make_region()
    organisations = []
    for mo in region.organisations:
        if mo.id == ADULT_MO:
            rooms = tuple(
                Doctor(
                    id=ROOM_IDS[code],
                    snils=f"100-000-0{n:02d} 00",
                    last_name=last,
                    first_name=first,
                    middle_name=middle,
                    specialty_code=code,
                    department_id=mo.departments[0].id,
                    room=room,
                    hours=tuple(WorkingHours(d, time(8), time(14)) for d in range(5)),
                    weeks_ahead=2,
                )
                for n, (code, (last, first, middle), room) in enumerate(PREVENTION_ROOMS)
            )
            gynaecologist = dataclasses.replace(
                mo.doctors[0], id=GYNAECOLOGIST, specialty_code="2", last_name="Орлова", room="205"
            )
            organisations.append(dataclasses.replace(mo, doctors=(*mo.doctors, gynaecologist, *rooms)))
        else:
            organisations.append(mo)
    return dataclasses.replace(
        region,
        specialties=(*region.specialties, Specialty("2", "Акушер-гинеколог", 20, True), *ROOM_SPECIALTIES),
        organisations=tuple(organisations),
    )


@dataclass
class CareEnv(BookingEnv):
    register: AttachmentRegister | None = None

    def issue(self, person: int, specialty: str = "22", **kwargs: Any) -> str:
        """A referral issued by the therapist of the adult clinic (the MIS's side, on the simulator)."""
        return issue_referral(
            self.state,
            person_oid=self.region.people[person].esia_oid,
            specialty_code=specialty,
            issuer_doctor_id=kwargs.pop("issuer", THERAPIST),
            **kwargs,
        )

    @property
    def referrals(self) -> FerReferralsClient:
        assert isinstance(self.client, FerReferralsClient)
        return self.client


async def start_care(runtime: Runtime) -> CareEnv:
    region = care_region()
    clock = Clock()
    app = create_fer_simulator(region, clock=clock)
    http = build_http_client("inprocess://fer", simulator_app=lambda: app, timeout_s=2.0)
    client = FerReferralsClient(http, guid="test-guid", timeout_s=2.0)
    runtime.adapters.set_fer(client, http=http)
    service.set_clock(runtime, clock)
    summary = await sync_directory(runtime, hub=client)
    assert not summary.failures, summary.failures
    register = AttachmentRegister(region, today=TODAY)
    runtime.adapters.attachment_register = register
    settings = runtime.settings
    attachment_app = create_attachment_simulator(
        region, clock=clock, token=settings.attachment_token, register=register
    )
    http2 = build_http_client("inprocess://attachment", simulator_app=lambda: attachment_app, timeout_s=2.0)
    runtime.adapters.set_attachment(
        AttachmentClient(http2, token=settings.attachment_token, timeout_s=2.0), http=http2, simulator=attachment_app
    )
    state = simulator_state(app)
    return CareEnv(runtime, app, state, client, clock, region, state.faults, register)


__all__ = ["CARDIOLOGIST", "DUE_WOMAN", "ROOM_IDS", "CareEnv", "care_region", "start_care"]
