"""The worker's side of identity verification: check one image, purge old images.

``check_image_job`` reads the stored image (bounded by the upload limit), runs
``checks.analyse`` in a thread, replaces the stored object by the clean re-encoded JPEG
(orientation applied, every piece of metadata gone), looks for the same image in other
verifications by its perceptual hash, and records the report. Image bytes are never logged.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio
from arq.worker import func

from app.config import get_settings
from app.core.i18n import N_
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.files.service import MIB
from app.files.storage import Storage
from app.files.tables import CheckStatus, StoredFile
from app.files.tasks import _storage
from app.identity import service
from app.identity.tables import Fingerprint, Verification

log = get_logger("identity")

REUSED = {
    "code": "reused",
    "ok": False,
    "message": N_("This photo was already used in another identity check. Take a new photo now."),
}


async def _read(storage: Storage, key: str, limit: int) -> bytes:
    data = bytearray()
    async for chunk in storage.open(key):
        data.extend(chunk)
        if len(data) > limit:
            raise ValueError("stored image larger than the upload limit")
    return bytes(data)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _replace(storage: Storage, stored: StoredFile, clean: bytes) -> None:
    """Swap the stored object for the clean JPEG: a new key, the row updated, the old object
    deleted."""
    key = secrets.token_hex(20)
    await storage.put(key, _chunks(clean))
    await StoredFile.update(
        {
            StoredFile.storage_key: key,
            StoredFile.content_type: "image/jpeg",
            StoredFile.size: len(clean),
            StoredFile.sha256: hashlib.sha256(clean).hexdigest(),
            StoredFile.original_name: f"{stored.original_name.rsplit('.', 1)[0][:90]}.jpg",
            StoredFile.check_status: CheckStatus.PASSED,
        }
    ).where(StoredFile.id == stored.id)
    await storage.delete(stored.storage_key)


async def _reused(verification: Verification, part: str, phash: str) -> bool:
    """Whether a near-identical image was used in another verification (any account)."""
    from app.identity.fingerprints import NEAR, bands, distance

    parts = bands(phash)
    candidates = await Fingerprint.select(Fingerprint.phash).where(
        Fingerprint.verification != verification.id,
        (Fingerprint.band0 == parts[0])
        | (Fingerprint.band1 == parts[1])
        | (Fingerprint.band2 == parts[2])
        | (Fingerprint.band3 == parts[3]),
    )
    return any(distance(phash, row["phash"]) <= NEAR for row in candidates)


async def check_image(ctx: dict[str, Any], verification_id: int, part: str) -> str:
    from app.identity.checks import Part, analyse
    from app.identity.fingerprints import bands

    verification = await Verification.objects().where(Verification.id == verification_id).first()
    if verification is None or part not in service.PARTS:
        return "missing"
    file_id = getattr(verification, part)
    stored = await StoredFile.objects().where(StoredFile.id == file_id).first()
    if stored is None:
        return "missing"
    storage = _storage(ctx)
    data = await _read(storage, stored.storage_key, get_settings().max_upload_mb * MIB)
    report = await anyio.to_thread.run_sync(analyse, data, Part(part))
    result = report.as_json()
    if report.clean_jpeg is not None:
        await _replace(storage, stored, report.clean_jpeg)
    if report.phash:
        if await _reused(verification, part, report.phash):
            result["ok"] = False
            result["checks"] = [*result["checks"], REUSED]
        async with write_transaction(f"identity-v:{verification_id}"):
            band0, band1, band2, band3 = bands(report.phash)
            await Fingerprint(
                verification=verification_id,
                account=verification.account,
                part=part,
                phash=report.phash,
                band0=band0,
                band1=band1,
                band2=band2,
                band3=band3,
            ).save()
    await service.record_report(verification_id, part, result)
    log.info("identity_check_success", verification_id=verification_id, part=part, ok=result["ok"])
    return "passed" if result["ok"] else "failed"


async def purge_images(ctx: dict[str, Any], at: datetime | None = None) -> int:
    return await service.purge_images(_storage(ctx), at)


check_image_job = func(check_image, name=service.CHECK_JOB, keep_result=0)
