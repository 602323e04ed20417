"""The canonical form of what Tongban signs and keeps (docs/signing.md).

One function turns plain data into bytes, the same bytes for the same data on every machine:
UTF-8 JSON, keys sorted, no whitespace, every string in Unicode normalisation form C, no
floating-point numbers. A document's hash is the SHA-256 of its canonical bytes; the evidence
bundle is stored and shipped in the same form, so a verifier can tell a changed byte from an
equivalent rewriting.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any


class NotCanonical(ValueError):
    """Data that has no canonical form (a float, a non-string key, something not JSON)."""


def _normalised(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple):
        return [_normalised(item) for item in value]
    if isinstance(value, dict):
        normalised = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"object keys must be strings, not {type(key).__name__}")
            normalised[unicodedata.normalize("NFC", key)] = _normalised(item)
        return normalised
    raise NotCanonical(f"{type(value).__name__} has no canonical form")


def canonical_bytes(data: Any) -> bytes:
    """The canonical bytes of ``data`` (dicts, lists, strings, integers, booleans, None)."""
    return json.dumps(
        _normalised(data), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
