"""Envelope encryption of the vault's files: a data key per file, wrapped by a key-encryption key.

* Each file gets its own random 256-bit data key (DEK). The plaintext is cut into segments of
  :data:`SEGMENT` bytes; each segment is sealed with AES-256-GCM under the DEK with its own random
  96-bit nonce, and the associated data binds the segment to its file, its index and whether it is the
  last one (``file id || index || final``). So a flipped byte, two segments swapped, a segment from
  another file, or a stream cut after a segment boundary all fail authentication: a reader gets
  :class:`BlobCorrupted`, never wrong bytes. Segments are decrypted one at a time, so downloads stream.
* The DEK is stored in the row wrapped by a key-encryption key (KEK) from the settings (AES-256-GCM with
  the file id as associated data), beside that KEK's id. Rotating the KEK re-wraps the DEKs
  (``moe-zdorovye vault-rewrap``); the blobs are never touched.

Stored segment layout: ``nonce (12) || ciphertext || tag (16)``; every segment but the last holds exactly
:data:`SEGMENT` plaintext bytes, so the stored length of a file is known from its plaintext length.
"""

from __future__ import annotations

import base64
import os
import secrets
import struct
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEGMENT = 1024 * 1024
NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
STORED_SEGMENT = SEGMENT + OVERHEAD
_AD = struct.Struct(">Q?")


class BlobCorrupted(Exception):
    """The stored object does not authenticate (changed, truncated, reordered, or not this file's)."""


class UnknownKey(Exception):
    """A data key is wrapped by a key-encryption key that is not configured."""


@dataclass(frozen=True)
class WrappedKey:
    key_id: str
    wrapped: bytes


class KeyRing:
    """The configured key-encryption keys: the first is active (wraps), all of them unwrap."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key-encryption key")
        for kid, key in keys:
            if not kid or ":" in kid or "," in kid or len(kid) > 32:
                raise ValueError(f"bad vault key id {kid!r}")
            if len(key) != 32:
                raise ValueError(f"vault key {kid!r} must be 32 bytes")
        self._keys = dict(keys)
        self.active_id = keys[0][0]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """``kid:base64,kid2:base64`` (MZ_VAULT_KEYS)."""
        keys = []
        for part in spec.split(","):
            kid, sep, b64 = part.strip().partition(":")
            if not sep:
                raise ValueError("MZ_VAULT_KEYS: each key is kid:base64")
            keys.append((kid, base64.b64decode(b64)))
        return cls(keys)

    @classmethod
    def generated(cls, kid: str = "local-1") -> KeyRing:
        return cls([(kid, AESGCM.generate_key(256))])

    @classmethod
    def kept_in(cls, directory: Path) -> KeyRing:
        """The embedded profile's key, generated once and kept in ``directory/kek`` (mode 0600)."""
        path = directory / "kek"
        if path.exists():
            return cls.parse(path.read_text().strip())
        directory.mkdir(parents=True, exist_ok=True)
        spec = f"local-1:{base64.b64encode(AESGCM.generate_key(256)).decode()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(spec)
        return cls.parse(spec)

    def ids(self) -> list[str]:
        return list(self._keys)

    def wrap(self, file_id: uuid.UUID, dek: bytes) -> WrappedKey:
        nonce = secrets.token_bytes(NONCE)
        sealed = AESGCM(self._keys[self.active_id]).encrypt(nonce, dek, b"mz-vault-dek:" + file_id.bytes)
        return WrappedKey(self.active_id, nonce + sealed)

    def unwrap(self, file_id: uuid.UUID, wrapped: WrappedKey) -> bytes:
        kek = self._keys.get(wrapped.key_id)
        if kek is None:
            raise UnknownKey(wrapped.key_id)
        try:
            return AESGCM(kek).decrypt(
                wrapped.wrapped[:NONCE], wrapped.wrapped[NONCE:], b"mz-vault-dek:" + file_id.bytes
            )
        except InvalidTag as exc:
            raise BlobCorrupted("the wrapped data key does not authenticate") from exc

    def rewrap(self, file_id: uuid.UUID, wrapped: WrappedKey) -> WrappedKey:
        return self.wrap(file_id, self.unwrap(file_id, wrapped))


def new_data_key() -> bytes:
    return AESGCM.generate_key(256)


def _ad(file_id: uuid.UUID, index: int, final: bool) -> bytes:
    return file_id.bytes + _AD.pack(index, final)


def seal_segment(aead: AESGCM, file_id: uuid.UUID, index: int, final: bool, plain: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE)
    return nonce + aead.encrypt(nonce, plain, _ad(file_id, index, final))


def open_segment(aead: AESGCM, file_id: uuid.UUID, index: int, final: bool, sealed: bytes) -> bytes:
    if len(sealed) < OVERHEAD:
        raise BlobCorrupted(f"segment {index} is truncated")
    try:
        return aead.decrypt(sealed[:NONCE], sealed[NONCE:], _ad(file_id, index, final))
    except InvalidTag as exc:
        raise BlobCorrupted(f"segment {index} does not authenticate") from exc


def stored_size(plain_size: int) -> int:
    segments = max(1, -(-plain_size // SEGMENT))
    return plain_size + segments * OVERHEAD


class SegmentEncryptor:
    """Feeds plaintext in any pieces, yields sealed segments; :meth:`finish` seals the last one."""

    def __init__(self, file_id: uuid.UUID, dek: bytes) -> None:
        self._aead = AESGCM(dek)
        self._file_id = file_id
        self._buffer = bytearray()
        self._index = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out = []
        # Keep at least one byte back: the last segment must be sealed with final=True.
        while len(self._buffer) > SEGMENT:
            out.append(self._seal(bytes(self._buffer[:SEGMENT]), final=False))
            del self._buffer[:SEGMENT]
        return out

    def finish(self) -> bytes:
        sealed = self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        return sealed

    def _seal(self, plain: bytes, *, final: bool) -> bytes:
        sealed = seal_segment(self._aead, self._file_id, self._index, final, plain)
        self._index += 1
        return sealed


async def decrypt_stream(file_id: uuid.UUID, dek: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The plaintext of a stored object, a segment at a time; :class:`BlobCorrupted` at the first bad one
    (nothing of a bad segment is ever yielded)."""
    aead = AESGCM(dek)
    buffer = bytearray()
    index = 0
    async for chunk in chunks:
        buffer += chunk
        # A full stored segment is final only if nothing follows it: keep it until more bytes arrive.
        while len(buffer) > STORED_SEGMENT:
            yield open_segment(aead, file_id, index, False, bytes(buffer[:STORED_SEGMENT]))
            del buffer[:STORED_SEGMENT]
            index += 1
    yield open_segment(aead, file_id, index, True, bytes(buffer))
