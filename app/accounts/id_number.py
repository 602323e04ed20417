"""Resident identity card numbers (居民身份证号码, GB 11643-1999): check, encrypt, mask."""

from __future__ import annotations

import re
from datetime import date

from app.core.crypto import decrypt, encrypt

_PATTERN = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
PURPOSE = "accounts.id_number"


def normalise_id_number(raw: str) -> str | None:
    """The 18-character number if its check digit (ISO 7064 MOD 11-2) and birth date hold."""
    text = (raw or "").strip().upper().replace(" ", "")
    if not _PATTERN.match(text):
        return None
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != text[17]:
        return None
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None
    if born.year < 1900 or born > date.today():
        return None
    return text


def mask_id_number(number: str) -> str:
    """``310***********123X``: first 3 and last 4 characters only."""
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def seal(number: str) -> str:
    return encrypt(PURPOSE, number)


def unseal(token: str | None) -> str | None:
    return decrypt(PURPOSE, token) if token else None
