"""The documents domain's business errors: a stable code for the client and Russian text for the person.

Plain values with no GraphQL in them: a service raises :class:`DocumentsError` carrying one, the unit of
work rolls back, and :mod:`backend.documents.schema` maps it to the union member of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self


@dataclass(frozen=True)
class DocumentsProblem:
    code: str
    message: str
    field: str | None = None  # the input field at fault, for INVALID_INPUT

    CODE: ClassVar[str] = ""
    MESSAGE: ClassVar[str] = ""

    @classmethod
    def default(cls, message: str | None = None) -> Self:
        return cls(code=cls.CODE, message=message or cls.MESSAGE)


class DocumentsError(Exception):
    """Raised by the documents services to abort the unit of work with a typed problem."""

    def __init__(self, problem: DocumentsProblem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem


@dataclass(frozen=True)
class InvalidInput(DocumentsProblem):
    CODE: ClassVar[str] = "INVALID_INPUT"

    @classmethod
    def of(cls, field: str, message: str) -> InvalidInput:
        return cls(code=cls.CODE, message=message, field=field)


@dataclass(frozen=True)
class DocumentNotFound(DocumentsProblem):
    CODE: ClassVar[str] = "DOCUMENT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Документ не найден."


@dataclass(frozen=True)
class EntryNotFound(DocumentsProblem):
    CODE: ClassVar[str] = "PROFILE_ENTRY_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Запись профиля не найдена."


@dataclass(frozen=True)
class GrantNotFound(DocumentsProblem):
    CODE: ClassVar[str] = "ACCESS_GRANT_NOT_FOUND"
    MESSAGE: ClassVar[str] = "Доступ не найден, истек или отозван пациентом."


@dataclass(frozen=True)
class DocumentsUnavailable(DocumentsProblem):
    CODE: ClassVar[str] = "DOCUMENTS_UNAVAILABLE"
    MESSAGE: ClassVar[str] = (
        "Реестр электронных медицинских документов сейчас не отвечает. Уже загруженные документы доступны, "
        "новые появятся позже — повторите попытку через несколько минут."
    )


def fail(problem: DocumentsProblem) -> DocumentsError:
    return DocumentsError(problem)
