"""The vault's chunked AEAD and type sniffing, without a database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from backend.vault import crypto, sniff
from backend.vault.crypto import KeyRing, SegmentEncryptor, WrappedKey


def _seal(file_id: uuid.UUID, dek: bytes, plain: bytes, pieces: int = 7) -> list[bytes]:
    encryptor = SegmentEncryptor(file_id, dek)
    out: list[bytes] = []
    step = max(1, len(plain) // pieces)
    for i in range(0, len(plain), step):
        out += encryptor.feed(plain[i : i + step])
    out.append(encryptor.finish())
    return out


def _open(file_id: uuid.UUID, dek: bytes, stored: bytes, chunk: int = 65_536) -> bytes:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(stored), chunk):
            yield stored[i : i + chunk]

    async def run() -> bytes:
        return b"".join([piece async for piece in crypto.decrypt_stream(file_id, dek, chunks())])

    return asyncio.run(run())


@pytest.mark.parametrize("size", [1, crypto.SEGMENT - 1, crypto.SEGMENT, crypto.SEGMENT + 1, 3 * crypto.SEGMENT])
def test_round_trip_at_segment_boundaries(size: int) -> None:
    file_id, dek = uuid.uuid4(), crypto.new_data_key()
    plain = bytes(i % 251 for i in range(size))
    segments = _seal(file_id, dek, plain)
    stored = b"".join(segments)
    assert len(stored) == crypto.stored_size(size)
    assert _open(file_id, dek, stored) == plain


def test_reordered_truncated_foreign_and_flipped_segments_fail() -> None:
    file_id, dek = uuid.uuid4(), crypto.new_data_key()
    plain = bytes(range(256)) * (3 * crypto.SEGMENT // 256)
    segments = _seal(file_id, dek, plain)
    assert len(segments) == 3
    with pytest.raises(crypto.BlobCorrupted):  # two segments swapped
        _open(file_id, dek, segments[1] + segments[0] + segments[2])
    with pytest.raises(crypto.BlobCorrupted):  # the last segment dropped
        _open(file_id, dek, segments[0] + segments[1])
    with pytest.raises(crypto.BlobCorrupted):  # another file's id
        _open(uuid.uuid4(), dek, b"".join(segments))
    flipped = bytearray(b"".join(segments))
    flipped[-5] ^= 0x10
    with pytest.raises(crypto.BlobCorrupted):
        _open(file_id, dek, bytes(flipped))


def test_key_ring_wraps_with_the_active_key_and_unwraps_with_any() -> None:
    file_id, dek = uuid.uuid4(), crypto.new_data_key()
    old = KeyRing([("old", b"o" * 32)])
    wrapped = old.wrap(file_id, dek)
    assert wrapped.key_id == "old" and dek not in wrapped.wrapped
    ring = KeyRing.parse(
        "new:"
        + "bmJubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm5ubm4="
        + ",old:"
        + "b29vb29vb29vb29vb29vb29vb29vb29vb29vb29vb28="
    )
    fresh = ring.rewrap(file_id, wrapped)
    assert fresh.key_id == "new" and ring.unwrap(file_id, fresh) == dek
    with pytest.raises(crypto.UnknownKey):
        old.unwrap(file_id, fresh)
    with pytest.raises(crypto.BlobCorrupted):  # a data key moved to another file's row
        ring.unwrap(uuid.uuid4(), fresh)
    with pytest.raises(ValueError):
        KeyRing([("short", b"x" * 16)])
    assert WrappedKey("new", fresh.wrapped) == fresh


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.5 rest", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png"),
        (b"MZ\x90\x00" + b"\x00" * 200, None),
        (b"PK\x03\x04" + b"\x00" * 200, None),
        (b"GIF89a" + b"\x00" * 200, None),
        ("Текст".encode() * 40, "text/plain"),
    ],
)
def test_sniffing_by_magic_bytes(head: bytes, kind: str | None) -> None:
    assert sniff.detect(head, complete=True) == kind
