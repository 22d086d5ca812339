"""The offline snapshot of the НСИ books the documents use, and a terminology lookup over it.

``integrations/nsi/snapshot/<OID>.json`` holds one book each: ``oid``, ``fullName``, ``shortName``,
``note`` (what was and was not checked against ФНСИ), ``keys`` (as the passport lists them),
``versions`` (oldest first; the last one is current) and ``rows`` (a row may carry ``_since``: the
first version that has it). It is a *subset* of each book, enough for the demo documents; the simulator
serves it and :class:`Terminology` shows codes with their names without any network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from integrations.nsi.protocol import NsiKey, NsiPassport, NsiVersion

SNAPSHOT_DIR = Path(__file__).with_name("snapshot")


def version_key(version: str) -> tuple[int, ...]:
    """``"2.10"`` sorts after ``"2.9"``; non-numeric parts sort as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


@dataclass(frozen=True)
class Book:
    oid: str
    full_name: str
    short_name: str
    note: str
    keys: tuple[NsiKey, ...]
    versions: tuple[NsiVersion, ...]
    rows: tuple[Mapping[str, str], ...]
    _index: dict[tuple[str, str], Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def current_version(self) -> str:
        return self.versions[-1].version

    def has_version(self, version: str) -> bool:
        return any(v.version == version for v in self.versions)

    def rows_of(self, version: str | None = None) -> list[dict[str, str]]:
        """The rows of ``version`` (the current one if ``None``), without the ``_since`` marker."""
        wanted = version_key(version or self.current_version)
        return [
            {k: v for k, v in row.items() if not k.startswith("_")}
            for row in self.rows
            if version_key(row.get("_since", "0")) <= wanted
        ]

    def passport(self, version: str | None = None) -> NsiPassport:
        chosen = version or self.current_version
        published = next((v.publish_date for v in self.versions if v.version == chosen), None)
        return NsiPassport(
            oid=self.oid,
            version=chosen,
            full_name=self.full_name,
            short_name=self.short_name,
            rows_count=len(self.rows_of(chosen)),
            keys=self.keys,
            publish_date=published,
        )

    @property
    def code_field(self) -> str:
        return self.passport().code_field or "ID"

    @property
    def name_field(self) -> str:
        return self.passport().name_field or "NAME"

    def lookup(self, code: str) -> Mapping[str, str] | None:
        """The current row whose code column equals ``code``."""
        if not self._index:
            for row in self.rows_of():
                self._index[(self.code_field, row.get(self.code_field, ""))] = row
        return self._index.get((self.code_field, code))


def _book(data: Mapping[str, Any]) -> Book:
    return Book(
        oid=str(data["oid"]),
        full_name=str(data["fullName"]),
        short_name=str(data.get("shortName") or data["fullName"]),
        note=str(data.get("note") or ""),
        keys=tuple(NsiKey(str(k["field"]), str(k["type"])) for k in data["keys"]),
        versions=tuple(
            sorted(
                (NsiVersion(str(v["version"]), v.get("publishDate")) for v in data["versions"]),
                key=lambda v: version_key(v.version),
            )
        ),
        rows=tuple({str(k): str(v) for k, v in row.items()} for row in data["rows"]),
    )


def load_books(directory: Path = SNAPSHOT_DIR) -> dict[str, Book]:
    """Every ``*.json`` book of ``directory`` by OID."""
    books: dict[str, Book] = {}
    for path in sorted(directory.glob("*.json")):
        book = _book(json.loads(path.read_text(encoding="utf-8")))
        books[book.oid] = book
    return books


@dataclass(frozen=True, slots=True)
class Concept:
    """A coded value as a CDA document writes it (``codeSystemName`` / ``codeSystemVersion`` / ``displayName``)."""

    code: str
    code_system: str  # the book's OID
    code_system_name: str
    code_system_version: str
    display_name: str


class UnknownCode(LookupError):
    """The code is not in the snapshot of the book (or the book is not in the snapshot)."""


class Terminology:
    """Offline lookups over the snapshot: the names of codes, for documents and for their readers."""

    def __init__(self, books: Mapping[str, Book]) -> None:
        self._books = dict(books)

    @classmethod
    def from_snapshot(cls, directory: Path = SNAPSHOT_DIR) -> Terminology:
        return cls(load_books(directory))

    def books(self) -> Iterable[Book]:
        return self._books.values()

    def book(self, oid: str) -> Book:
        try:
            return self._books[oid]
        except KeyError:
            raise UnknownCode(f"справочник {oid} отсутствует в снимке НСИ") from None

    def display(self, oid: str, code: str) -> str | None:
        """The name of ``code`` in book ``oid``, or ``None`` when the snapshot does not know it."""
        book = self._books.get(oid)
        row = book.lookup(code) if book else None
        return row.get(book.name_field) if row is not None and book is not None else None

    def concept(self, oid: str, code: str) -> Concept:
        book = self.book(oid)
        row = book.lookup(code)
        if row is None:
            raise UnknownCode(f"код {code!r} отсутствует в снимке справочника {oid}")
        return Concept(
            code=code,
            code_system=oid,
            code_system_name=book.full_name,
            code_system_version=book.current_version,
            display_name=row.get(book.name_field, ""),
        )


@lru_cache(maxsize=1)
def default_terminology() -> Terminology:
    """The shipped snapshot, loaded once per process."""
    return Terminology.from_snapshot()
