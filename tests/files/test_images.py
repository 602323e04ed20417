"""The worker's image check: metadata (GPS) removed, orientation applied, small images failed."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import ExifTags, Image

from app.files.images import MIN_SIDE, check_image
from tests.files.conftest import jpeg


def exif_with_gps_and_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 14.0, 10.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (121.0, 29.0, 5.0),
    }
    return exif


def test_gps_and_all_exif_are_gone_and_orientation_is_applied(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    # 6 = "rotate 90° clockwise to display": the stored 800×600 is shown as 600×800.
    source.write_bytes(jpeg(800, 600, exif=exif_with_gps_and_orientation(6).tobytes()))
    with Image.open(source) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test has GPS to remove

    checked = check_image(source)

    assert checked.ok and checked.reasons == []
    assert checked.clean_jpeg is not None
    with Image.open(io.BytesIO(checked.clean_jpeg)) as clean:
        assert clean.format == "JPEG"
        assert clean.size == (600, 800)
        assert len(clean.getexif()) == 0
        assert "exif" not in clean.info and "icc_profile" not in clean.info
    assert b"PhoneMaker" not in checked.clean_jpeg
    assert checked.details["metadata_removed"] == ["exif"]


def test_a_small_image_fails_with_a_reason_in_both_languages(tmp_path: Path) -> None:
    source = tmp_path / "small.jpg"
    source.write_bytes(jpeg(MIN_SIDE - 1, 900))
    checked = check_image(source)
    assert not checked.ok
    [reason] = checked.reasons
    assert reason["code"] == "too_small" and "太小" in reason["zh"] and "small" in reason["en"]
    assert checked.clean_jpeg is not None  # still cleaned: the original is not kept


def test_an_unreadable_image_fails_without_output(tmp_path: Path) -> None:
    source = tmp_path / "broken.jpg"
    source.write_bytes(jpeg()[:500])
    checked = check_image(source)
    assert (checked.ok, checked.clean_jpeg, checked.reasons[0]["code"]) == (False, None, "damaged")


def test_a_comment_in_the_upload_does_not_survive(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(jpeg(800, 600, comment=b"taken at 31.2304N 121.4737E by Zhang San"))
    with Image.open(source) as original:
        assert original.info.get("comment")  # the test has a comment to remove
    checked = check_image(source)
    assert checked.clean_jpeg is not None
    assert b"Zhang San" not in checked.clean_jpeg
    with Image.open(io.BytesIO(checked.clean_jpeg)) as clean:
        assert "comment" not in clean.info
