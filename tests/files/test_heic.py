"""HEIC photos (an iPhone's default): accepted on upload, then turned upright and re-encoded as
a JPEG without metadata by the worker; cut-off files and bombs are refused with nothing stored."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from app.config import Settings
from app.files import service
from app.files.images import check_image
from app.files.sniff import HEIC, JPEG, Refused, sniff
from app.files.storage import LocalStorage
from app.files.tables import CheckStatus
from app.files.tasks import check_file
from tests.conftest import PageClient
from tests.files.conftest import BLUE, RED, heic
from tests.files.test_images import exif_with_gps_and_orientation
from tests.files.test_uploads import rows_of, signed_in, stored_objects, upload


def declaring(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its image spatial extents ('ispe', ISO/IEC 23008-12 §6.5.3) rewritten:
    the same few KB of HEVC now claim ``width``×``height`` pixels."""
    at = data.index(b"ispe")
    assert data.count(b"ispe") == 1  # one image, one declared size
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]


def iphone_photo() -> bytes:
    # 6 = "rotate 90° clockwise to display": the stored 800×600 is shown as 600×800, and the
    # red left half ends up at the top. pillow-heif writes it as the container's rotation.
    photo = heic(800, 600, exif=exif_with_gps_and_orientation(6).tobytes())
    with Image.open(io.BytesIO(photo)) as original:  # the test has GPS to remove
        assert original.format == "HEIF"
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return photo


def near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel, colour, strict=True))


def test_a_heic_is_accepted_with_its_upright_size() -> None:
    found = sniff(io.BytesIO(iphone_photo()))
    assert (found.content_type, found.width, found.height, found.extension) == (
        HEIC,
        600,
        800,
        "heic",
    )


def test_a_heic_whose_major_brand_is_generic_is_still_a_heic() -> None:
    photo = heic()
    assert photo[8:12] == b"heic"
    generic = photo[:8] + b"mif1" + photo[12:]  # HEVC said by the compatible brands only
    assert sniff(io.BytesIO(generic)).content_type == HEIC


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (heic()[:-200], "damaged"),
        (heic()[:300], "damaged"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "damaged"),  # a header alone
        (declaring(heic(), 8000, 6000), "pixels"),  # 48 MP: past ours
        (declaring(heic(), 100_000, 100_000), "pixels"),  # Pillow's own bomb limit
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64, "type"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif" + b"\x00" * 64, "type"),
    ],
    ids=["truncated", "cut-in-the-header", "ftyp-only", "48mp", "bomb", "avif", "mif1-avif"],
)
def test_refused_heif(data: bytes, code: str) -> None:
    with pytest.raises(Refused) as caught:
        sniff(io.BytesIO(data))
    assert caught.value.code == code and caught.value.message


async def test_an_uploaded_heic_becomes_a_clean_upright_jpeg(
    client: PageClient, settings: Settings
) -> None:
    _account, token = await signed_in(client)
    photo = iphone_photo()
    status, body = await upload(client, token, "IMG_0042.HEIC", photo)
    assert status == 201, body
    assert (body["content_type"], body["check_status"]) == (HEIC, "pending")
    row = await service.file_of(body["id"])
    assert row is not None and row.original_name == "IMG_0042.heic"

    ctx = {"file_storage": LocalStorage(settings.storage_dir)}
    assert await check_file(ctx, body["id"]) == CheckStatus.PASSED

    row = await service.file_of(body["id"])
    assert row is not None
    assert (row.content_type, row.original_name) == (JPEG, "IMG_0042.jpg")
    assert row.check_result["metadata_removed"] == ["exif"]  # type: ignore[index]
    response = await client.get(f"/files/{body['id']}")
    assert response.headers["content-type"] == JPEG
    fetched = response.content
    assert (len(fetched), hashlib.sha256(fetched).hexdigest()) == (row.size, row.sha256)
    assert b"PhoneMaker" not in fetched
    with Image.open(io.BytesIO(fetched)) as clean:
        assert clean.format == "JPEG"
        assert clean.size == (600, 800)
        assert len(clean.getexif()) == 0
        assert not clean.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert near(clean.getpixel((300, 100)), RED) and near(clean.getpixel((300, 700)), BLUE)


async def test_refused_heic_uploads_store_nothing(client: PageClient, settings: Settings) -> None:
    account, token = await signed_in(client)  # in Chinese, the language the account keeps
    before = stored_objects(settings)
    cases = [
        (heic()[:-200], "损坏"),
        (declaring(heic(), 8000, 6000), "像素过多"),
        (declaring(heic(), 100_000, 100_000), "像素过多"),
    ]
    for data, words in cases:
        status, body = await upload(client, token, "IMG_0001.HEIC", data)
        assert status == 400, body
        assert words in body["detail"]
    assert await rows_of(account) == 0
    assert stored_objects(settings) == before


def test_the_worker_check_refuses_a_heic_bomb_on_its_own(tmp_path: Path) -> None:
    # A stored file is checked again by the worker: a bomb that reached storage decodes nothing.
    source = tmp_path / "original"
    source.write_bytes(declaring(heic(), 8000, 6000))
    checked = check_image(source)
    assert (checked.ok, checked.clean_jpeg) == (False, None)
    assert [reason["code"] for reason in checked.reasons] == ["too_many_pixels"]
