"""Where uploaded files' bytes live: one small async interface, local disk or S3-compatible.

``storage_from_settings`` picks the implementation (``TONGBAN_FILE_STORAGE``). Keys are made by
the caller (``app/files/service.py``: random, never derived from a file name) and are safe to
log; the bytes are not. Neither implementation ever holds a whole object in memory: the local
one writes chunk by chunk, the S3 one sends parts of at most ``S3Storage.PART_SIZE``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import anyio
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from app.config import Settings

CHUNK = 64 * 1024
# A key is ours: hex and a few separators, never a path that could climb out of the root.
_KEY = re.compile(r"^[a-z0-9][a-z0-9/._-]{0,200}$")


class StorageError(RuntimeError):
    """The storage could not do what was asked (disk full, S3 unreachable, no such key)."""


class MissingObject(StorageError):
    """No object under that key."""


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key or "//" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the chunks under ``key`` (replacing any object there); return the size."""
        ...

    def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, chunk by chunk; raises ``MissingObject`` on first read."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under ``root``. A put writes a temporary file in the same folder and renames it
    into place (atomic on POSIX), so a reader never sees half an object and a failed put
    leaves nothing behind."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        target = self.path(key)
        await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        size = 0
        try:
            async with await anyio.open_file(fd, "wb", closefd=True) as handle:
                async for chunk in chunks:
                    await handle.write(chunk)
                    size += len(chunk)
                await handle.flush()
                if self.fsync:
                    await anyio.to_thread.run_sync(os.fsync, handle.wrapped.fileno())
            await anyio.Path(temp).rename(target)
        except BaseException:
            await anyio.Path(temp).unlink(missing_ok=True)
            raise
        return size

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await anyio.open_file(self.path(key), "rb")
        except FileNotFoundError as exc:
            raise MissingObject(key) from exc
        async with handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        await anyio.Path(self.path(key)).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self.path(key)).is_file()


class S3Storage:
    """Objects in one bucket of an S3-compatible service (AWS, MinIO, Ceph, OSS's S3 API).

    Up to ``PART_SIZE`` bytes go up in one ``PutObject``; anything larger as a multipart
    upload of parts that size (S3 wants every part but the last to be at least 5 MiB), aborted
    if anything fails so no invisible parts are left to pay for."""

    PART_SIZE = 8 * 1024 * 1024

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        bucket: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str | None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self._credentials = {
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "region_name": region or "us-east-1",
        }
        self._session = get_session()

    def _client(self) -> AbstractAsyncContextManager[Any]:
        return self._session.create_client(
            "s3", endpoint_url=self.endpoint_url, **self._credentials
        )

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        check_key(key)
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        async with self._client() as client:
            try:
                async for chunk in chunks:
                    buffer += chunk
                    size += len(chunk)
                    while len(buffer) >= self.PART_SIZE:
                        if upload_id is None:
                            started = await client.create_multipart_upload(
                                Bucket=self.bucket, Key=key
                            )
                            upload_id = started["UploadId"]
                        part = bytes(buffer[: self.PART_SIZE])
                        del buffer[: self.PART_SIZE]
                        number = len(parts) + 1
                        sent = await client.upload_part(
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=part,
                        )
                        parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                if upload_id is None:
                    await client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
                    return size
                if buffer:
                    number = len(parts) + 1
                    sent = await client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=bytes(buffer),
                    )
                    parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                await client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            except BaseException:
                if upload_id is not None:
                    with anyio.CancelScope(shield=True):
                        await client.abort_multipart_upload(
                            Bucket=self.bucket, Key=key, UploadId=upload_id
                        )
                raise
        return size

    async def open(self, key: str) -> AsyncIterator[bytes]:
        check_key(key)
        async with self._client() as client:
            try:
                answer = await client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    raise MissingObject(key) from exc
                raise StorageError(str(exc)) from exc
            async with answer["Body"] as body:
                async for chunk in body.iter_chunks(CHUNK):
                    yield chunk

    async def delete(self, key: str) -> None:
        check_key(key)
        async with self._client() as client:
            await client.delete_object(Bucket=self.bucket, Key=key)

    async def exists(self, key: str) -> bool:
        check_key(key)
        async with self._client() as client:
            try:
                await client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return False
                raise StorageError(str(exc)) from exc
        return True


def storage_from_settings(settings: Settings) -> Storage:
    if settings.file_storage == "s3":
        assert settings.s3_bucket is not None  # load_settings requires it with s3
        return S3Storage(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
        )
    return LocalStorage(settings.storage_dir)
