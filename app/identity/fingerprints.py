"""Perceptual fingerprints: the same photo used again, in another session or by another account.

A pHash (``imagehash.phash``: the signs of the lowest 8×8 frequencies of a 32×32 DCT of the grey
image) is 64 bits, written as 16 hex digits. Re-saving, re-scaling or re-compressing a photo
changes few of its bits; two different photos differ in about half of them.

Finding near ones among millions without comparing every pair: the 64 bits are cut into four
16-bit bands, each stored as an indexed integer column (tables.Fingerprint). By the pigeonhole
principle, two hashes within Hamming distance 3 differ in at most 3 of the 4 bands, so they have
at least one band equal: the lookup asks for rows sharing any band, then measures the full
distance of those few candidates. A pair at distance 4 to ``NEAR`` may differ in every band and
be missed; what the bands catch for certain is distance ≤ 3, which every re-saved or re-scaled
copy in the tests stays within (tests/identity/test_fingerprints.py).
"""

from __future__ import annotations

BANDS = 4
BAND_BITS = 16
# At most this many differing bits is "the same photo". Calibrated in the tests: re-encoded,
# re-scaled, brightened or 1 % cropped copies of a photo are 0–2 bits apart, 2 % cropped 4, and
# different photographs 30 to 36 (half of 64 is what chance gives).
NEAR = 6


def _value(phash: str) -> int:
    if len(phash) != BANDS * BAND_BITS // 4:
        raise ValueError("a pHash is 16 hex digits")
    return int(phash, 16)


def bands(phash: str) -> tuple[int, int, int, int]:
    """The four 16-bit bands of ``phash``, most significant first, each 0–65535."""
    value = _value(phash)
    mask = (1 << BAND_BITS) - 1
    first, second, third, fourth = (
        (value >> (BAND_BITS * (BANDS - 1 - index))) & mask for index in range(BANDS)
    )
    return first, second, third, fourth


def distance(a: str, b: str) -> int:
    """Hamming distance between two pHashes: how many of the 64 bits differ."""
    return (_value(a) ^ _value(b)).bit_count()


def near(a: str, b: str) -> bool:
    return distance(a, b) <= NEAR
