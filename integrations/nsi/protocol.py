"""What the documents domain needs from НСИ Минздрава (ФНСИ): reference books by OID, versioned and paged.

The REST shape is protocols.md §5.1: ``GET /port/rest/passport`` and ``GET /port/rest/data`` with
``userKey``, ``identifier`` (the book's OID), ``version``, ``page`` and ``size``; ``data`` rows come as
``[[{"column": "ID", "value": "…"}, …], …]``. ``GET /port/rest/versions`` (the list of a book's
versions) follows the same envelope; its exact member names are **unconfirmed**.

Errors form two families, as in the other adapters: :class:`NsiRejected` (ФНСИ answered
``result: "ERROR"``: final for the request) and :class:`NsiTransportError` (no usable answer; retryable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class NsiKey:
    field: str  # column name
    type: str  # "PRIMARY" | "CODE" | "VALUE" | …


@dataclass(frozen=True, slots=True)
class NsiPassport:
    oid: str
    version: str
    full_name: str
    short_name: str
    rows_count: int
    keys: tuple[NsiKey, ...]
    publish_date: str | None = None

    def field_of(self, *types: str) -> str | None:
        """The first column whose key type is one of ``types`` (in the order given)."""
        for kind in types:
            for key in self.keys:
                if key.type == kind:
                    return key.field
        return None

    @property
    def code_field(self) -> str | None:
        """The column documents use as the code (``CODE`` if the book has one, else ``PRIMARY``)."""
        return self.field_of("CODE", "PRIMARY")

    @property
    def name_field(self) -> str | None:
        return self.field_of("VALUE")


@dataclass(frozen=True, slots=True)
class NsiVersion:
    version: str
    publish_date: str | None


@dataclass(frozen=True, slots=True)
class NsiPage:
    oid: str
    version: str | None  # None: the request named no version (the current one was served)
    page: int  # 1-based
    size: int
    total: int  # rows in the whole book version
    rows: tuple[Mapping[str, str | None], ...]

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total


# -- errors --------------------------------------------------------------------------------------


class NsiError(Exception):
    """Base of everything the НСИ adapter raises."""

    retryable: bool = False


class NsiRejected(NsiError):
    """ФНСИ answered ``result: "ERROR"``."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class NsiAccessDenied(NsiRejected):
    """The ``userKey`` is missing or not valid."""


class NsiBookNotFound(NsiRejected):
    """No book (or no such version of it) with this OID."""


class NsiTransportError(NsiError):
    retryable = True


class NsiTimeout(NsiTransportError):
    """No reply within the client's deadline."""


class NsiMalformedReply(NsiTransportError):
    """The reply is not the JSON envelope ФНСИ sends."""


class NsiUnavailable(NsiTransportError):
    """HTTP error status (without an ФНСИ error body) or connection failure."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class ReferenceBooks(Protocol):
    async def passport(self, oid: str, *, version: str | None = None) -> NsiPassport:
        """``/port/rest/passport``: the book's name, version, row count and key columns."""
        ...

    async def versions(self, oid: str) -> list[NsiVersion]:
        """``/port/rest/versions``: every published version, oldest first."""
        ...

    async def data(self, oid: str, *, version: str | None = None, page: int = 1, size: int = 200) -> NsiPage:
        """``/port/rest/data``: one page of rows (``page`` is 1-based, ``size`` at most 2000)."""
        ...
