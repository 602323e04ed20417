"""Receiving, finding and checking uploaded files (docs/files.md).

``receive`` is the one way in: the bytes are counted into a temporary spool (memory up to
``SPOOL_MEMORY``, then disk) and refused the moment they pass the limit, the type is decided
from the spooled bytes (``sniff``), and only then is the object stored and the row inserted.
A refusal stores nothing; a failed insert deletes the object it had just stored. Logs carry
file ids, sizes, types and refusal codes, never names or bytes.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import IO, Any

import anyio
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.i18n import _
from app.core.logging import get_logger
from app.core.text import unsafe_text
from app.files.sniff import Refused, Sniffed, sniff
from app.files.storage import CHUNK, Storage
from app.files.tables import CheckStatus, StoredFile

log = get_logger("files")

MIB = 1024 * 1024
SPOOL_MEMORY = 256 * 1024
CHECK_JOB = "check_file"
NAME_LENGTH = 120


class TooLarge(Refused):
    """Over a size limit (one file, or the files of one application)."""


def new_key() -> str:
    """A random storage key: 128 bits, two-level fan-out so no folder grows too large."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}"


def clean_name(filename: str | None, extension: str) -> str:
    """The uploader's name made safe to offer back: no folders, no invisible or control
    characters, at most ``NAME_LENGTH`` characters, and the extension of the real type (a
    JPEG sent as ``scan.pdf`` comes back as ``scan.jpg``)."""
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("_" if unsafe_text(char) or char in '"<>:|?*' else char for char in name)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" ._")[: NAME_LENGTH - len(extension) - 1] or "file"
    return f"{stem}.{extension}"


def file_too_large_message(max_bytes: int) -> str:
    return _("The file is larger than %(mb)s MB.", mb=max_bytes // MIB)


async def _spool(chunks: AsyncIterator[bytes], max_bytes: int) -> tuple[IO[bytes], int, str]:
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
    digest = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge("too_large", file_too_large_message(max_bytes))
            digest.update(chunk)
            # A spool past SPOOL_MEMORY writes to disk: not on the event loop.
            if size > SPOOL_MEMORY:
                await anyio.to_thread.run_sync(spool.write, chunk)
            else:
                spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool, size, digest.hexdigest()


async def _read(handle: IO[bytes]) -> AsyncIterator[bytes]:
    handle.seek(0)
    while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK):
        yield chunk


async def receive(
    storage: Storage,
    account_id: int,
    filename: str | None,
    chunks: AsyncIterator[bytes],
    *,
    max_bytes: int,
    purpose: str = "",
) -> StoredFile:
    """Store one upload of ``account_id`` or raise ``Refused`` (``TooLarge``) having stored
    nothing. The row starts ``pending``; enqueue ``check_soon`` after the caller commits."""
    try:
        spool, size, sha256 = await _spool(chunks, max_bytes)
    except Refused as exc:
        log.info("file_upload_refused", code=exc.code, account_id=account_id)
        raise
    with spool:
        try:
            sniffed: Sniffed = await anyio.to_thread.run_sync(sniff, spool)
        except Refused as exc:
            log.info("file_upload_refused", code=exc.code, account_id=account_id, size=size)
            raise
        key = new_key()
        await storage.put(key, _read(spool))
    row = StoredFile(
        owner=account_id,
        storage_key=key,
        original_name=clean_name(filename, sniffed.extension),
        content_type=sniffed.content_type,
        size=size,
        sha256=sha256,
        purpose=purpose[:100],
        check_status=CheckStatus.PENDING,
        check_result={"width": sniffed.width, "height": sniffed.height, "pages": sniffed.pages},
    )
    try:
        await row.save()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await storage.delete(key)
        raise
    log.info(
        "file_upload_success",
        file_id=row.id,
        account_id=account_id,
        size=size,
        content_type=sniffed.content_type,
    )
    return row


def check_total(existing_sizes: Iterable[int], new_size: int, limit: int) -> None:
    """For the applications layer: refuse a file that would take the files of one
    application past ``limit`` bytes (``TONGBAN_MAX_APPLICATION_MB``)."""
    if sum(existing_sizes) + new_size > limit:
        raise TooLarge(
            "application_too_large",
            _(
                "The files of one application may total at most %(mb)s MB. "
                "Please remove a file or upload smaller ones.",
                mb=limit // MIB,
            ),
        )


async def file_of(file_id: int) -> StoredFile | None:
    return await StoredFile.objects().where(StoredFile.id == file_id).output(load_json=True).first()


# Who else may fetch a file besides its owner: other layers add a check here at import (the
# applications layer: officers responsible for an application the file belongs to).
READERS: list[Callable[[Any, StoredFile], Awaitable[bool]]] = []


async def can_read(account: Any, stored: StoredFile) -> bool:
    """Who may fetch a file: its owner, or whoever a check in ``READERS`` lets through.
    Every download goes through here."""
    if account is None:
        return False
    if int(account.id) == int(stored.owner):
        return True
    for reader in READERS:
        if await reader(account, stored):
            return True
    return False


async def check_soon(file_id: int, redis: Redis) -> None:
    """Enqueue the worker's check (app/files/tasks.py). A Redis failure only delays it: the
    sweeper (``tasks.sweep_pending``) enqueues pending files again."""
    queue = redis if isinstance(redis, ArqRedis) else ArqRedis(redis.connection_pool)
    try:
        await queue.enqueue_job(CHECK_JOB, file_id, _job_id=f"{CHECK_JOB}:{file_id}")
    except (RedisError, OSError) as exc:
        log.warning("file_check_enqueue_failure", file_id=file_id, error=type(exc).__name__)
