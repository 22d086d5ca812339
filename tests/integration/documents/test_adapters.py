"""The runtime's typed adapters for ИЭМК and НСИ: the ports, the in-process simulators by default (the
register on the runtime's clock), and the offline terminology."""

from __future__ import annotations

from datetime import timedelta

from backend.runtime import Runtime
from integrations.iemk import MedicalDocuments, RegistrationStatus
from integrations.nsi import ReferenceBooks
from tests.support.documents import demo_person, iemk_state, use_clock

REMD_TYPES = "1.2.643.5.1.13.13.11.1520"


async def test_the_register_adapter_is_the_port_on_the_runtime_clock(runtime: Runtime) -> None:
    clock = use_clock(runtime)
    assert isinstance(runtime.adapters.iemk, MedicalDocuments)
    person = demo_person(1)
    accepted = iemk_state(runtime).register_document(snils=person.snils, kind="170", delay=timedelta(hours=1))
    assert (await runtime.adapters.iemk.get_registration(accepted.local_uid)).status is RegistrationStatus.ACCEPTED
    clock.advance(hours=1)
    registered = await runtime.adapters.iemk.get_registration(accepted.local_uid)
    assert registered.status is RegistrationStatus.REGISTERED and registered.registry_number


async def test_the_reference_books_adapter_and_the_offline_terminology(runtime: Runtime) -> None:
    assert isinstance(runtime.adapters.nsi, ReferenceBooks)
    passport = await runtime.adapters.nsi.passport(REMD_TYPES)
    page = await runtime.adapters.nsi.data(REMD_TYPES, size=500)
    assert passport.oid == REMD_TYPES and page.rows
    assert runtime.adapters.terminology.display(REMD_TYPES, "119")
