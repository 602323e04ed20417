"""Uploads and downloads over HTTP, the worker's check on a stored file, and bounded memory."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from PIL import ExifTags, Image

from app.accounts.tables import Account
from app.config import Settings
from app.files import service
from app.files.sniff import JPEG, PDF
from app.files.storage import LocalStorage
from app.files.tables import CheckStatus, StoredFile
from app.files.tasks import check_file
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.files.conftest import jpeg, pdf
from tests.files.test_images import exif_with_gps_and_orientation


async def signed_in(client: PageClient) -> tuple[int, str]:
    typed, e164 = fresh_phone()
    await sign_in(client, typed)
    row = await Account.select(Account.id).where(Account.phone == e164).first()
    assert row is not None
    return int(row["id"]), csrf_from(await client.get("/account"))


async def upload(client: PageClient, token: str, name: str, data: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = await client.post(
        "/files",
        files={"file": (name, data, "application/octet-stream")},
        headers={"x-csrftoken": token},
    )
    return response.status_code, response.json()


def stored_objects(settings: Settings) -> list[Path]:
    return [path for path in settings.storage_dir.rglob("*") if path.is_file()]


async def rows_of(account_id: int) -> int:
    return await StoredFile.count().where(StoredFile.owner == account_id)


async def test_an_upload_is_stored_and_only_its_owner_can_fetch_it(
    client: PageClient, settings: Settings
) -> None:
    owner, token = await signed_in(client)
    status, body = await upload(client, token, "我的 营业执照.jpg", jpeg())
    assert status == 201, body
    assert (body["content_type"], body["check_status"]) == (JPEG, "pending")

    response = await client.get(f"/files/{body['id']}")
    assert response.status_code == 200
    assert response.content == jpeg()
    assert response.headers["content-type"] == JPEG
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"__ ____.jpg\"; filename*=UTF-8''"
        "%E6%88%91%E7%9A%84%20%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.jpg"
    )
    row = await StoredFile.objects().where(StoredFile.id == body["id"]).first()
    assert row is not None and int(row.owner) == owner  # type: ignore[arg-type]
    assert "营业执照" not in row.storage_key

    await client.post("/signout", headers={"x-csrftoken": token})
    assert (await client.get(f"/files/{body['id']}", follow_redirects=False)).status_code in (
        302,
        303,
        401,
    )
    await signed_in(client)  # someone else
    assert (await client.get(f"/files/{body['id']}")).status_code == 404
    assert (await client.get("/files/999999999")).status_code == 404


async def test_type_comes_from_content_not_name(client: PageClient) -> None:
    _account, token = await signed_in(client)
    status, body = await upload(client, token, "scan.pdf", jpeg())
    assert (status, body["content_type"]) == (201, JPEG)
    named = await StoredFile.select(StoredFile.original_name).where(StoredFile.id == body["id"])
    assert named[0]["original_name"] == "scan.jpg"
    status, body = await upload(client, token, "photo.jpg", pdf())
    assert (status, body["content_type"]) == (201, PDF)


async def test_refused_uploads_store_nothing(client: PageClient, settings: Settings) -> None:
    account, token = await signed_in(client)  # in Chinese, the language the account keeps
    before = stored_objects(settings)
    limit = settings.max_upload_mb * service.MIB
    cases = [
        (b"<svg><script>alert(1)</script></svg>", "只接受 JPEG、PNG、HEIC 和 PDF"),
        (b"", "文件是空的"),
        (jpeg()[:-3000], "损坏"),
        (b"\xff\xd8\xff" + os.urandom(limit), "文件超过"),
    ]
    for data, words in cases:
        status, body = await upload(client, token, "x.jpg", data)
        assert status == 400, body
        assert words in body["detail"]
    response = await client.post(
        "/files",
        files={"file": ("big.jpg", b"\xff" * (limit + 200_000), "image/jpeg")},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 413
    assert await rows_of(account) == 0
    assert stored_objects(settings) == before


async def test_a_plain_form_with_the_csrf_field_works_too(client: PageClient) -> None:
    _account, token = await signed_in(client)
    response = await client.post(
        "/files",
        data={"_csrf_token": token},
        files={"file": ("a.png", jpeg(), "image/png")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == JPEG


async def test_an_upload_without_a_file_is_a_400(client: PageClient) -> None:
    _account, token = await signed_in(client)
    response = await client.post(
        "/files",
        data={"other": "x"},
        files={"note": ("", b"", "text/plain")},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 400


async def test_a_plain_form_without_its_file_part_is_a_400_too(client: PageClient) -> None:
    # The CSRF field in the form: the middleware parses the form, which has no "file" at all.
    _account, token = await signed_in(client)
    response = await client.post(
        "/files", data={"_csrf_token": token}, files={"note": ("n.txt", b"x", "text/plain")}
    )
    assert response.status_code == 400


async def test_the_check_task_replaces_the_photo_with_a_clean_one(
    client: PageClient, settings: Settings
) -> None:
    _account, token = await signed_in(client)
    photo = jpeg(800, 600, exif=exif_with_gps_and_orientation(6).tobytes())
    _status, body = await upload(client, token, "id.jpeg", photo)
    ctx = {"file_storage": LocalStorage(settings.storage_dir)}

    assert await check_file(ctx, body["id"]) == CheckStatus.PASSED
    assert await check_file(ctx, body["id"]) == "skipped"  # checked once only

    row = await service.file_of(body["id"])
    assert row is not None
    assert row.check_result["metadata_removed"] == ["exif"]  # type: ignore[index]
    fetched = (await client.get(f"/files/{body['id']}")).content
    assert len(fetched) == row.size and fetched != photo
    with Image.open(io.BytesIO(fetched)) as clean:
        assert clean.size == (600, 800)
        assert not clean.getexif().get_ifd(ExifTags.IFD.GPSInfo)


async def test_a_small_photo_fails_the_check_with_reasons(
    client: PageClient, settings: Settings
) -> None:
    _account, token = await signed_in(client)
    _status, body = await upload(client, token, "tiny.png", jpeg(100, 100))
    assert await check_file({"file_storage": LocalStorage(settings.storage_dir)}, body["id"]) == (
        CheckStatus.FAILED
    )
    row = await service.file_of(body["id"])
    assert row is not None
    assert [r["code"] for r in row.check_result["reasons"]] == ["too_small"]  # type: ignore[index]


async def test_receiving_several_megabytes_keeps_memory_bounded(tmp_path: Path) -> None:
    account = Account(phone=fresh_phone()[1])
    await account.save()
    size = 8 * service.MIB
    pixels = jpeg(400, 400)
    padding = size - len(pixels)

    async def chunks() -> AsyncIterator[bytes]:
        # A valid PDF of ~8 MB, produced chunk by chunk so the test itself holds none of it.
        yield pdf()[:-7]
        for _ in range(padding // 65536):
            yield b"%" + b"0" * 65534 + b"\n"
        yield b"%%EOF\n"

    tracemalloc.start()
    try:
        stored = await service.receive(
            LocalStorage(tmp_path), int(account.id), "big.pdf", chunks(), max_bytes=10 * service.MIB
        )
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size > 7 * service.MIB
    assert peak < 2 * service.MIB, f"peak {peak} bytes for a {stored.size}-byte upload"


def test_the_worker_registers_the_check_and_its_sweeper() -> None:
    from workers.settings import WorkerSettings

    assert service.CHECK_JOB in {getattr(job, "name", "") for job in WorkerSettings.functions}
    assert "cron:sweep_pending" in {job.name for job in WorkerSettings.cron_jobs}
