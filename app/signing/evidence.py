"""The evidence bundle: one signature's evidence as a single canonical JSON file, sealed by the
platform (docs/signing.md, "Evidence bundle").

    {
      "format": "tongban-signature-evidence/1",
      "id": signature id,
      "document": the signed document (an object; its canonical bytes are what was hashed),
      "document_sha256": hex SHA-256 of the document's canonical bytes,
      "signer": {"account_id", "name_masked", "phone_masked"},
      "credential": {"id", "public_key"}                    base64url; the key is COSE,
      "assertion": {"authenticator_data", "client_data_json", "signature", "user_handle"},
      "challenge": base64url of a 16-byte nonce followed by the 32-byte document hash,
      "flags": {"up", "uv", "be", "bs"},
      "sign_count": the authenticator's counter in the assertion,
      "rp_id", "origin": what the assertion was checked against at signing time,
      "signed_at": "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC),
      "client_hash": keyed hash of the signer's IP address and user agent (hex),
      "seal": {"alg": "Ed25519", "public_key", "signature"}  base64url
    }

The passkey's signature proves that the holder of the credential's private key approved the
challenge, and so this document: the platform cannot make one. The seal is the platform's
Ed25519 signature over the canonical bytes of everything else in the bundle: it binds what the
passkey does not sign (who the account was, when, from where) and makes any changed byte of the
file detectable. The seal key is derived from ``TONGBAN_SECRET_KEY``; its public half is
published at ``/signatures/seal-key`` and named in every bundle.

The bundle file is exactly ``canonical_bytes(bundle)``: a verifier refuses any other spelling.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from webauthn.helpers import bytes_to_base64url

from app.core.crypto import derive_key
from app.signing.canonical import canonical_bytes, sha256_hex

FORMAT = "tongban-signature-evidence/1"
DOCUMENT_FORMAT = "tongban-document/1"
SEAL_ALGORITHM = "Ed25519"
NONCE_BYTES = 16


# The encoding the passkey code already uses (py_webauthn's): base64url without padding.
b64url = bytes_to_base64url


def from_b64url(text: str) -> bytes:
    """Strict base64url without padding: the one spelling ``b64url`` gives, ValueError for
    anything else (py_webauthn's decoder accepts padding and stray characters)."""
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not base64url in its one spelling")
    return data


def timestamp(moment: datetime) -> str:
    """The one spelling of a moment in a bundle: UTC with microseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=1)
def _seal_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive_key("signature-evidence-seal"))


def seal_public_key() -> bytes:
    """The raw 32-byte public key of the platform's seal."""
    return _seal_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public_key: bytes) -> str:
    """How people compare seal keys: the first 16 hex characters of the key's SHA-256."""
    return sha256_hex(public_key)[:16]


def seal(unsealed: dict[str, Any]) -> dict[str, Any]:
    """The bundle with the platform's seal over everything else in it."""
    if "seal" in unsealed:
        raise ValueError("already sealed")
    signature = _seal_key().sign(canonical_bytes(unsealed))
    return {
        **unsealed,
        "seal": {
            "alg": SEAL_ALGORITHM,
            "public_key": b64url(seal_public_key()),
            "signature": b64url(signature),
        },
    }


def seal_holds(bundle: dict[str, Any]) -> bool:
    """Whether the bundle's seal is a valid signature by the key it names (not whether that
    key is ours: compare it with ``seal_public_key``)."""
    sealed = bundle.get("seal")
    if not isinstance(sealed, dict) or sealed.get("alg") != SEAL_ALGORITHM:
        return False
    rest = {key: value for key, value in bundle.items() if key != "seal"}
    try:
        key = Ed25519PublicKey.from_public_bytes(from_b64url(sealed["public_key"]))
        key.verify(from_b64url(sealed["signature"]), canonical_bytes(rest))
    except (InvalidSignature, ValueError, KeyError, TypeError):  # any fault: it does not hold
        return False
    return True


def document_data(
    *,
    kind: str,
    title: str,
    body: str,
    signer_account_id: int,
    signer_name_masked: str,
    signer_phone_masked: str,
    references: list[dict[str, Any]],
    created_at: datetime,
) -> dict[str, Any]:
    """A signable document as data; ``canonical_bytes`` of it is what gets hashed."""
    return {
        "format": DOCUMENT_FORMAT,
        "kind": kind,
        "title": title,
        "body": body,
        "signer": {
            "account_id": signer_account_id,
            "name_masked": signer_name_masked,
            "phone_masked": signer_phone_masked,
        },
        "references": references,
        "created_at": timestamp(created_at),
    }


def unsealed_bundle(row: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """The bundle of a stored signature (a ``Signature`` row as a dict), before the seal."""
    return {
        "format": FORMAT,
        "id": row["id"],
        "document": document,
        "document_sha256": row["document_sha256"],
        "signer": {
            "account_id": row["account"],
            "name_masked": row["signer_name_masked"],
            "phone_masked": row["signer_phone_masked"],
        },
        "credential": {"id": row["credential_id"], "public_key": row["credential_public_key"]},
        "assertion": {
            "authenticator_data": row["authenticator_data"],
            "client_data_json": row["client_data_json"],
            "signature": row["signature"],
            "user_handle": row["user_handle"] or None,
        },
        "challenge": row["challenge"],
        "flags": {
            "up": row["user_present"],
            "uv": row["user_verified"],
            "be": row["backup_eligible"],
            "bs": row["backed_up"],
        },
        "sign_count": row["sign_count"],
        "rp_id": row["rp_id"],
        "origin": row["origin"],
        "signed_at": timestamp(row["signed_at"]),
        "client_hash": row["client_hash"],
    }


def bundle_bytes(row: dict[str, Any], document: dict[str, Any]) -> bytes:
    """The evidence bundle file of a stored signature: its columns, with the stored seal."""
    bundle = unsealed_bundle(row, document)
    bundle["seal"] = {
        "alg": SEAL_ALGORITHM,
        "public_key": row["seal_public_key"],
        "signature": row["seal"],
    }
    return canonical_bytes(bundle)


def document_hash(document: dict[str, Any]) -> str:
    return sha256_hex(canonical_bytes(document))
