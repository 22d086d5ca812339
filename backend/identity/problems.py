"""Identity's typed business errors: plain exceptions with a stable code and a Russian message.

Identity's services raise them; the GraphQL layer (:mod:`backend.identity.schema`) answers each with the
union member of the same code. They know nothing of GraphQL.
"""

from __future__ import annotations

from typing import ClassVar


class IdentityProblem(Exception):
    """A refusal the person can act on: ``code`` for the client, ``message`` (Russian) for the person."""

    CODE: ClassVar[str]
    MESSAGE: ClassVar[str]

    def __init__(self, message: str | None = None) -> None:
        self.code = self.CODE
        self.message = message or self.MESSAGE
        super().__init__(f"{self.code}: {self.message}")


class InvalidInput(IdentityProblem):
    """A field of the request is wrong; nothing was changed."""

    CODE = "INVALID_INPUT"
    MESSAGE = "Запрос заполнен неверно."

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidCredentials(IdentityProblem):
    CODE = "INVALID_CREDENTIALS"
    MESSAGE = "Неверный логин, пароль или одноразовый код."


class AccountLocked(IdentityProblem):
    CODE = "ACCOUNT_LOCKED"
    MESSAGE = "Учетная запись временно заблокирована после нескольких неудачных попыток. Повторите через 15 минут."


class PatientNotIdentified(IdentityProblem):
    CODE = "PATIENT_NOT_IDENTIFIED"
    MESSAGE = "Пациент не найден. Проверьте номер полиса ОМС (или СНИЛС) и дату рождения."


class IdentificationLocked(IdentityProblem):
    CODE = "IDENTIFICATION_LOCKED"
    MESSAGE = "Слишком много неудачных попыток. Повторите через 15 минут или обратитесь в регистратуру."


class WrongCode(IdentityProblem):
    CODE = "WRONG_CODE"
    MESSAGE = "Неверный код из СМС. Проверьте код и попробуйте еще раз."


class CodeExpired(IdentityProblem):
    CODE = "CODE_EXPIRED"
    MESSAGE = "Код из СМС больше не действует. Запросите новый код."


class NotFound(IdentityProblem):
    CODE = "NOT_FOUND"
    MESSAGE = "Не найдено."


class ProxyNotFound(IdentityProblem):
    CODE = "PROXY_NOT_FOUND"
    MESSAGE = (
        "Человек с такими СНИЛС и датой рождения не найден: он должен хотя бы раз войти "
        "в «Мое здоровье» через Госуслуги."
    )


class NoVerifiedPhone(IdentityProblem):
    CODE = "NO_VERIFIED_PHONE"
    MESSAGE = "В учетной записи Госуслуг нет подтвержденного номера мобильного телефона."


class TooManyAttempts(IdentityProblem):
    CODE = "TOO_MANY_ATTEMPTS"
    MESSAGE = "Слишком много попыток. Повторите через час."


TOO_MANY_CODES = "Слишком много кодов из СМС запрошено для этого человека. Повторите через час."
