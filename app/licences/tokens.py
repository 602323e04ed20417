"""亮证 tokens: a compact, signed statement "licence N, these fields, until T".

Format: ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))``, no padding, where
``payload`` is ASCII ``v1:<licence id>:<expiry, unix seconds>:<field,field,...>`` and ``key`` is
derived from the secret key for this purpose only (app/core/crypto.py, HKDF). The MAC proves
that this server issued exactly this licence id, field set and expiry; it proves nothing about
the licence *now*, so the verify page also reads the licence (revoked? still valid?) at view time.
The token carries no personal data: the fields' values are read from the database when shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from app.core.crypto import derive_key

PURPOSE = "licences.share_token"
TTL_SECONDS = 5 * 60
MAX_TOKEN_LENGTH = 600  # a real token is well under 200 characters; longer is junk
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PAYLOAD = re.compile(r"^v1:([1-9][0-9]{0,9}):([1-9][0-9]{0,11}):([a-z0-9_,]{1,500})$")


class TokenError(Exception):
    """``kind`` is ``invalid`` (junk, tampered, oversized) or ``expired``."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class ShareClaim:
    licence_id: int
    expires_at: int  # unix seconds
    fields: tuple[str, ...]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise TokenError("invalid")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("invalid") from exc


def _mac(payload: bytes) -> bytes:
    return hmac.new(derive_key(PURPOSE), payload, hashlib.sha256).digest()


def issue(licence_id: int, fields: list[str] | tuple[str, ...], now: int) -> str:
    chosen = sorted(set(fields))
    if not chosen or not all(_FIELD.match(name) for name in chosen):
        raise ValueError("fields must be a non-empty set of field keys")
    payload = f"v1:{licence_id}:{now + TTL_SECONDS}:{','.join(chosen)}".encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def read(token: str, now: int) -> ShareClaim:
    """The claim of a genuine, unexpired token; ``TokenError`` otherwise."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("invalid")
    encoded_payload, encoded_mac = token.split(".")
    payload = _unb64(encoded_payload)
    if not hmac.compare_digest(_unb64(encoded_mac), _mac(payload)):
        raise TokenError("invalid")
    # Signed by us, so well formed; parsed strictly all the same.
    match = _PAYLOAD.match(payload.decode("ascii", errors="replace"))
    if match is None:
        raise TokenError("invalid")
    fields = tuple(match.group(3).split(","))
    if not all(_FIELD.match(name) for name in fields):
        raise TokenError("invalid")
    expires_at = int(match.group(2))
    if now >= expires_at:
        raise TokenError("expired")
    return ShareClaim(licence_id=int(match.group(1)), expires_at=expires_at, fields=fields)
