"""Sync and reading: the baseline, announcements once per document, filters and paging, and what a broken
document, a bad signature or a register that times out does (the list holds; the item says why)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.documents import problems
from backend.documents import service as documents
from backend.documents.models import MedicalDocument
from backend.logging import configure_logging
from backend.outbox.models import OutboxMessage
from backend.runtime import Runtime
from integrations.iemk import DocumentPage, IemkTimeout, MedicalDocuments
from notifications import service as notifications
from tests.integration.documents.conftest import World
from tests.support.booking import ctx_for

pytestmark = pytest.mark.dialect  # SQLite too: the embedded single-user demo reads documents


class FlakyRegister:
    """The real client, except that the chosen calls time out."""

    def __init__(self, inner: MedicalDocuments) -> None:
        self.inner = inner
        self.list_fails = False
        self.cda_fails: set[str] = set()
        self.fetch_fails = False

    async def list_documents(self, **kwargs: Any) -> DocumentPage:
        if self.list_fails:
            raise IemkTimeout("no reply within 10 s")
        return await self.inner.list_documents(**kwargs)

    async def get_cda(self, registry_number: str, *, snils: str) -> bytes:
        if registry_number in self.cda_fails:
            raise IemkTimeout("no reply within 10 s")
        return await self.inner.get_cda(registry_number, snils=snils)

    async def fetch_document(self, registry_number: str, *, snils: str) -> Any:
        if self.fetch_fails:
            raise IemkTimeout("no reply within 10 s")
        return await self.inner.fetch_document(registry_number, snils=snils)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def flaky(runtime: Runtime) -> FlakyRegister:
    wrapper = FlakyRegister(runtime.adapters.iemk)
    runtime.adapters.iemk = wrapper  # type: ignore[assignment]
    return wrapper


async def _rows(runtime: Runtime, patient_id: uuid.UUID) -> list[MedicalDocument]:
    return await documents.list_documents(runtime, patient_id, first=100)


async def _announcements(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == notifications.TOPIC))
        return [r.payload for r in rows if r.payload["event"] == "document.ready"]


async def test_new_documents_appear_after_registration_and_are_announced_once(world: World) -> None:
    rt = world.runtime
    known = {r.registry_number for r in await _rows(rt, world.patient.id)}
    world.register.register_document(snils=world.patient.snils, kind="174", delay=timedelta(minutes=5))
    assert (await documents.sync_patient(rt, world.patient.id)).added == 0
    world.clock.advance(minutes=6)
    report = await documents.sync_patient(rt, world.patient.id)
    assert (report.added, report.announced) == (1, 1)
    again = await documents.sync_patient(rt, world.patient.id)
    assert (again.added, again.announced) == (0, 0)
    rows = await _rows(rt, world.patient.id)
    assert rows[0].kind == "174" and rows[0].registry_number not in known
    assert rows[0].content_status == "ok"
    announced = await _announcements(rt)
    assert [a["dedupe_key"] for a in announced] == [f"document:{rows[0].registry_number}:ready"]
    assert announced[0]["patient_id"] == str(world.patient.id)


async def test_list_filters_paging_newest_first(world: World) -> None:
    rt, patient = world.runtime, world.patient.id
    everything = await _rows(rt, patient)
    assert [r.created_at for r in everything] == sorted((r.created_at for r in everything), reverse=True)
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await documents.list_documents(rt, patient, first=2, after=cursor)
        seen.extend(r.id for r in page[:2])
        if len(page) <= 2:
            break
        cursor = documents.Cursor.of(page[1])
    assert seen == [r.id for r in everything]
    only = await documents.list_documents(rt, patient, first=100, filters=documents.DocumentFilter(kinds=("170",)))
    assert {r.kind for r in only} == {"170"}
    clinic = everything[0].org_oid
    at_clinic = await documents.list_documents(rt, patient, first=100, filters=documents.DocumentFilter(org_oid=clinic))
    assert at_clinic and {r.org_oid for r in at_clinic} == {clinic}
    day = (everything[0].created_at + timedelta(hours=3)).date()  # the register's days are Moscow days
    one_day = await documents.list_documents(
        rt, patient, first=100, filters=documents.DocumentFilter(date_from=day, date_to=day)
    )
    assert everything[0].id in {r.id for r in one_day}
    none = await documents.list_documents(
        rt, patient, first=100, filters=documents.DocumentFilter(date_to=date(2000, 1, 1))
    )
    assert none == []


async def test_a_malformed_cda_and_a_bad_signature_keep_the_list_and_say_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("INFO", json=True)  # as the app does: structlog through the standard library
    caplog.set_level(logging.WARNING, logger="backend.documents")
    rt = world.runtime
    rows = await _rows(rt, world.patient.id)
    malformed, tampered = rows[0], rows[1]
    world.register.corrupt(malformed.registry_number, "cda-malformed")
    world.register.corrupt(tampered.registry_number, "signature")
    ctx = ctx_for(world.patient.id)

    broken = await documents.open_document(rt, ctx, world.patient.id, malformed.id)
    assert broken.state == documents.ContentState.MALFORMED
    assert broken.message and "поврежден" in broken.message
    assert broken.sections == ()
    assert not any(s.valid for s in broken.signatures)

    bad = await documents.open_document(rt, ctx, world.patient.id, tampered.id)
    assert bad.state == documents.ContentState.OK and bad.sections
    doctor, organisation = bad.signatures
    assert (doctor.role, doctor.valid, organisation.valid) == ("doctor", False, True)
    assert doctor.problem and bad.message and "Подпись" in bad.message
    assert not bad.signatures_valid
    logged = " ".join(str(r.msg) for r in caplog.records)
    assert "documents.signature_invalid" in logged and "documents.open_malformed" in logged
    assert len(await _rows(rt, world.patient.id)) == len(rows)


async def test_a_document_that_does_not_read_at_sync_is_listed_as_malformed(world: World) -> None:
    rt = world.runtime
    world.register.register_document(snils=world.patient.snils, kind="119", delay=timedelta(minutes=1))
    world.clock.advance(minutes=2)
    number = (await rt.adapters.iemk.list_documents(snils=world.patient.snils, size=1)).items[0].registry_number
    world.register.corrupt(number, "cda-malformed")
    report = await documents.sync_patient(rt, world.patient.id)
    assert report.ok and report.added == 1
    row = (await _rows(rt, world.patient.id))[0]
    assert (row.registry_number, row.content_status) == (number, "malformed")
    assert row.content_error and row.facts == []
    profile = await documents.medical_profile(rt, None, world.patient.id)
    assert profile.unreadable_documents == 1


async def test_a_register_that_times_out_never_breaks_the_list(world: World) -> None:
    rt = world.runtime
    before = await _rows(rt, world.patient.id)
    register = flaky(rt)
    register.list_fails = True
    report = await documents.sync_patient(rt, world.patient.id)
    assert not report.ok and report.error == "IemkTimeout"
    assert [r.id for r in await _rows(rt, world.patient.id)] == [r.id for r in before]

    register.list_fails, register.fetch_fails = False, True
    opened = await documents.open_document(rt, ctx_for(world.patient.id), world.patient.id, before[0].id)
    assert opened.state == documents.ContentState.UNAVAILABLE and opened.message
    assert opened.signatures == ()

    # A CDA that times out at sync: listed as pending, read at the next sync.
    register.fetch_fails = False
    world.register.register_document(snils=world.patient.snils, kind="122", delay=timedelta(minutes=1))
    world.clock.advance(minutes=2)
    newest = (await rt.adapters.iemk.list_documents(snils=world.patient.snils, size=1)).items[0].registry_number
    register.cda_fails = {newest}
    assert (await documents.sync_patient(rt, world.patient.id)).added == 1
    assert (await _rows(rt, world.patient.id))[0].content_status == "pending"
    register.cda_fails = set()
    await documents.sync_patient(rt, world.patient.id)
    row = (await _rows(rt, world.patient.id))[0]
    assert row.content_status == "ok" and row.facts


async def test_reads_are_audited_with_the_reader(world: World) -> None:
    rt = world.runtime
    rows = await _rows(rt, world.patient.id)
    await documents.open_document(rt, ctx_for(world.patient.id), world.patient.id, rows[0].id)
    await documents.download_original(rt, ctx_for(world.patient.id), world.patient.id, rows[0].id)
    async with rt.sessionmaker() as session:
        actions: Sequence[str] = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == world.patient.id))
        )
    assert {"documents.document_read", "documents.document_downloaded"} <= set(actions)


async def test_another_patients_document_is_not_found(world: World, runtime: Runtime) -> None:
    rows = await _rows(runtime, world.patient.id)
    stranger = uuid.uuid4()
    with pytest.raises(problems.DocumentsError):
        await documents.open_document(runtime, ctx_for(stranger), stranger, rows[0].id)
