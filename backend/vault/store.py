"""Where the vault's encrypted objects live: a Protocol and its two implementations.

* :class:`FileBlobStore`: files under ``var_dir/vault/blobs`` (the embedded profile); an object is written
  to a temporary name and renamed into place when complete, so a reader never sees half an object.
* :class:`S3BlobStore`: an S3-compatible object store (production) through boto3; objects larger than
  one part go up as a multipart upload (aborted if the stream fails), smaller ones in one PUT.

The store only ever sees ciphertext, under keys that name no file (``blobs/<uuid>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PREFIX = "blobs/"
READ_CHUNK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3 parts are at least 5 MiB (but the last)


class BlobMissing(Exception):
    """No object under this key."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified_at: datetime


class BlobStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the whole stream under ``key`` and return its size; nothing is left if the stream fails."""
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks (:class:`BlobMissing` if absent)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object (no error if it is absent)."""
        ...

    async def list(self) -> list[StoredObject]:
        """Every object of the vault (for the orphan sweep)."""
        ...

    async def aclose(self) -> None: ...


def new_key() -> str:
    return f"{PREFIX}{uuid.uuid4()}"


def _check(key: str) -> str:
    name = key.removeprefix(PREFIX)
    if not key.startswith(PREFIX) or str(uuid.UUID(name)) != name:
        raise ValueError(f"not a vault object key: {key!r}")
    return name


class FileBlobStore:
    """Objects as files under ``root``; written to ``.part`` files and renamed when complete."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        name = _check(key)
        return self.root / name[:2] / name

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".part")
        size = 0
        try:
            with temp.open("wb") as handle:
                async for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            temp.replace(path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return size

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise BlobMissing(key) from exc
        with handle:
            while chunk := handle.read(READ_CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        if key.endswith(".part"):  # a partial object a crash left (listed for the sweep)
            name = _check(key.removesuffix(".part"))
            (self.root / name[:2] / f"{name}.part").unlink(missing_ok=True)
            return
        self.path_of(key).unlink(missing_ok=True)

    async def list(self) -> list[StoredObject]:
        found: list[StoredObject] = []
        if not self.root.exists():
            return found
        for path in self.root.glob("*/*"):
            with contextlib.suppress(ValueError, FileNotFoundError):
                _check(PREFIX + path.name.removesuffix(".part"))
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                found.append(StoredObject(key=PREFIX + path.name, modified_at=modified))
        return found

    async def aclose(self) -> None:
        return None


class S3BlobStore:
    """Objects in an S3-compatible bucket (boto3 calls run in worker threads)."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        part_size: int = PART_SIZE,
    ) -> None:
        self.bucket = bucket
        self.part_size = part_size
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )

    async def ensure_bucket(self) -> None:
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        except ClientError:
            await asyncio.to_thread(self._client.create_bucket, Bucket=self.bucket)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        _check(key)
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        created = await asyncio.to_thread(
                            self._client.create_multipart_upload, Bucket=self.bucket, Key=key
                        )
                        upload_id = created["UploadId"]
                    body = bytes(buffer[: self.part_size])
                    del buffer[: self.part_size]
                    number = len(parts) + 1
                    answer = await asyncio.to_thread(
                        self._client.upload_part,
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            if upload_id is None:
                await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return size
            if buffer:
                number = len(parts) + 1
                answer = await asyncio.to_thread(
                    self._client.upload_part,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(buffer),
                )
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            await asyncio.to_thread(
                self._client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self._client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
            raise

    async def get(self, key: str) -> AsyncIterator[bytes]:
        _check(key)
        try:
            answer = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise BlobMissing(key) from exc
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        _check(key)
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def list(self) -> list[StoredObject]:
        found: list[StoredObject] = []
        paginator = self._client.get_paginator("list_objects_v2")

        def walk() -> None:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=PREFIX):
                for item in page.get("Contents", []):
                    found.append(StoredObject(key=item["Key"], modified_at=item["LastModified"]))

        await asyncio.to_thread(walk)
        return found

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)
