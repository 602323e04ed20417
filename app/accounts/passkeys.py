"""Passkeys with py_webauthn: registration and sign-in ceremonies (WebAuthn Level 3).

Challenges live in Redis for 5 minutes and are taken with GETDEL, so each is single-use.
Registration requires a discoverable credential and user verification, attestation "none",
and one of ES256, EdDSA, RS256. Sign-in checks the origin, RP id, user verification, the
signature against the stored public key, the signature counter (§6.1.1) and that the backup
eligibility flag did not change (§6.1.3); the user handle must be the account's.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.accounts.phone import national
from app.accounts.tables import Account, Passkey
from app.config import get_settings
from app.core.i18n import _
from app.core.logging import get_logger

log = get_logger("accounts.passkeys")
CHALLENGE_TTL = 300
MAX_CREDENTIAL_JSON = 64 * 1024
# WebAuthn L3 §7.1 step 25 / §7.2: credential ids are at most 1023 bytes; longer is refused.
MAX_CREDENTIAL_ID = 1023
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_CHALLENGE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class PasskeyError(Exception):
    """A refused ceremony; the message is localised and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# What a malformed or refused browser answer may raise while it is parsed and verified.
REFUSED = (PasskeyError, WebAuthnException, ValueError, KeyError, TypeError, RecursionError)


def _key(kind: str, challenge_id: str) -> str:
    return f"tongban:webauthn:{kind}:{challenge_id}"


async def keep_challenge(redis: Redis, kind: str, data: dict[str, Any]) -> str:
    challenge_id = secrets.token_urlsafe(24)
    await redis.set(_key(kind, challenge_id), json.dumps(data), ex=CHALLENGE_TTL)
    return challenge_id


async def take_challenge(redis: Redis, kind: str, challenge_id: object) -> dict[str, Any]:
    if not isinstance(challenge_id, str) or not _CHALLENGE_ID.match(challenge_id):
        raise PasskeyError(_("This passkey request has expired. Please try again."))
    raw = await redis.getdel(_key(kind, challenge_id))
    if raw is None:
        raise PasskeyError(_("This passkey request has expired. Please try again."))
    data: dict[str, Any] = json.loads(raw)
    return data


def credential_json(credential: object) -> str:
    text = credential if isinstance(credential, str) else json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON:
        raise PasskeyError(_("The passkey response is not valid."))
    return text


def check_context(raw_id: bytes, client_data_json: bytes) -> None:
    """Checks py_webauthn leaves to us (WebAuthn Level 3).

    §7.1 step 25 and §7.2: a credential id longer than 1023 bytes is refused.
    §7.1 steps 10–11, §7.2 steps 12–13: ``crossOrigin`` true or a ``topOrigin`` means the
    ceremony ran in an iframe of another site. Tongban is never framed (frame-ancestors
    'none'), so neither is expected and both are refused.
    """
    if not raw_id or len(raw_id) > MAX_CREDENTIAL_ID:
        raise ValueError("credential id length")
    client_data = json.loads(client_data_json)
    if not isinstance(client_data, dict):
        raise ValueError("client data is not an object")
    if client_data.get("crossOrigin") not in (None, False) or "topOrigin" in client_data:
        raise ValueError("cross-origin ceremony")


def user_handle(account: Account) -> bytes:
    return base64url_to_bytes(account.webauthn_user_id)


async def registration_options(account: Account, redis: Redis) -> tuple[str, str]:
    settings = get_settings()
    existing = await Passkey.select(Passkey.credential_id).where(Passkey.account == account.id)
    options = generate_registration_options(
        rp_id=settings.rp_id,
        rp_name=_("Tongban"),
        user_id=user_handle(account),
        user_name=national(account.phone),
        user_display_name=account.name or national(account.phone),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row["credential_id"]))
            for row in existing
        ],
        supported_pub_key_algs=ALGORITHMS,
    )
    challenge_id = await keep_challenge(
        redis,
        "register",
        {"challenge": bytes_to_base64url(options.challenge), "account_id": account.id},
    )
    return challenge_id, options_to_json(options)


async def register(
    account: Account, redis: Redis, challenge_id: object, credential: object, name: str
) -> Passkey:
    settings = get_settings()
    state = await take_challenge(redis, "register", challenge_id)
    if state.get("account_id") != account.id:
        raise PasskeyError(_("This passkey request has expired. Please try again."))
    try:
        parsed = parse_registration_credential_json(credential_json(credential))
        check_context(parsed.raw_id, parsed.response.client_data_json)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except REFUSED as exc:
        log.info("passkey_register_failure", account_id=account.id, reason=str(exc)[:120])
        raise PasskeyError(_("The passkey could not be verified. Please try again.")) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if await Passkey.exists().where(Passkey.credential_id == credential_id):
        raise PasskeyError(_("This passkey is already registered."))
    transports: list[str] = []
    response = credential.get("response") if isinstance(credential, dict) else None
    raw = response.get("transports") if isinstance(response, dict) else None
    if isinstance(raw, list):
        transports = [item[:20] for item in raw if isinstance(item, str)][:8]
    passkey = Passkey(
        account=account.id,
        credential_id=credential_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=transports,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        name=(name or "").strip()[:60] or _("Passkey"),
    )
    await passkey.save()
    log.info("passkey_register_success", account_id=account.id, passkey_id=passkey.id)
    return passkey


async def authentication_options(redis: Redis) -> tuple[str, str]:
    """Options for a discoverable-credential sign-in (no allow list: the passkey names the user)."""
    settings = get_settings()
    options = generate_authentication_options(
        rp_id=settings.rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    challenge_id = await keep_challenge(
        redis, "signin", {"challenge": bytes_to_base64url(options.challenge)}
    )
    return challenge_id, options_to_json(options)


@dataclass(frozen=True, slots=True)
class PasskeySignIn:
    account: Account
    passkey_id: int


async def authenticate(redis: Redis, challenge_id: object, credential: object) -> PasskeySignIn:
    settings = get_settings()
    state = await take_challenge(redis, "signin", challenge_id)
    refused = _("This passkey could not sign you in.")
    try:
        text = credential_json(credential)
        parsed = parse_authentication_credential_json(text)
        check_context(parsed.raw_id, parsed.response.client_data_json)
    except REFUSED as exc:
        raise PasskeyError(refused) from exc
    passkey = (
        await Passkey.objects()
        .where(Passkey.credential_id == bytes_to_base64url(parsed.raw_id))
        .first()
    )
    if passkey is None:
        log.info("passkey_signin_failure", reason="unknown credential")
        raise PasskeyError(refused)
    account = (
        await Account.objects()
        .where(Account.id == passkey.account, Account.is_active.eq(True))
        .first()
    )
    if account is None:
        raise PasskeyError(refused)
    # WebAuthn §7.2 step 6: with no allow list (discoverable sign-in) the response must carry
    # the user handle, and it must be this account's.
    if parsed.response.user_handle != user_handle(account):
        log.info("passkey_signin_failure", reason="user handle mismatch", passkey_id=passkey.id)
        raise PasskeyError(refused)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=settings.rp_id,
            expected_origin=settings.origin,
            credential_public_key=base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except REFUSED as exc:
        # Includes a signature counter that did not grow: a possible cloned authenticator.
        log.warning("passkey_signin_failure", reason=str(exc)[:120], passkey_id=passkey.id)
        raise PasskeyError(refused) from exc
    eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if eligible != passkey.backup_eligible:
        log.warning(
            "passkey_signin_failure", reason="backup eligibility changed", passkey_id=passkey.id
        )
        raise PasskeyError(refused)
    await Passkey.update(
        {
            Passkey.sign_count: verified.new_sign_count,
            Passkey.backed_up: verified.credential_backed_up,
            Passkey.last_used_at: datetime.now(UTC),
        }
    ).where(Passkey.id == passkey.id)
    log.info("passkey_signin_success", account_id=account.id, passkey_id=passkey.id)
    return PasskeySignIn(account=account, passkey_id=passkey.id)
