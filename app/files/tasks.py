"""Worker tasks of uploaded files (registered in workers/settings.py).

``check_file`` checks one pending file. An image that decodes is replaced, under the same
storage key, by its clean re-encoded JPEG (no EXIF, GPS, ICC or XMP), so the original with its
metadata is kept nowhere; the row's type, size, hash and name follow. A PDF passes with the
page count found at upload. ``sweep_pending`` enqueues checks whose enqueue met a Redis outage.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from arq.worker import func

from app.config import get_settings
from app.core.logging import get_logger
from app.files import service
from app.files.images import check_image
from app.files.sniff import EXTENSIONS, JPEG, PDF
from app.files.storage import Storage, storage_from_settings
from app.files.tables import CheckStatus, StoredFile

log = get_logger("files")


def _storage(ctx: dict[str, Any]) -> Storage:
    # One storage per worker, made on first use; a test may put its own in ctx.
    storage: Storage | None = ctx.get("file_storage")
    if storage is None:
        storage = ctx["file_storage"] = storage_from_settings(get_settings())
    return storage


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def check_file(ctx: dict[str, Any], file_id: int) -> str:
    """Check one file if it is still pending; return its status."""
    row = await service.file_of(file_id)
    if row is None or row.check_status != CheckStatus.PENDING:
        return "skipped"
    storage = _storage(ctx)
    loaded = row.check_result
    result: dict[str, Any] = dict(json.loads(loaded) if isinstance(loaded, str) else loaded)
    if row.content_type == PDF:
        status = CheckStatus.PASSED
        result["reasons"] = []
    else:
        with tempfile.TemporaryDirectory(prefix="tongban-check-") as folder:
            original = Path(folder) / "original"
            async with await anyio.open_file(original, "wb") as handle:
                async for chunk in storage.open(row.storage_key):
                    await handle.write(chunk)
            checked = await anyio.to_thread.run_sync(check_image, original)
        status = CheckStatus.PASSED if checked.ok else CheckStatus.FAILED
        result.update(checked.details, reasons=checked.reasons)
        if checked.clean_jpeg is not None:
            await storage.put(row.storage_key, _once(checked.clean_jpeg))
            stem = row.original_name.rsplit(".", 1)[0]
            row.content_type = JPEG
            row.original_name = f"{stem}.{EXTENSIONS[JPEG]}"
            row.size = len(checked.clean_jpeg)
            row.sha256 = hashlib.sha256(checked.clean_jpeg).hexdigest()
    row.check_status = status
    row.check_result = result
    await row.save()
    log.info(
        "file_check_" + ("success" if status == CheckStatus.PASSED else "failure"),
        file_id=file_id,
        codes=[reason["code"] for reason in result["reasons"]],
    )
    return str(status)


async def sweep_pending(ctx: dict[str, Any]) -> int:
    """Cron: enqueue the checks of files pending for more than a minute."""
    before = datetime.now(UTC) - timedelta(minutes=1)
    rows = await StoredFile.select(StoredFile.id).where(
        (StoredFile.check_status == CheckStatus.PENDING) & (StoredFile.created_at < before)
    )
    for row in rows:
        await service.check_soon(int(row["id"]), ctx["redis"])
    return len(rows)


# The job id is the file's (service.check_soon), so a check is never queued twice; no result
# is kept, so a later sweep can queue it again if a worker died during the check.
check_file_job = func(check_file, name=service.CHECK_JOB, keep_result=0)
