"""Upload and download of files: ``POST /files`` and ``GET /files/{id}`` (docs/files.md).

The upload's body is parsed here, part by part, from the request stream (``multipart``'s push
parser, the one Litestar uses), so the file's bytes go straight into ``service.receive``'s
limited spool. If the CSRF middleware had to read the form to find its token (a plain form
without the ``x-csrftoken`` header), Litestar has already spooled the part (memory up to 1 MB,
then disk) and the file is read from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response, Stream
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_signed_in
from app.config import get_settings
from app.core.errors import BadInput
from app.core.i18n import _
from app.core.logging import get_logger
from app.files import service
from app.files.sniff import Refused
from app.files.storage import CHUNK, MissingObject, Storage, storage_from_settings

log = get_logger("files")

FIELD = "file"
MARGIN = 64 * 1024  # the multipart framing and a CSRF field around the file
NO_STORE_PRIVATE = {"Cache-Control": "private, no-store"}


def max_file_bytes() -> int:
    return get_settings().max_upload_mb * service.MIB


def storage_of(request: Request[Any, Any, Any]) -> Storage:
    state = request.app.state
    if "file_storage" not in state:
        state.file_storage = storage_from_settings(state.settings)
    storage: Storage = state.file_storage
    return storage


def _unreadable() -> BadInput:
    return BadInput(detail=_("The upload could not be read. Please try again."))


def _no_file() -> BadInput:
    return BadInput(detail=_("Please choose a file to upload."))


async def _events(
    stream: AsyncIterator[bytes], boundary: bytes
) -> AsyncIterator[MultipartSegment | bytes | None]:
    """Segments, their data and their ends (None), as the bytes arrive."""
    try:
        with PushMultipartParser(boundary, max_segment_count=20) as parser:
            async for chunk in stream:
                for event in parser.parse(chunk):
                    yield bytes(event) if isinstance(event, bytearray | bytes) else event
                if parser.closed:
                    return
    except (ParserError, ParserLimitReached) as exc:
        raise _unreadable() from exc


async def _from_stream(request: Request[Any, Any, Any]) -> tuple[str, AsyncIterator[bytes]]:
    content_type, options = request.content_type
    boundary = options.get("boundary")
    if content_type != "multipart/form-data" or not boundary:
        raise _no_file()
    events = _events(request.stream(), boundary.encode("latin-1"))
    async for event in events:
        if isinstance(event, MultipartSegment) and event.name == FIELD and event.filename:
            filename = event.filename
            break
    else:
        raise _no_file()

    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            if event is None:
                return
            if isinstance(event, bytes):
                yield event
        # The stream ended inside the file: a cut-off upload is never stored.
        raise Refused("incomplete", _("The upload was cut off. Please try again."))

    return filename, body()


async def _from_form(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def incoming(
    request: Request[Any, Any, Any], field: str = FIELD
) -> list[tuple[str, AsyncIterator[bytes]]]:
    """The uploaded files of the form field ``field``, each as (filename, chunks); at least
    one, or BadInput. Read from the request stream (the first file) unless the CSRF
    middleware had to parse the form already, in which case every file of the field is there
    (several pages of one material chosen at once)."""
    if ScopeState.from_scope(request.scope).form is Empty:
        return [await _from_stream(request)]
    files = [
        (upload_file.filename, _from_form(upload_file))
        for upload_file in (await request.form()).getall(field, [])
        if isinstance(upload_file, UploadFile) and upload_file.filename
    ]
    if not files:
        raise _no_file()
    return files


@post(
    "/files",
    name="file_upload",
    guards=[requires_signed_in],
    status_code=201,
    request_max_body_size=max_file_bytes() + MARGIN,
)
async def upload(request: Request[Any, Any, Any]) -> Response[Any]:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    filename, chunks = (await incoming(request))[0]
    try:
        stored = await service.receive(
            storage_of(request),
            int(signed.account.id),
            filename,
            chunks,
            max_bytes=max_file_bytes(),
        )
    except Refused as exc:
        return Response({"detail": exc.message}, status_code=400, headers=NO_STORE_PRIVATE)
    await service.check_soon(int(stored.id), request.app.state.redis)
    return Response(
        {
            "id": stored.id,
            "content_type": stored.content_type,
            "size": stored.size,
            "check_status": stored.check_status,
        },
        status_code=201,
        headers=NO_STORE_PRIVATE,
    )


def content_disposition(name: str) -> str:
    """RFC 6266 §4.3: an ASCII ``filename`` for old clients and the exact name in
    ``filename*`` (RFC 8187 UTF-8 encoding); ``attachment`` so a browser never renders it."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@get("/files/{file_id:int}", name="file_download", guards=[requires_signed_in])
async def download(request: Request[Any, Any, Any], file_id: FromPath[int]) -> Stream:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    if not 0 < file_id <= MAX_ID:
        raise NotFoundException()
    stored = await service.file_of(file_id)
    # Someone else's file is simply not found: its existence is not confirmed either.
    if stored is None or not await service.can_read(signed.account, stored):
        raise NotFoundException()
    chunks = storage_of(request).open(stored.storage_key)
    try:
        first = await anext(chunks, b"")
    except MissingObject as exc:
        log.error("file_download_missing", file_id=file_id)
        raise NotFoundException() from exc

    async def content() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return Stream(
        content(),
        media_type=stored.content_type,
        headers={
            "Content-Disposition": content_disposition(stored.original_name),
            "X-Content-Type-Options": "nosniff",
            # Opened in a tab anyway, the file can run nothing and reach nothing.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            **NO_STORE_PRIVATE,
        },
    )


ROUTES = [upload, download]
