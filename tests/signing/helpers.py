"""Real evidence bundles without a database: a software authenticator signs a challenge bound
to a document, the row gets the ``Signature`` columns, the platform (or a given key) seals it.

    make_bundle()                                   # ES256, sealed with the platform's key
    make_bundle(algorithm="RS256")
    make_bundle(user_verified=False)                # the authenticator did not verify the person
    make_bundle(edit=lambda bundle: bundle.pop("client_hash"))   # then sealed again

Each override changes one thing and seals the result properly, so that a test isolates one
check of the verifier. bench/signatures.py uses it too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from webauthn import generate_authentication_options, options_to_json
from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

from app.signing import evidence
from app.signing.canonical import canonical_bytes
from tests.fixtures.soft_authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
BODY = "本人承诺所填信息真实、准确、完整，如有虚假，愿承担相应法律责任。"


def new_authenticator(algorithm: str = "ES256", **options: Any) -> SoftAuthenticator:
    """A software authenticator holding one passkey for Tongban (``localhost``)."""
    authenticator = SoftAuthenticator(algorithm=algorithm, **options)
    registration = {
        "challenge": evidence.b64url(secrets.token_bytes(32)),
        "rp": {"id": RP_ID, "name": "Tongban"},
        "user": {"id": evidence.b64url(secrets.token_bytes(16)), "name": "13800000000"},
        "pubKeyCredParams": [{"type": "public-key", "alg": alg} for alg in (-7, -8, -257)],
    }
    authenticator.create(registration, ORIGIN)
    return authenticator


def a_document(
    *, body: str = BODY, account_id: int = 42, name: str = "张*", phone: str = "138****0000"
) -> dict[str, Any]:
    return evidence.document_data(
        kind="pledge",
        title="告知承诺书",
        body=body,
        signer_account_id=account_id,
        signer_name_masked=name,
        signer_phone_masked=phone,
        references=[{"type": "licence", "id": 7}],
        created_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    )


def seal_with(unsealed: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``evidence.seal`` with another Ed25519 key than the platform's."""
    public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        **unsealed,
        "seal": {
            "alg": evidence.SEAL_ALGORITHM,
            "public_key": evidence.b64url(public_key),
            "signature": evidence.b64url(key.sign(canonical_bytes(unsealed))),
        },
    }


def reseal(bundle: dict[str, Any], key: Ed25519PrivateKey | None = None) -> bytes:
    """A bundle's file after it was edited: the old seal dropped, a fresh one made."""
    unsealed = {name: value for name, value in bundle.items() if name != "seal"}
    return canonical_bytes(seal_with(unsealed, key) if key else evidence.seal(unsealed))


def make_bundle(
    *,
    algorithm: str = "ES256",
    authenticator: SoftAuthenticator | None = None,
    document: dict[str, Any] | None = None,
    challenge_for: dict[str, Any] | None = None,
    signed_by: SoftAuthenticator | None = None,
    user_verified: bool = True,
    assertion_origin: str = ORIGIN,
    assertion_rp_id: str = RP_ID,
    tamper: Callable[[SoftAuthenticator, dict[str, Any]], dict[str, Any]] | None = None,
    edit: Callable[[dict[str, Any]], Any] | None = None,
    seal_key: Ed25519PrivateKey | None = None,
) -> bytes:
    """The bytes of a real evidence bundle.

    ``authenticator`` holds the passkey named in the bundle (a fresh one of ``algorithm`` by
    default). The challenge is made for ``challenge_for`` (default: the document itself);
    ``signed_by`` is another authenticator whose passkey signs in its place; the assertion is
    made at ``assertion_origin`` for ``assertion_rp_id``; ``tamper(authenticator, assertion)``
    returns a changed assertion (the soft authenticator's ``tamper_*`` helpers). ``edit``
    changes the unsealed bundle in place before it is sealed, with the platform's key or
    ``seal_key``.
    """
    authenticator = authenticator or new_authenticator(algorithm)
    passkey = authenticator.credentials[0]
    document = document if document is not None else a_document()
    bound = challenge_for if challenge_for is not None else document
    challenge = (
        secrets.token_bytes(evidence.NONCE_BYTES) + hashlib.sha256(canonical_bytes(bound)).digest()
    )
    signer = signed_by or authenticator
    options = options_to_json(
        generate_authentication_options(
            rp_id=RP_ID,
            challenge=challenge,
            allow_credentials=[
                PublicKeyCredentialDescriptor(id=signer.credentials[0].credential_id)
            ],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
    )
    assertion = signer.get(
        options,
        assertion_origin,
        credential_id=signer.credentials[0].credential_id,
        user_verified=user_verified,
        rp_id=assertion_rp_id,
    )
    if tamper is not None:
        assertion = tamper(signer, assertion)
    response = assertion["response"]
    authenticator_data = evidence.from_b64url(response["authenticatorData"])
    flags = authenticator_data[32]
    row = {
        "id": secrets.token_urlsafe(18),
        "account": document["signer"]["account_id"],
        "signer_name_masked": document["signer"]["name_masked"],
        "signer_phone_masked": document["signer"]["phone_masked"],
        "document_sha256": evidence.document_hash(document),
        "credential_id": passkey.id,
        "credential_public_key": evidence.b64url(passkey.cose_public_key),
        "authenticator_data": response["authenticatorData"],
        "client_data_json": response["clientDataJSON"],
        "signature": response["signature"],
        "user_handle": response.get("userHandle", ""),
        "challenge": evidence.b64url(challenge),
        "user_present": bool(flags & 0x01),
        "user_verified": bool(flags & 0x04),
        "backup_eligible": bool(flags & 0x08),
        "backed_up": bool(flags & 0x10),
        "sign_count": int.from_bytes(authenticator_data[33:37], "big"),
        "rp_id": RP_ID,
        "origin": ORIGIN,
        "signed_at": datetime(2026, 11, 24, 9, 31, 5, 123456, tzinfo=UTC),
        "client_hash": hashlib.sha256(b"203.0.113.9 test-agent").hexdigest(),
    }
    unsealed = evidence.unsealed_bundle(row, document)
    if edit is not None:
        edit(unsealed)
    sealed = seal_with(unsealed, seal_key) if seal_key else evidence.seal(unsealed)
    return canonical_bytes(sealed)
