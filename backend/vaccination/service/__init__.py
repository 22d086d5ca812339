"""The vaccination domain's service API: records and exemptions (СЭМД 170 through the documents domain, the
immunization register), the calendar's assessment, booking a dose through the booking core, certificates
and their public verification, the ``vaccination.due`` reminders and the staff coverage KPI."""

from backend.vaccination.service.booking import (
    SEARCH_DAYS,
    VaccinationAppointment,
    book_vaccination,
    dose_label,
    vaccination_bookings,
)
from backend.vaccination.service.certificates import (
    VERIFY_PATH,
    certificate_holder,
    certificate_of,
    certificate_pdf,
    certificates_of,
    chosen_records,
    issue_certificate,
    verify,
    verify_url,
)
from backend.vaccination.service.kpi import AGE_GROUPS, CoverageRow, age_group, coverage
from backend.vaccination.service.records import (
    IMPORT_INTERVAL,
    ExemptionView,
    PatientVaccinations,
    RecordView,
    assess,
    ensure_imported,
    import_register,
    merge,
    patient_vaccinations,
    person_of,
    vaccinations_of,
)
from backend.vaccination.service.reminders import ReminderRun, recipients, run_reminders, send_due

__all__ = [
    "AGE_GROUPS",
    "IMPORT_INTERVAL",
    "SEARCH_DAYS",
    "VERIFY_PATH",
    "CoverageRow",
    "ExemptionView",
    "PatientVaccinations",
    "RecordView",
    "ReminderRun",
    "VaccinationAppointment",
    "age_group",
    "assess",
    "book_vaccination",
    "certificate_holder",
    "certificate_of",
    "certificate_pdf",
    "certificates_of",
    "chosen_records",
    "coverage",
    "dose_label",
    "ensure_imported",
    "import_register",
    "issue_certificate",
    "merge",
    "patient_vaccinations",
    "person_of",
    "recipients",
    "run_reminders",
    "send_due",
    "vaccination_bookings",
    "vaccinations_of",
    "verify",
    "verify_url",
]
