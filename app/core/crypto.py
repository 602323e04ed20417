"""Keys derived from ``TONGBAN_SECRET_KEY``, one per purpose (HKDF, RFC 5869).

Deriving instead of reusing the secret keeps a leak of one derived key (say, in a log of HMACs)
from exposing the others. Rotating the secret makes encrypted fields unreadable: re-encrypt them
first (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import get_settings


@lru_cache(maxsize=16)
def derive_key(purpose: str, length: int = 32) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"tongban", info=purpose.encode()
    ).derive(get_settings().secret_key.encode())


def keyed_hash(purpose: str, *parts: str) -> str:
    """HMAC-SHA256 over the parts, hex: for values we compare but must not store (codes, IPs)."""
    message = "\x1f".join(parts).encode()
    return hmac.new(derive_key(purpose), message, hashlib.sha256).hexdigest()


def _fernet(purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(purpose)))


def encrypt(purpose: str, plaintext: str) -> str:
    return _fernet(purpose).encrypt(plaintext.encode()).decode()


def decrypt(purpose: str, token: str) -> str | None:
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
