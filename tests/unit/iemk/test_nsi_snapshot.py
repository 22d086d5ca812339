"""The offline НСИ snapshot is well formed: one book per file, keys, ordered versions, unique codes."""

from __future__ import annotations

import json

import pytest

from integrations.nsi import Terminology, UnknownCode, load_books
from integrations.nsi.snapshot import SNAPSHOT_DIR, version_key

REQUIRED = {
    "1.2.643.5.1.13.13.11.1520",  # REMD document types
    "1.2.643.5.1.13.13.11.1005",  # ICD-10
    "1.2.643.5.1.13.13.11.1078",  # vaccines
}


def test_every_file_is_the_book_it_is_named_after() -> None:
    paths = sorted(SNAPSHOT_DIR.glob("*.json"))
    assert len(paths) == len(load_books())
    for path in paths:
        assert json.loads(path.read_text(encoding="utf-8"))["oid"] == path.stem


@pytest.mark.parametrize("oid", sorted(load_books()))
def test_book_is_well_formed(oid: str) -> None:
    book = load_books()[oid]
    assert book.note, "every book says what was and was not checked against ФНСИ"
    types = {k.type for k in book.keys}
    assert {"PRIMARY", "VALUE"} <= types
    versions = [v.version for v in book.versions]
    assert versions == sorted(versions, key=version_key) and len(set(versions)) == len(versions)
    for row in book.rows:
        assert row.get("_since", versions[0]) in versions
    codes = [row[book.code_field] for row in book.rows_of()]
    assert len(codes) == len(set(codes))
    assert all(row[book.name_field] for row in book.rows_of())


def test_the_books_documents_need_are_there() -> None:
    assert load_books().keys() >= REQUIRED


def test_terminology_refuses_what_it_does_not_know() -> None:
    terminology = Terminology.from_snapshot()
    assert terminology.display("1.2.643.5.1.13.13.11.1005", "I10") == "Эссенциальная [первичная] гипертензия"
    assert terminology.display("1.2.643.5.1.13.13.11.1005", "Z99.9") is None
    with pytest.raises(UnknownCode):
        terminology.concept("1.2.643.5.1.13.13.11.9999", "1")
