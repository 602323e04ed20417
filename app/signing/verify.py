"""The offline verifier of evidence bundles (app/signing/evidence.py describes the format).

``verify_bundle`` needs nothing but the file's bytes: no database, no settings, no network. It
is what the public verify page runs on every view and what ``tongban signature verify FILE``
runs for anyone holding a bundle. It checks, in this order, each failure with its own code:

1. the file: at most 1 MiB (``too-large``), UTF-8 (``not-utf8``), JSON without NaN or
   Infinity (``not-json``), no key twice in one object (``duplicate-key``), nested at most 32
   deep (``too-deep``), an object (``not-object``), and exactly ``canonical_bytes`` of what it
   parses to (``not-canonical``). Exact means exact: no byte-order mark, no whitespace, not
   even a trailing newline. A file someone opened and saved again is a different file;
2. its ``format`` (``format``), every field present (``missing-field``), no other field
   (``extra-field``), each of the right type and spelling (``bad-field``);
3. the document: its hash is ``document_sha256`` (``document-hash``), it is a Tongban
   document (``document-format``, ``bad-field``) and names the bundle's signer (``signer``);
4. the challenge is a 16-byte nonce followed by that hash (``challenge``);
5. the WebAuthn assertion (Level 3 §7.2): client data of type ``webauthn.get``, not from a
   cross-origin frame (``client-data``), for this challenge (``challenge``) and origin
   (``origin``); authenticator data (``authenticator-data``) for this rp id (``rp-id``), with
   the user present (``user-presence``) and verified (``user-verification``), its flags and
   counter the ones the bundle states (``flags``, ``counter``); the credential's COSE key
   (``credential``); the passkey's signature, checked by py_webauthn (``signature``);
6. the platform's Ed25519 seal over the rest (``seal``) and, when the caller knows the seal
   key it trusts, that this is the key (``seal-key``).

Any other outcome is a bug: for every input the verifier returns ``Verified`` or raises
``EvidenceError`` (tests/signing/test_verify.py fuzzes it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import cbor2
import msgspec
from cryptography.exceptions import UnsupportedAlgorithm
from webauthn import verify_authentication_response
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authenticator_data,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    PublicKeyCredentialType,
)

from app.core.i18n import _
from app.signing import evidence
from app.signing.canonical import canonical_bytes, sha256_hex

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
# WebAuthn L3 §7.2 step 5 (via §6.5.1): a credential id is 1 to 1023 bytes.
MAX_CREDENTIAL_ID = 1023
# Authenticator data flag bit 6, attested credential data: never in an assertion (§6.1).
_FLAG_AT = 0x40
# What a malformed key, assertion or extension may raise inside py_webauthn, cbor2 or
# cryptography while it is parsed.
_PARSE_ERRORS = (
    WebAuthnException,
    cbor2.CBORError,
    UnsupportedAlgorithm,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)

_T = TypeVar("_T")
Hex64 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
B64url = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]*$")]


class _Signer(msgspec.Struct, forbid_unknown_fields=True):
    account_id: Annotated[int, msgspec.Meta(ge=1)]
    name_masked: str
    phone_masked: str


class _Credential(msgspec.Struct, forbid_unknown_fields=True):
    id: B64url
    public_key: B64url


class _Assertion(msgspec.Struct, forbid_unknown_fields=True):
    authenticator_data: B64url
    client_data_json: B64url
    signature: B64url
    user_handle: B64url | None


class _Flags(msgspec.Struct, forbid_unknown_fields=True):
    up: bool
    uv: bool
    be: bool
    bs: bool


class _Seal(msgspec.Struct, forbid_unknown_fields=True):
    alg: str
    public_key: B64url
    signature: B64url


class _Bundle(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    id: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]{1,64}$")]
    document: dict[str, Any]
    document_sha256: Hex64
    signer: _Signer
    credential: _Credential
    assertion: _Assertion
    challenge: str
    flags: _Flags
    sign_count: Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)]
    rp_id: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    origin: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    signed_at: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")]
    client_hash: Hex64
    seal: _Seal


class _Document(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    kind: str
    title: str
    body: str
    signer: _Signer
    references: list[dict[str, Any]]
    created_at: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")]


def _describe(code: str, _: Callable[..., str], field: str = "") -> str:
    """The sentence for a code, through ``_``: ``i18n._`` for people, the identity for the
    English ``reason``. One table, so the two never drift apart; pybabel extracts the msgids."""
    match code:
        case "too-large":
            return _("The file is larger than 1 MiB: it is not signature evidence.")
        case "not-utf8":
            return _("The file is not UTF-8 text.")
        case "not-json":
            return _("The file is not valid JSON.")
        case "duplicate-key":
            return _("The file gives one field twice.")
        case "too-deep":
            return _("The file nests deeper than 32 levels.")
        case "not-object":
            return _("The file is not a JSON object.")
        case "not-canonical":
            return _("The file is not in its canonical form: it was changed or rewritten.")
        case "format":
            return _("The file is not Tongban signature evidence of a known format.")
        case "missing-field":
            return _("The field %(field)s is missing.", field=field)
        case "extra-field":
            return _("The field %(field)s does not belong in signature evidence.", field=field)
        case "bad-field":
            return _("The field %(field)s is not valid.", field=field)
        case "document-hash":
            return _("The document does not match its SHA-256 fingerprint.")
        case "document-format":
            return _("The signed document is not a Tongban document of a known format.")
        case "signer":
            return _("The document names another signer than the evidence.")
        case "challenge":
            return _("The passkey signed a challenge for another document.")
        case "client-data":
            return _("The browser's data is not that of a passkey signing on this site.")
        case "origin":
            return _("The passkey was used on another website than the one named.")
        case "rp-id":
            return _("The passkey belongs to another website than the one named.")
        case "authenticator-data":
            return _("The authenticator's data is malformed.")
        case "user-presence":
            return _("The authenticator does not confirm that the person was present.")
        case "user-verification":
            return _("The authenticator does not confirm that it verified the person.")
        case "flags":
            return _("The flags in the evidence differ from the authenticator's.")
        case "counter":
            return _("The signature counter in the evidence differs from the authenticator's.")
        case "credential":
            return _("The passkey's public key in the evidence is not usable.")
        case "signature":
            return _("The passkey's signature does not match the document.")
        case "seal":
            return _("Tongban's seal over the evidence does not hold: it was changed.")
        case "seal-key":
            return _("The evidence is sealed with another key than Tongban's.")
    raise ValueError(f"no sentence for evidence code {code!r}")


def _english(msgid: str, **variables: object) -> str:
    return msgid % variables if variables else msgid


class EvidenceError(Exception):
    """A bundle that does not verify: ``code`` for programs, ``reason`` (one line of English)
    for logs and the command line, ``message()`` for people, in their language."""

    def __init__(self, code: str, field: str = "") -> None:
        self.code = code
        self.field = field
        self.reason = _describe(code, _english, field)
        super().__init__(f"{code}: {self.reason}")

    def message(self) -> str:
        return _describe(self.code, _, self.field)


@dataclass(frozen=True, slots=True)
class Verified:
    """What a valid bundle establishes, for pages and the command line."""

    id: str
    document: dict[str, Any]
    document_sha256: str
    signer: dict[str, Any]
    signed_at: str
    credential_id: str
    rp_id: str
    origin: str
    seal_public_key: bytes

    @property
    def seal_fingerprint(self) -> str:
        return evidence.fingerprint(self.seal_public_key)


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 §4 leaves duplicate names to the parser; two readers could see two documents.
    parsed = dict(pairs)
    if len(parsed) != len(pairs):
        raise _DuplicateKey
    return parsed


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > MAX_DEPTH:
                return True
            pending.extend((child, depth + 1) for child in item)
    return False


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_BYTES:
        raise EvidenceError("too-large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EvidenceError("not-utf8") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except _DuplicateKey:
        raise EvidenceError("duplicate-key") from None
    except RecursionError:
        raise EvidenceError("too-deep") from None
    except ValueError:  # JSONDecodeError, NaN, an integer of more than 4300 digits
        raise EvidenceError("not-json") from None
    if _too_deep(parsed):
        raise EvidenceError("too-deep")
    if not isinstance(parsed, dict):
        raise EvidenceError("not-object")
    try:
        canonical = canonical_bytes(parsed)
    except ValueError:  # a float, or a lone surrogate that has no UTF-8
        raise EvidenceError("not-canonical") from None
    if canonical != data:
        raise EvidenceError("not-canonical")
    return parsed


_FIELD_ERROR = re.compile(r"^Object (missing required|contains unknown) field `([^`]*)`")
_FIELD_PATH = re.compile(r" - at `\$((?:\.[A-Za-z_]+)*)")


def _field_name(text: str) -> str:
    # The name may come from the file: show it only if it is a plain identifier.
    return text if re.fullmatch(r"[A-Za-z0-9_.]{1,80}", text) else "…"


def _convert(value: Any, schema: type[_T], prefix: str = "") -> _T:
    try:
        return msgspec.convert(value, schema)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = _FIELD_PATH.search(text)
        where = prefix + (path.group(1) if path else "")
        found = _FIELD_ERROR.match(text)
        if found:
            field = _field_name(where.lstrip(".") + "." + found.group(2)).lstrip(".")
            missing = found.group(1) == "missing required"
            raise EvidenceError("missing-field" if missing else "extra-field", field) from None
        raise EvidenceError("bad-field", _field_name(where.lstrip(".") or "?")) from None


def _b64(text: str, field: str) -> bytes:
    try:
        return evidence.from_b64url(text)
    except ValueError:
        raise EvidenceError("bad-field", field) from None


def _moment(text: str, field: str) -> None:
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise EvidenceError("bad-field", field) from None


def _check_client_data(raw: bytes, challenge: bytes, origin: str) -> None:
    """WebAuthn L3 §7.2 steps 10–13, with a code each."""
    try:
        client_data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise EvidenceError("client-data") from None
    if not isinstance(client_data, dict) or client_data.get("type") != "webauthn.get":
        raise EvidenceError("client-data")
    if client_data.get("challenge") != evidence.b64url(challenge):
        raise EvidenceError("challenge")
    if client_data.get("origin") != origin:
        raise EvidenceError("origin")
    # Tongban is never framed (frame-ancestors 'none'): an assertion made in a cross-origin
    # iframe did not come from its pages (app/accounts/passkeys.py check_context).
    if client_data.get("crossOrigin") not in (None, False) or "topOrigin" in client_data:
        raise EvidenceError("client-data")


def _check_authenticator_data(raw: bytes, bundle: _Bundle) -> None:
    """WebAuthn L3 §7.2 steps 15–17 and §6.1, and that the bundle states what it says."""
    if len(raw) < 37 or raw[32] & _FLAG_AT:
        raise EvidenceError("authenticator-data")
    try:
        parsed = parse_authenticator_data(raw)
    except _PARSE_ERRORS:  # extension data (flag ED) that is not CBOR
        raise EvidenceError("authenticator-data") from None
    if parsed.rp_id_hash != hashlib.sha256(bundle.rp_id.encode("utf-8")).digest():
        raise EvidenceError("rp-id")
    if not parsed.flags.up:
        raise EvidenceError("user-presence")
    if not parsed.flags.uv:
        raise EvidenceError("user-verification")
    stated = bundle.flags
    if (stated.up, stated.uv, stated.be, stated.bs) != (
        parsed.flags.up,
        parsed.flags.uv,
        parsed.flags.be,
        parsed.flags.bs,
    ):
        raise EvidenceError("flags")
    if bundle.sign_count != parsed.sign_count:
        raise EvidenceError("counter")


def _origin_fits(origin: str, rp_id: str) -> bool:
    """§5.1.4.1 / HTML "is a registrable domain suffix": the rp id is the origin's host or a
    parent domain of it."""
    try:
        host = urlsplit(origin).hostname or ""
    except ValueError:
        return False
    return host == rp_id or host.endswith("." + rp_id)


def verify_bundle(data: bytes, *, seal_key: bytes | None = None) -> Verified:
    """Verify an evidence bundle file; ``seal_key`` is the raw 32-byte Ed25519 key the caller
    trusts (the one at /signatures/seal-key), or None to accept whichever key sealed it."""
    parsed = _parse(data)
    if parsed.get("format") != evidence.FORMAT:
        raise EvidenceError("format")
    bundle = _convert(parsed, _Bundle)
    _moment(bundle.signed_at, "signed_at")
    credential_id = _b64(bundle.credential.id, "credential.id")
    public_key = _b64(bundle.credential.public_key, "credential.public_key")
    authenticator_data = _b64(bundle.assertion.authenticator_data, "assertion.authenticator_data")
    client_data_json = _b64(bundle.assertion.client_data_json, "assertion.client_data_json")
    signature = _b64(bundle.assertion.signature, "assertion.signature")
    user_handle = None
    if bundle.assertion.user_handle is not None:
        user_handle = _b64(bundle.assertion.user_handle, "assertion.user_handle")
    seal_public_key = _b64(bundle.seal.public_key, "seal.public_key")
    _b64(bundle.seal.signature, "seal.signature")
    if bundle.seal.alg != evidence.SEAL_ALGORITHM:
        raise EvidenceError("bad-field", "seal.alg")

    if sha256_hex(canonical_bytes(bundle.document)) != bundle.document_sha256:
        raise EvidenceError("document-hash")
    if bundle.document.get("format") != evidence.DOCUMENT_FORMAT:
        raise EvidenceError("document-format")
    document = _convert(bundle.document, _Document, ".document")
    _moment(document.created_at, "document.created_at")
    if document.signer != bundle.signer:
        raise EvidenceError("signer")

    try:
        challenge = evidence.from_b64url(bundle.challenge)
    except ValueError:
        raise EvidenceError("challenge") from None
    if (
        len(challenge) != evidence.NONCE_BYTES + 32
        or challenge[evidence.NONCE_BYTES :].hex() != bundle.document_sha256
    ):
        raise EvidenceError("challenge")

    _check_client_data(client_data_json, challenge, bundle.origin)
    if not _origin_fits(bundle.origin, bundle.rp_id):
        raise EvidenceError("origin")
    _check_authenticator_data(authenticator_data, bundle)
    if not 1 <= len(credential_id) <= MAX_CREDENTIAL_ID:
        raise EvidenceError("credential")
    try:
        decoded_public_key_to_cryptography(decode_credential_public_key(public_key))
    except _PARSE_ERRORS:
        raise EvidenceError("credential") from None
    try:
        verify_authentication_response(
            credential=AuthenticationCredential(
                id=bundle.credential.id,
                raw_id=credential_id,
                response=AuthenticatorAssertionResponse(
                    client_data_json=client_data_json,
                    authenticator_data=authenticator_data,
                    signature=signature,
                    user_handle=user_handle,
                ),
                type=PublicKeyCredentialType.PUBLIC_KEY,
            ),
            expected_challenge=challenge,
            expected_rp_id=bundle.rp_id,
            expected_origin=bundle.origin,
            credential_public_key=public_key,
            # The bundle stands alone: there is no earlier counter to compare with.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except _PARSE_ERRORS:
        raise EvidenceError("signature") from None

    if not evidence.seal_holds(parsed):
        raise EvidenceError("seal")
    if seal_key is not None and seal_key != seal_public_key:
        raise EvidenceError("seal-key")
    return Verified(
        id=bundle.id,
        document=bundle.document,
        document_sha256=bundle.document_sha256,
        signer=parsed["signer"],
        signed_at=bundle.signed_at,
        credential_id=bundle.credential.id,
        rp_id=bundle.rp_id,
        origin=bundle.origin,
        seal_public_key=seal_public_key,
    )
