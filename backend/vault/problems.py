"""The vault's business errors: a stable code for the client and Russian text for the person.

Plain values (no GraphQL): the service raises :class:`VaultError` carrying one; the GraphQL schema maps
it to the union member of the same name, the REST routes to a JSON body ``{code, message}`` with a status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self


@dataclass(frozen=True)
class VaultProblem:
    code: str
    message: str

    CODE: ClassVar[str] = ""
    MESSAGE: ClassVar[str] = ""
    STATUS: ClassVar[int] = 400  # the HTTP status of the REST answer

    @classmethod
    def default(cls, message: str | None = None) -> Self:
        return cls(code=cls.CODE, message=message or cls.MESSAGE)


class VaultError(Exception):
    def __init__(self, problem: VaultProblem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem


def fail(problem: VaultProblem) -> VaultError:
    return VaultError(problem)


@dataclass(frozen=True)
class InvalidInput(VaultProblem):
    field: str = ""

    CODE: ClassVar[str] = "INVALID_INPUT"
    MESSAGE: ClassVar[str] = "Запрос заполнен неверно."

    @classmethod
    def of(cls, field: str, message: str) -> InvalidInput:
        return cls(code=cls.CODE, message=message, field=field)


@dataclass(frozen=True)
class FileTooLarge(VaultProblem):
    CODE: ClassVar[str] = "FILE_TOO_LARGE"
    MESSAGE: ClassVar[str] = "Файл слишком большой: можно загрузить файл до {limit}."
    STATUS: ClassVar[int] = 413


@dataclass(frozen=True)
class QuotaExceeded(VaultProblem):
    CODE: ClassVar[str] = "QUOTA_EXCEEDED"
    MESSAGE: ClassVar[str] = "В хранилище не хватает места: удалите ненужные файлы (доступно {limit})."
    STATUS: ClassVar[int] = 413


@dataclass(frozen=True)
class TypeNotAllowed(VaultProblem):
    CODE: ClassVar[str] = "TYPE_NOT_ALLOWED"
    MESSAGE: ClassVar[str] = "Такой файл загрузить нельзя: принимаются PDF, JPEG, PNG, HEIC, DICOM и текстовые файлы."
    STATUS: ClassVar[int] = 415


@dataclass(frozen=True)
class EmptyFile(VaultProblem):
    CODE: ClassVar[str] = "EMPTY_FILE"
    MESSAGE: ClassVar[str] = "Файл пустой: выберите другой файл."


@dataclass(frozen=True)
class UploadIncomplete(VaultProblem):
    CODE: ClassVar[str] = "UPLOAD_INCOMPLETE"
    MESSAGE: ClassVar[str] = "Файл загрузился не полностью. Попробуйте еще раз."


@dataclass(frozen=True)
class InvalidName(VaultProblem):
    CODE: ClassVar[str] = "INVALID_NAME"
    MESSAGE: ClassVar[str] = "В названии нельзя использовать символы пути (/, \\, ..) и управляющие символы."


@dataclass(frozen=True)
class FileNotFound(VaultProblem):
    CODE: ClassVar[str] = "NOT_FOUND"
    MESSAGE: ClassVar[str] = "Файл не найден."
    STATUS: ClassVar[int] = 404


@dataclass(frozen=True)
class ShareNotFound(VaultProblem):
    CODE: ClassVar[str] = "SHARE_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Доступ не найден: проверьте код или ссылку."
    STATUS: ClassVar[int] = 404


@dataclass(frozen=True)
class ShareExpired(VaultProblem):
    CODE: ClassVar[str] = "SHARE_EXPIRED"
    MESSAGE: ClassVar[str] = "Срок доступа к документам истек. Попросите пациента открыть доступ снова."
    STATUS: ClassVar[int] = 410


@dataclass(frozen=True)
class ShareRevoked(VaultProblem):
    CODE: ClassVar[str] = "SHARE_REVOKED"
    MESSAGE: ClassVar[str] = "Пациент закрыл доступ к этим документам."
    STATUS: ClassVar[int] = 410


@dataclass(frozen=True)
class TooManyCodeAttempts(VaultProblem):
    CODE: ClassVar[str] = "TOO_MANY_ATTEMPTS"
    MESSAGE: ClassVar[str] = "Слишком много неверных кодов. Попробуйте через 15 минут или попросите у пациента ссылку."
    STATUS: ClassVar[int] = 429


@dataclass(frozen=True)
class ShareToSelf(VaultProblem):
    CODE: ClassVar[str] = "SHARE_TO_SELF"
    MESSAGE: ClassVar[str] = "Нельзя открыть доступ самому себе: укажите СНИЛС врача."


@dataclass(frozen=True)
class BadSharePeriod(VaultProblem):
    CODE: ClassVar[str] = "BAD_SHARE_PERIOD"
    MESSAGE: ClassVar[str] = "Срок доступа — от 1 часа до 30 дней."


@dataclass(frozen=True)
class NothingToShare(VaultProblem):
    CODE: ClassVar[str] = "NOTHING_TO_SHARE"
    MESSAGE: ClassVar[str] = "Выберите файлы или папки, к которым открыть доступ."


@dataclass(frozen=True)
class NotRestorable(VaultProblem):
    CODE: ClassVar[str] = "NOT_RESTORABLE"
    MESSAGE: ClassVar[str] = "Файл уже нельзя восстановить: прошло больше 30 дней после удаления."


@dataclass(frozen=True)
class BlobCorrupted(VaultProblem):
    CODE: ClassVar[str] = "FILE_CORRUPTED"
    MESSAGE: ClassVar[str] = (
        "Файл в хранилище поврежден, и мы не можем его выдать. Мы уже знаем об ошибке; загрузите файл заново."
    )
    STATUS: ClassVar[int] = 500


@dataclass(frozen=True)
class IdempotencyKeyReused(VaultProblem):
    CODE: ClassVar[str] = "IDEMPOTENCY_KEY_REUSED"
    MESSAGE: ClassVar[str] = "Этот ключ запроса уже использован для другого запроса."
    STATUS: ClassVar[int] = 409


@dataclass(frozen=True)
class AccessDenied(VaultProblem):
    CODE: ClassVar[str] = "ACCESS_DENIED"
    MESSAGE: ClassVar[str] = "Недостаточно прав для этого действия."
    STATUS: ClassVar[int] = 403


def size_text(n: int) -> str:
    if n >= 1024 * 1024 * 1024:
        return f"{n / (1024 * 1024 * 1024):.0f} ГБ"
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} МБ"
    return f"{n / 1024:.0f} КБ"
