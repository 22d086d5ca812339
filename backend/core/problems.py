"""The shape every domain's business errors share (``backend/<domain>/problems.py`` builds on it).

A problem is a plain value: a stable ``code`` for the client and a Russian ``message`` for the person. A
domain subclasses :class:`DomainProblem` once (its own base, so that its schema maps only its own problems)
and :class:`DomainError` once (what its services raise), and names each refusal as a subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self


@dataclass(frozen=True)
class DomainProblem:
    """A business refusal: ``code`` is stable, ``message`` is what the person reads."""

    code: str
    message: str

    CODE: ClassVar[str] = ""
    MESSAGE: ClassVar[str] = ""

    @classmethod
    def default(cls, message: str | None = None) -> Self:
        """The problem with its class's code, and its default text unless a more precise one is given."""
        return cls(code=cls.CODE, message=message or cls.MESSAGE)


class DomainError(Exception):
    """Raised by a domain's services to abort the unit of work with a typed problem."""

    def __init__(self, problem: DomainProblem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


@dataclass(frozen=True)
class InvalidInputProblem(DomainProblem):
    """A request field is wrong; nothing was changed. A domain's ``InvalidInput`` also derives from its base."""

    fields: tuple[FieldProblem, ...] = field(default=())

    CODE: ClassVar[str] = "INVALID_INPUT"

    @classmethod
    def of(cls, field: str, message: str) -> Self:
        return cls(code=cls.CODE, message=message, fields=(FieldProblem(field=field, message=message),))
