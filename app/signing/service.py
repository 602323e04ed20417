"""Signing a document with a passkey (docs/signing.md).

1. ``prepare`` fixes a document for one signer: its canonical bytes and their SHA-256.
2. ``start`` issues a WebAuthn request whose challenge is a fresh 16-byte nonce followed by the
   document's hash, limited to the signer's own passkeys, user verification required; the
   challenge is kept in Redis, single-use, for five minutes.
3. ``finish`` takes the challenge back (once), checks that its hash part is the hash of the
   document as stored now, that the credential is one of the signer's passkeys, and the
   assertion with py_webauthn (origin, RP id, UP and UV, signature, counter); then writes the
   evidence, sealed, in the same transaction that moves the passkey's counter on.

Anything refused raises ``SigningError`` with a localised message and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from webauthn import (
    generate_authentication_options,
    options_to_json,
    verify_authentication_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
)
from webauthn.helpers.structs import (
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from app.accounts import passkeys
from app.accounts.tables import Account, Passkey
from app.config import get_settings
from app.core.crypto import keyed_hash
from app.core.display import mask_phone
from app.core.i18n import _
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.signing import evidence
from app.signing.canonical import canonical_bytes, sha256_hex
from app.signing.tables import DocumentKind, SignableDocument, Signature

log = get_logger("signing")
CHALLENGE_KIND = "sign"


class SigningError(Exception):
    """A refused signing; the message is localised and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧**娜: enough to recognise, not enough to identify."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


async def prepare(
    account: Account,
    kind: DocumentKind,
    title: str,
    body: str,
    references: list[dict[str, Any]] | None = None,
) -> SignableDocument:
    """A document for ``account`` to sign, its canonical bytes fixed now."""
    created_at = datetime.now(UTC)
    data = evidence.document_data(
        kind=kind.value,
        title=title,
        body=body,
        signer_account_id=int(account.id),
        signer_name_masked=mask_name(account.name),
        signer_phone_masked=mask_phone(account.phone),
        references=references or [],
        created_at=created_at,
    )
    content = canonical_bytes(data)
    document = SignableDocument(
        kind=kind.value,
        signer=account.id,
        title=title,
        body=body,
        references=references or [],
        content=content.decode("utf-8"),
        sha256=sha256_hex(content),
        created_at=created_at,
    )
    await document.save()
    return document


async def document_for(account_id: int, document_id: int) -> SignableDocument | None:
    """The signer's own document; someone else's is simply not found."""
    return (
        await SignableDocument.objects()
        .where(SignableDocument.id == document_id, SignableDocument.signer == account_id)
        .first()
    )


async def unsigned_document(account_id: int, kind: DocumentKind) -> SignableDocument | None:
    """The account's latest document of this kind that is not signed yet, if any."""
    signed = [
        row["document"]
        for row in await Signature.select(Signature.document).where(Signature.account == account_id)
    ]
    query = SignableDocument.objects().where(
        SignableDocument.signer == account_id, SignableDocument.kind == kind.value
    )
    if signed:
        query = query.where(SignableDocument.id.not_in(signed))
    return await query.order_by(SignableDocument.id, ascending=False).first()


async def signature_of(document_id: int) -> str | None:
    row = await Signature.select(Signature.id).where(Signature.document == document_id).first()
    return None if row is None else str(row["id"])


@dataclass(frozen=True, slots=True)
class Started:
    challenge_id: str
    options: str  # PublicKeyCredentialRequestOptions as JSON


async def start(redis: Redis, account: Account, document: SignableDocument) -> Started:
    """The WebAuthn request that signs this document with one of the account's passkeys."""
    if await signature_of(int(document.id)) is not None:
        raise SigningError(_("This document is already signed."))
    rows = await Passkey.select(Passkey.credential_id).where(Passkey.account == account.id)
    if not rows:
        raise SigningError(_("Add a passkey on your account page first: signing needs one."))
    settings = get_settings()
    challenge = secrets.token_bytes(evidence.NONCE_BYTES) + bytes.fromhex(document.sha256)
    options = generate_authentication_options(
        rp_id=settings.rp_id,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row["credential_id"]))
            for row in rows
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
        timeout=120_000,
    )
    challenge_id = await passkeys.keep_challenge(
        redis,
        CHALLENGE_KIND,
        {
            "challenge": bytes_to_base64url(challenge),
            "account": int(account.id),
            "document": int(document.id),
        },
    )
    return Started(challenge_id, options_to_json(options))


async def finish(
    redis: Redis,
    account: Account,
    document: SignableDocument,
    challenge_id: object,
    credential: object,
    *,
    client_ip: str,
    user_agent: str,
) -> str:
    """Verify the assertion and keep the evidence; the new signature's id. ``document`` is the
    signer's own, as the caller loaded it for this request."""
    expired = _("This signing request has expired. Please sign again.")
    refused = _("This passkey signature could not be accepted. Nothing was signed.")
    try:
        state = await passkeys.take_challenge(redis, CHALLENGE_KIND, challenge_id)
    except passkeys.PasskeyError:
        raise SigningError(expired) from None
    if state.get("account") != account.id or state.get("document") != document.id:
        log.warning("signature_failure", reason="challenge of another signing")
        raise SigningError(refused)
    challenge = base64url_to_bytes(state["challenge"])
    content = document.content.encode("utf-8")
    # The challenge was made for these very bytes: a document changed since is not signed.
    if challenge[evidence.NONCE_BYTES :] != hashlib.sha256(content).digest():
        log.warning("signature_failure", reason="document changed", document_id=document.id)
        raise SigningError(refused)
    try:
        parsed = parse_authentication_credential_json(passkeys.credential_json(credential))
        passkeys.check_context(parsed.raw_id, parsed.response.client_data_json)
    except passkeys.REFUSED as exc:
        raise SigningError(refused) from exc
    credential_id = bytes_to_base64url(parsed.raw_id)
    passkey = (
        await Passkey.objects()
        .where(Passkey.credential_id == credential_id, Passkey.account == account.id)
        .first()
    )
    if passkey is None:  # unknown, or another person's passkey
        log.warning("signature_failure", reason="not the signer's passkey")
        raise SigningError(refused)
    settings = get_settings()
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except passkeys.REFUSED as exc:
        log.warning("signature_failure", reason=str(exc)[:120], passkey_id=passkey.id)
        raise SigningError(refused) from exc
    eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if eligible != passkey.backup_eligible:
        log.warning("signature_failure", reason="backup eligibility changed")
        raise SigningError(refused)
    signature_id = secrets.token_urlsafe(18)
    row: dict[str, Any] = {
        "id": signature_id,
        "document": int(document.id),
        "account": int(account.id),
        "signer_name_masked": mask_name(account.name),
        "signer_phone_masked": mask_phone(account.phone),
        "document_content": document.content,
        "document_sha256": document.sha256,
        "credential_id": credential_id,
        "credential_public_key": passkey.public_key,
        "authenticator_data": bytes_to_base64url(parsed.response.authenticator_data),
        "client_data_json": bytes_to_base64url(parsed.response.client_data_json),
        "signature": bytes_to_base64url(parsed.response.signature),
        "user_handle": bytes_to_base64url(parsed.response.user_handle or b""),
        "challenge": bytes_to_base64url(challenge),
        "user_present": True,  # py_webauthn refuses an assertion without UP
        "user_verified": verified.user_verified,
        "backup_eligible": eligible,
        "backed_up": verified.credential_backed_up,
        "sign_count": verified.new_sign_count,
        "rp_id": settings.rp_id,
        "origin": settings.origin,
        "signed_at": datetime.now(UTC),
        "client_hash": keyed_hash("signature-client", client_ip, user_agent[:500]),
    }
    sealed = evidence.seal(evidence.unsealed_bundle(row, json.loads(document.content)))
    row["seal_public_key"] = sealed["seal"]["public_key"]
    row["seal"] = sealed["seal"]["signature"]
    async with write_transaction(f"signing:document:{document.id}"):
        if await signature_of(int(document.id)) is not None:
            raise SigningError(_("This document is already signed."))
        await Signature.insert(Signature(**row))
        await Passkey.update(
            {
                Passkey.sign_count: verified.new_sign_count,
                Passkey.backed_up: verified.credential_backed_up,
                Passkey.last_used_at: row["signed_at"],
            }
        ).where(Passkey.id == passkey.id)
    log.info("signature_success", signature_id=signature_id, document_id=document.id)
    return signature_id


async def signatures_of(account_id: int) -> list[dict[str, Any]]:
    """The account's signatures, newest first, for the account page."""
    return list(
        await Signature.select(
            Signature.id,
            Signature.signed_at,
            Signature.document.title.as_alias("title"),
            Signature.document.kind.as_alias("kind"),
        )
        .where(Signature.account == account_id)
        .order_by(Signature.signed_at, ascending=False)
    )


async def has_signed(account_id: int, kind: DocumentKind) -> bool:
    """Whether the account has signed a document of this kind."""
    count = await Signature.count().where(
        Signature.account == account_id, Signature.document.kind == kind.value
    )
    return bool(count)


async def evidence_of(signature_id: str) -> tuple[bytes, dict[str, Any]] | None:
    """The evidence bundle file of a signature, and its row; None when there is none."""
    row = await Signature.select().where(Signature.id == signature_id).first()
    if row is None:
        return None
    return evidence.bundle_bytes(row, json.loads(row["document_content"])), row
