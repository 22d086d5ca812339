"""What a file is, by its first bytes (never by its name), and the checks that run over its whole stream.

Allowed: PDF, JPEG, PNG, HEIC/HEIF, DICOM (Part 10: a 128-byte preamble then ``DICM``), and plain text
(UTF-8 without NUL or control characters other than tab, newlines and form feed). Everything else is
refused, among them executables (``MZ``, ELF, Mach-O, scripts are text and allowed only as text) and
archives (a ZIP renamed ``.pdf`` starts with ``PK``, not ``%PDF-``).
"""

from __future__ import annotations

import codecs
import re

#: Bytes needed to decide (DICOM's magic ends at 132).
HEAD = 132

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
_TEXT_CONTROLS = {9, 10, 12, 13}
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "application/dicom": "dcm",
    "text/plain": "txt",
}


def detect(head: bytes, *, complete: bool) -> str | None:  # noqa: PLR0911 - one answer per type
    """The content type of a file starting with ``head`` (``complete``: the file is no longer than that),
    or None if it is not allowed. Text is only a candidate here: :class:`TextCheck` confirms it."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if len(head) >= HEAD and head[128:132] == b"DICM":
        return "application/dicom"
    if (len(head) >= HEAD or complete) and _looks_like_text(head):
        return "text/plain"
    return None


def _looks_like_text(head: bytes) -> bool:
    return bool(head) and all(b >= 32 or b in _TEXT_CONTROLS for b in head if b < 128) and b"\x7f" not in head


class TextCheck:
    """Whole-stream check of a text file: valid UTF-8, no NUL or stray control characters."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self.ok = True

    def feed(self, data: bytes, *, final: bool = False) -> None:
        if not self.ok:
            return
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            self.ok = False
            return
        if _BAD_TEXT.search(text):
            self.ok = False
