"""Typed business failures: union members with a stable code for the client and Russian text for the person.

A service raises :class:`ProblemError` (or a mutation returns a :class:`Problem`); the unit of work rolls
back and the client receives the typed member. Unexpected exceptions are not problems: they are masked.
"""

from __future__ import annotations

from typing import ClassVar, Self

import strawberry


@strawberry.interface(description="Бизнес-ошибка: стабильный код для клиента и текст для человека.")
class Problem:
    code: str = strawberry.field(description="Stable machine-readable code, e.g. SLOT_TAKEN.")
    message: str = strawberry.field(description="Russian text to show to the person.")

    # A concrete problem names its stable code and default Russian text; ``default()`` builds it.
    CODE: ClassVar[str]
    MESSAGE: ClassVar[str]

    @classmethod
    def default(cls, message: str | None = None) -> Self:
        """The problem with its class's code, and its default text unless a more precise one is given."""
        return cls(code=cls.CODE, message=message or cls.MESSAGE)


@strawberry.type(description="Поле запроса заполнено неверно.")
class FieldProblem:
    field: str
    message: str


@strawberry.type(description="Запрос заполнен неверно; ничего не изменено.")
class InvalidInput(Problem):
    fields: list[FieldProblem] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, field: str, message: str) -> InvalidInput:
        return cls(code="INVALID_INPUT", message=message, fields=[FieldProblem(field=field, message=message)])


@strawberry.type(description="Нужно войти в систему.")
class NotAuthenticated(Problem):
    CODE: ClassVar[str] = "NOT_AUTHENTICATED"
    MESSAGE: ClassVar[str] = "Войдите через Госуслуги, чтобы продолжить."


@strawberry.type(description="Недостаточно прав для этого действия.")
class AccessDenied(Problem):
    CODE: ClassVar[str] = "ACCESS_DENIED"
    MESSAGE: ClassVar[str] = "Недостаточно прав для этого действия."


class ProblemError(Exception):
    """Raised by services to abort the unit of work with a typed problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem


class PublicError(Exception):
    """An error whose message is safe to show as it is (allow-listed by error masking).

    For transport-level refusals that are not part of a mutation's result type (authentication on a
    query, an unregistered trusted document). The message must be Russian and contain no internals.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
