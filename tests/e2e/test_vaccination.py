"""Issue 20 end to end, over HTTP with the clients' own documents: a parent sees their child's overdue dose
(the calendar computed from the child's СЭМД 170 and the immunization register), books it in one step in
the vaccination room of the child's clinic through the booking core, the clinic records the visit upstream
as a new СЭМД 170, the documents sync brings it in and the dose moves to done; the certificate PDF lists it,
its QR code's address verifies at the public endpoint with the minimum shown, and a changed byte of the
signed payload fails verification."""

from __future__ import annotations

import re
from datetime import timedelta

from backend.booking import service as booking
from backend.directory.service import sync_directory
from backend.documents import service as documents
from backend.runtime import Runtime
from backend.vaccination.calendar import load_calendar
from backend.vaccination.codes import nsi_code_of
from tests.support.client import app_client
from tests.support.documents import iemk_state, use_clock
from tests.support.identity import auth_headers, token_for
from tests.support.vaccination import call, demo_family, pdf_info


def _vaccine_for(infection: str) -> tuple[str, str]:
    """(calendar vaccine, НСИ 1078 code) a clinic gives against ``infection``: a single-infection one first."""
    vaccines = sorted(load_calendar().vaccines, key=lambda v: len(v.infections))
    for vaccine in vaccines:
        code = nsi_code_of(vaccine.code)
        if infection in vaccine.infections and code is not None:
            return vaccine.code, code
    raise AssertionError(f"no vaccine with an НСИ code against {infection}")


async def test_a_parent_books_the_childs_overdue_dose_and_gets_a_verifiable_certificate(runtime: Runtime) -> None:
    clock = use_clock(runtime)
    summary = await sync_directory(runtime)  # the demo hub, with its vaccination rooms
    assert not summary.failures, summary.failures
    today = booking.local_day(runtime, clock.now)
    family = await demo_family(runtime, today)
    child_id = str(family.child.id)
    await documents.sync_patient(runtime, family.child.id)  # the child's СЭМД 170 from the register
    parent = auth_headers(token_for(runtime, family.parent.id))
    async with app_client(runtime) as http:
        # The calendar: the child's record holds no polio vaccination, so it is overdue (a catch-up).
        calendar = (await call(http, "mobile", "VaccinationCalendar", parent, actingFor=child_id))[
            "vaccinationCalendar"
        ]
        done = [i for i in calendar["items"] if i["status"] == "DONE"]
        assert done, "the doses of the child's СЭМД 170 are done"
        overdue = [i for i in calendar["due"] if i["status"] == "OVERDUE" and i["infection"]["code"] == "poliomyelitis"]
        assert overdue, calendar["due"]
        dose = overdue[0]
        assert dose["bookable"] and dose["catchUp"] and "1122н" in dose["reference"]
        infection = dose["infection"]["code"]

        # Book it in one step: the nearest slot of the vaccination room of the child's clinic.
        booked = (
            await call(http, "mobile", "BookVaccination", parent, infection=infection, idempotencyKey="vac-1",
                       actingFor=child_id)
        )["bookVaccination"]  # fmt: skip
        assert booked["__typename"] == "VaccinationBooked", booked
        appointment = booked["booking"]["appointment"]
        assert appointment["status"] == "BOOKED" and appointment["doctorName"].startswith("Прививочный кабинет")
        assert booked["booking"]["doseNumber"] == dose["doseNumber"]
        again = await call(http, "mobile", "BookVaccination", parent, infection=infection, idempotencyKey="vac-1",
                           actingFor=child_id)  # fmt: skip
        assert again["bookVaccination"]["booking"]["appointment"]["id"] == appointment["id"]  # the same booking

        # The visit: the clinic's MIS records the vaccination as a new СЭМД 170; the register registers it.
        _, nsi = _vaccine_for(infection)
        register = iemk_state(runtime)
        register.register_vaccination(
            snils=family.child.snils or "", given=[(nsi, today, "ИПВ-4711")], delay=timedelta(minutes=5)
        )
        clock.advance(minutes=6)
        report = await documents.sync_patient(runtime, family.child.id)
        assert (report.ok, report.added) == (True, 1)
        listed = await documents.list_documents(runtime, family.child.id, first=1)
        assert listed[0].kind == "170"

        # The dose moves to done.
        after = (await call(http, "mobile", "VaccinationCalendar", parent, actingFor=child_id))["vaccinationCalendar"]
        item = next(
            i for i in after["items"] if i["infection"]["code"] == infection and i["doseNumber"] == dose["doseNumber"]
        )
        assert item["status"] == "DONE" and item["doneOn"] == today.isoformat()
        history = (await call(http, "mobile", "MyVaccinations", parent, actingFor=child_id))["myVaccinations"]
        newest = history["records"][0]
        assert newest["givenOn"] == today.isoformat() and newest["lot"] == "ИПВ-4711" and newest["source"] == "semd"

        # The certificate against that infection: the PDF lists the vaccination, its QR code links to the check.
        issued = (
            await call(http, "mobile", "IssueVaccinationCertificate", parent, infections=[infection],
                       idempotencyKey="cert-1", actingFor=child_id)
        )["issueVaccinationCertificate"]  # fmt: skip
        assert issued["__typename"] == "VaccinationCertificateIssued", issued
        certificate = issued["certificate"]
        assert certificate["vaccinations"] >= 1
        pdf = await http.get(certificate["pdfUrl"], params={"actingFor": child_id}, headers=parent)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        assert certificate["verifyUrl"].encode() in pdf.content  # the link over the QR code holds the same URL
        assert newest["vaccineName"] in pdf_info(pdf.content, "Subject")  # «Прививки: …» lists what it certifies
        token = re.search(r"[?&]c=([A-Za-z0-9_.-]+)", certificate["verifyUrl"])
        assert token is not None

        # The public check: valid, the minimum only.
        path = "/api/v1/vaccination/verify"
        checked = await http.get(path, params={"c": token.group(1)})
        assert checked.status_code == 200, checked.text
        body = checked.json()
        assert body["valid"] is True
        assert body["birthYear"] == family.child.birth_date.year
        names = (family.child.last_name, family.child.first_name, family.child.middle_name or "")
        assert body["initials"] == " ".join(f"{n[0]}." for n in names if n)
        shown = load_calendar().vaccine(newest["vaccineCode"])  # the QR carries the calendar's code, shown named
        assert shown is not None and {"vaccine": shown.name, "date": today.isoformat()} in body["vaccinations"]
        assert family.child.last_name not in checked.text and (family.child.snils or "-") not in checked.text

        # One changed byte of the signed payload: not verified.
        header, payload, signature = token.group(1).split(".")
        flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
        forged = await http.get(path, params={"c": f"{header}.{flipped}.{signature}"})
        assert forged.status_code == 200 and forged.json()["valid"] is False
