"""Typed problems of the vaccination domain: a stable code and a Russian message, nothing else.

Plain exceptions (no Strawberry, no ``backend.api``): the API layer maps them onto its ``Problem`` union
members when vaccination is wired into the schema.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def russian_date(day: date) -> str:
    """«5 марта 2026 г.»"""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year} г."


class VaccinationProblem(Exception):
    """Base of the domain's business failures."""

    CODE: ClassVar[str] = "VACCINATION_PROBLEM"

    def __init__(self, message: str) -> None:
        message = message.replace("г..", "г.")
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.CODE


class ExemptionInForce(VaccinationProblem):
    """A medical exemption (медотвод) covers this infection on that date."""

    CODE: ClassVar[str] = "VACCINATION_EXEMPTION_IN_FORCE"

    def __init__(self, infection_name: str, until: date | None) -> None:
        self.infection_name = infection_name
        self.until = until
        if until is None:
            text = f"Действует постоянный медицинский отвод от прививки ({infection_name.lower()})."
        else:
            text = (
                f"Действует медицинский отвод от прививки ({infection_name.lower()}) "
                f"до {russian_date(until)} включительно."
            )
        super().__init__(text)


class TooEarlyForNextDose(VaccinationProblem):
    """The next dose cannot be given yet: minimal age or minimal interval after the previous dose."""

    CODE: ClassVar[str] = "VACCINATION_TOO_EARLY"

    def __init__(self, infection_name: str, dose_label: str, earliest: date, reference: str) -> None:
        self.infection_name = infection_name
        self.dose_label = dose_label
        self.earliest = earliest
        self.reference = reference
        super().__init__(
            f"Рано для прививки «{dose_label}» ({infection_name.lower()}): "
            f"ее можно сделать не раньше {russian_date(earliest)} ({reference})."
        )


class NotInCalendarForAge(VaccinationProblem):
    """The calendar does not provide this vaccination at this age (or for this person)."""

    CODE: ClassVar[str] = "VACCINATION_NOT_IN_CALENDAR_FOR_AGE"

    def __init__(self, infection_name: str, reference: str | None = None) -> None:
        self.infection_name = infection_name
        self.reference = reference
        text = f"Прививка ({infection_name.lower()}) не предусмотрена календарем прививок для этого возраста."
        if reference:
            text = f"{text[:-1]} ({reference})."
        super().__init__(text)


class ByIndicationOnly(VaccinationProblem):
    """The calendar by epidemic indications lists the infection without a schedule: a doctor decides."""

    CODE: ClassVar[str] = "VACCINATION_BY_INDICATION_ONLY"

    def __init__(self, infection_name: str, reference: str) -> None:
        self.infection_name = infection_name
        self.reference = reference
        super().__init__(
            f"Прививка ({infection_name.lower()}) делается только по эпидемическим показаниям, "
            f"по назначению врача ({reference})."
        )


class SeriesComplete(VaccinationProblem):
    """Every dose of the series is done and no periodic revaccination is provided."""

    CODE: ClassVar[str] = "VACCINATION_SERIES_COMPLETE"

    def __init__(self, infection_name: str) -> None:
        self.infection_name = infection_name
        super().__init__(f"Все прививки ({infection_name.lower()}) по календарю уже сделаны.")


class UnknownInfection(VaccinationProblem):
    CODE: ClassVar[str] = "VACCINATION_UNKNOWN_INFECTION"

    def __init__(self, code: str) -> None:
        self.infection = code
        super().__init__("Такой инфекции нет в календаре прививок.")


class UnknownVaccine(VaccinationProblem):
    CODE: ClassVar[str] = "VACCINATION_UNKNOWN_VACCINE"

    def __init__(self, code: str) -> None:
        self.vaccine = code
        super().__init__("Такой вакцины нет в справочнике календаря прививок.")


class UnknownRiskGroup(VaccinationProblem):
    CODE: ClassVar[str] = "VACCINATION_UNKNOWN_RISK_GROUP"

    def __init__(self, code: str) -> None:
        self.risk_group = code
        super().__init__("Такой группы риска нет в календаре прививок.")


class NothingToCertify(VaccinationProblem):
    """The certificate would list no vaccination (none recorded, or none against the chosen infections)."""

    CODE: ClassVar[str] = "VACCINATION_NOTHING_TO_CERTIFY"

    def __init__(self) -> None:
        super().__init__(
            "Нет сведений о прививках для сертификата: выберите другие инфекции или дождитесь, пока поликлиника "
            "внесет сведения о сделанной прививке."
        )


class NotAVaccinationRoom(VaccinationProblem):
    """The slot chosen for a vaccination is not a vaccination room's."""

    CODE: ClassVar[str] = "VACCINATION_NOT_A_VACCINATION_ROOM"

    def __init__(self) -> None:
        super().__init__("Этот талон не в прививочный кабинет. Выберите время в прививочном кабинете.")


class NoVaccinationSlot(VaccinationProblem):
    """No free slot in the vaccination room of the patient's clinic within the search horizon."""

    CODE: ClassVar[str] = "VACCINATION_NO_SLOT"

    def __init__(self) -> None:
        super().__init__(
            "В прививочном кабинете вашей поликлиники нет свободного времени на ближайшие две недели. "
            "Попробуйте позже или позвоните в поликлинику."
        )


class CertificateTooLarge(VaccinationProblem):
    """The certificate would list more vaccinations than its QR code can carry."""

    CODE: ClassVar[str] = "VACCINATION_CERTIFICATE_TOO_LARGE"

    def __init__(self) -> None:
        super().__init__(
            "Слишком много прививок для одного сертификата: выберите инфекции и выпустите несколько сертификатов."
        )


class CertificateNotFound(VaccinationProblem):
    CODE: ClassVar[str] = "VACCINATION_CERTIFICATE_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("Сертификат не найден.")


class VaccinationInvalidInput(VaccinationProblem):
    """Bad input refused at the boundary (an empty list, too many infections)."""

    CODE: ClassVar[str] = "INVALID_INPUT"
