"""Perceptual fingerprints: a copy of a photo is near, another photo is far, and the four bands
find every hash within distance 3 (app/identity/fingerprints.py)."""

from __future__ import annotations

import itertools
import random

import pytest
from PIL import Image

from app.identity.checks import Part, analyse
from app.identity.fingerprints import NEAR, bands, distance, near
from tests.identity.images import (
    astronaut,
    brightness,
    chelsea,
    coffee,
    encoded,
    larger,
    twelve_megapixels,
)


def phash(data: bytes) -> str:
    found = analyse(data, Part.DOCUMENT).phash
    assert found is not None
    return found


def test_bands_are_the_four_sixteen_bit_quarters() -> None:
    assert bands("0123456789abcdef") == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert bands("ffff000000000000") == (65535, 0, 0, 0)


@pytest.mark.parametrize("bad", ["", "0123", "0123456789abcdef0", "0123456789abcdeg"])
def test_a_malformed_hash_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        bands(bad)


def test_distance_counts_differing_bits() -> None:
    assert distance("0000000000000000", "0000000000000000") == 0
    assert distance("0000000000000000", "8000000000000001") == 2
    assert distance("0000000000000000", "ffffffffffffffff") == 64


def test_within_distance_three_one_band_is_always_shared() -> None:
    # The pigeonhole guarantee the indexed lookup rests on, on random hashes and flips.
    rng = random.Random(10)
    for _ in range(2000):
        value = rng.getrandbits(64)
        flipped = value
        for bit in rng.sample(range(64), rng.randint(0, 3)):
            flipped ^= 1 << bit
        a, b = f"{value:016x}", f"{flipped:016x}"
        assert distance(a, b) <= 3
        assert any(x == y for x, y in zip(bands(a), bands(b), strict=True))


def test_copies_of_a_photo_are_near_and_found_by_a_band() -> None:
    original = phash(encoded(astronaut(), quality=92))
    copies = {
        "png": encoded(astronaut(), "PNG"),
        "quality 60": encoded(astronaut(), quality=60),
        "scaled up": encoded(larger(astronaut(), 1.7), quality=85),
        "scaled down": encoded(astronaut().resize((480, 480), Image.LANCZOS)),
        "12 megapixels": twelve_megapixels(),
        "brighter": encoded(brightness(astronaut(), 1.15)),
        "1 % cropped": encoded(astronaut().crop((5, 5, 507, 507))),
    }
    for name, data in copies.items():
        copy = phash(data)
        # The bands find it for certain (≤ 3), and it is well within NEAR.
        assert distance(original, copy) <= 3, name
        assert near(original, copy), name
        assert set(bands(original)) & set(bands(copy)), name


def test_a_closer_crop_is_near_though_past_what_the_bands_promise() -> None:
    # 2 % cropped from each side: 4 bits apart, within NEAR when compared, but a pair this far
    # apart may share no band, so the lookup is only certain to find copies within 3.
    cropped = phash(encoded(astronaut().crop((10, 10, 502, 502))))

    assert 3 < distance(phash(encoded(astronaut())), cropped) <= NEAR


def test_different_photos_are_far() -> None:
    photos = [
        phash(encoded(image))
        for image in (astronaut(), coffee(), chelsea(), astronaut().transpose(0))
    ]
    for a, b in itertools.combinations(photos, 2):
        assert distance(a, b) >= 4 * NEAR
        assert not near(a, b)
