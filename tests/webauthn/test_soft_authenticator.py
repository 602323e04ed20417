"""The software authenticator checked against py_webauthn itself, no web application involved.

If py_webauthn accepts what ``SoftAuthenticator`` produces, and rejects each forgery for the
reason the forgery targets, then application tests built on the fixture exercise the real
verification paths of WebAuthn Level 3 §7.1 (registration) and §7.2 (authentication).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidBackupFlags,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from tests.fixtures.soft_authenticator import (
    FLAG_AT,
    FLAG_UP,
    FLAG_UV,
    InvalidStateError,
    NotAllowedError,
    NotSupportedError,
    SoftAuthenticator,
    b64url_decode,
    b64url_encode,
)

RP_ID = "localhost"
ORIGIN = "http://localhost:8000"
EVIL_RP_ID = "evil.example"
EVIL_ORIGIN = "https://evil.example"

COSE_IDS = {
    "ES256": COSEAlgorithmIdentifier.ECDSA_SHA_256,
    "EdDSA": COSEAlgorithmIdentifier.EDDSA,
    "RS256": COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
}
ALGORITHMS = list(COSE_IDS)


# -- ceremony helpers ---------------------------------------------------------------------------


def registration_options(
    user_id: bytes = b"user-alice", **kwargs: Any
) -> PublicKeyCredentialCreationOptions:
    return generate_registration_options(
        rp_id=RP_ID,
        rp_name="通办 Tongban",
        user_id=user_id,
        user_name=user_id.decode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        **kwargs,
    )


def authentication_options(**kwargs: Any) -> PublicKeyCredentialRequestOptions:
    return generate_authentication_options(
        rp_id=RP_ID, user_verification=UserVerificationRequirement.REQUIRED, **kwargs
    )


def verify_registration(
    response: dict[str, Any], options: PublicKeyCredentialCreationOptions, **kwargs: Any
) -> VerifiedRegistration:
    arguments: dict[str, Any] = {
        "expected_challenge": options.challenge,
        "expected_rp_id": RP_ID,
        "expected_origin": ORIGIN,
        "require_user_verification": True,
        **kwargs,
    }
    return verify_registration_response(
        credential=parse_registration_credential_json(response), **arguments
    )


def register(
    authenticator: SoftAuthenticator, user_id: bytes = b"user-alice"
) -> VerifiedRegistration:
    options = registration_options(user_id)
    return verify_registration(authenticator.create(options_to_json(options), ORIGIN), options)


def verify_assertion(
    response: dict[str, Any],
    options: PublicKeyCredentialRequestOptions,
    registration: VerifiedRegistration,
    sign_count: int = 0,
    **kwargs: Any,
) -> VerifiedAuthentication:
    arguments: dict[str, Any] = {
        "expected_challenge": options.challenge,
        "expected_rp_id": RP_ID,
        "expected_origin": ORIGIN,
        "credential_public_key": registration.credential_public_key,
        "credential_current_sign_count": sign_count,
        "require_user_verification": True,
        **kwargs,
    }
    return verify_authentication_response(
        credential=parse_authentication_credential_json(response), **arguments
    )


def expected_client_data(kind: str, challenge: bytes) -> bytes:
    """The exact bytes of §5.8.1.1's serialisation for a same-origin ceremony."""
    members = (
        f'"type":"{kind}"',
        f'"challenge":"{b64url_encode(challenge)}"',
        f'"origin":"{ORIGIN}"',
        '"crossOrigin":false',
    )
    return ("{" + ",".join(members) + "}").encode()


@pytest.fixture(params=ALGORITHMS)
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- registration (§7.1) -----------------------------------------------------------------------


def test_registration_verifies_and_yields_the_held_key(algorithm: str) -> None:
    authenticator = SoftAuthenticator(algorithm=algorithm)
    options = registration_options()  # offers EdDSA, ES256 and RS256, in py_webauthn's order
    response = authenticator.create(options_to_json(options), ORIGIN)

    verified = verify_registration(response, options)

    (held,) = authenticator.credentials
    assert verified.credential_id == held.credential_id
    assert verified.credential_public_key == held.cose_public_key
    assert verified.fmt == AttestationFormat.NONE
    assert verified.sign_count == 0
    assert verified.user_verified is True
    assert verified.aaguid == "00000000-0000-0000-0000-000000000000"
    assert verified.credential_device_type == CredentialDeviceType.SINGLE_DEVICE
    assert verified.credential_backed_up is False
    decoded = decode_credential_public_key(verified.credential_public_key)
    assert decoded.alg == COSE_IDS[algorithm]
    public_key = decoded_public_key_to_cryptography(decoded)
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert spki == held.public_key_der == b64url_decode(response["response"]["publicKey"])

    assert held.rp_id == RP_ID
    assert held.user_handle == b"user-alice"
    assert held.algorithm == algorithm
    assert response["id"] == response["rawId"] == b64url_encode(held.credential_id)
    assert response["type"] == "public-key"
    assert response["authenticatorAttachment"] == "platform"
    assert response["clientExtensionResults"] == {}
    assert response["response"]["transports"] == ["internal"]
    assert response["response"]["publicKeyAlgorithm"] == COSE_IDS[algorithm]


def test_registration_accepts_parsed_options_and_a_custom_aaguid() -> None:
    aaguid = bytes.fromhex("fbfc3007154e4ecc8c0b6e020557d7bd")
    authenticator = SoftAuthenticator(aaguid=aaguid)
    options = registration_options()

    response = authenticator.create(json.loads(options_to_json(options)), ORIGIN)

    assert verify_registration(response, options).aaguid == "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"


def test_the_first_offered_algorithm_the_authenticator_holds_is_chosen() -> None:
    authenticator = SoftAuthenticator(algorithm=("EdDSA", "RS256"))
    options = registration_options(
        supported_pub_key_algs=[
            COSEAlgorithmIdentifier.ECDSA_SHA_256,
            COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
            COSEAlgorithmIdentifier.EDDSA,
        ]
    )

    verified = verify_registration(authenticator.create(options_to_json(options), ORIGIN), options)

    assert decode_credential_public_key(verified.credential_public_key).alg == (
        COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256
    )
    only_eddsa = registration_options(supported_pub_key_algs=[COSEAlgorithmIdentifier.EDDSA])
    with pytest.raises(NotSupportedError):
        SoftAuthenticator(algorithm="ES256").create(options_to_json(only_eddsa), ORIGIN)


def test_registration_bytes_follow_the_specification_layout() -> None:
    authenticator = SoftAuthenticator(algorithm="ES256")
    options = registration_options()
    response = authenticator.create(options_to_json(options), ORIGIN)
    (held,) = authenticator.credentials

    client_data = b64url_decode(response["response"]["clientDataJSON"])
    assert client_data == expected_client_data("webauthn.create", options.challenge)

    attestation_bytes = b64url_decode(response["response"]["attestationObject"])
    attestation = cbor2.loads(attestation_bytes)
    assert list(attestation) == ["fmt", "attStmt", "authData"]  # CTAP2 canonical key order
    assert attestation["fmt"] == "none" and attestation["attStmt"] == {}
    auth_data = attestation["authData"]
    assert auth_data == b64url_decode(response["response"]["authenticatorData"])
    assert auth_data[:32] == hashlib.sha256(RP_ID.encode()).digest()
    assert auth_data[32] == FLAG_UP | FLAG_UV | FLAG_AT
    assert auth_data[33:37] == b"\0\0\0\0"
    assert auth_data[37:53] == bytes(16)
    assert int.from_bytes(auth_data[53:55], "big") == len(held.credential_id) == 32
    assert auth_data[55:87] == held.credential_id
    cose_key = auth_data[87:]
    assert cose_key == held.cose_public_key
    # {1: 2, 3: -7, -1: 1, -2: x(32 bytes), -3: y(32 bytes)}, canonical order.
    assert cose_key.startswith(bytes.fromhex("a5010203262001215820"))
    assert cose_key[42:45] == bytes.fromhex("225820")
    assert len(cose_key) == 77


def test_cred_props_is_reported_when_asked_for() -> None:
    options = json.loads(options_to_json(registration_options()))
    options["extensions"] = {"credProps": True}

    response = SoftAuthenticator().create(options, ORIGIN)

    assert response["clientExtensionResults"] == {"credProps": {"rk": True}}


@pytest.mark.parametrize(
    ("backup_eligible", "backed_up", "device_type"),
    [
        (False, False, CredentialDeviceType.SINGLE_DEVICE),
        (True, False, CredentialDeviceType.MULTI_DEVICE),
        (True, True, CredentialDeviceType.MULTI_DEVICE),
    ],
)
def test_backup_flags_are_reported(
    backup_eligible: bool, backed_up: bool, device_type: CredentialDeviceType
) -> None:
    authenticator = SoftAuthenticator(backup_eligible=backup_eligible, backed_up=backed_up)

    registration = register(authenticator)
    options = authentication_options()
    assertion = verify_assertion(
        authenticator.get(options_to_json(options), ORIGIN), options, registration
    )

    assert registration.credential_device_type == device_type
    assert registration.credential_backed_up is backed_up
    assert assertion.credential_device_type == device_type
    assert assertion.credential_backed_up is backed_up


def test_backed_up_without_backup_eligibility_is_refused() -> None:
    # An impossible flag combination (§6.1.3); py_webauthn raises InvalidBackupFlags, which is
    # NOT an InvalidRegistrationResponse: callers must catch WebAuthnException or both.
    authenticator = SoftAuthenticator(backup_eligible=False, backed_up=True)
    options = registration_options()

    with pytest.raises(InvalidBackupFlags):
        verify_registration(authenticator.create(options_to_json(options), ORIGIN), options)


def test_registration_with_a_wrong_challenge_is_rejected() -> None:
    options = registration_options()
    response = SoftAuthenticator().create(options_to_json(options), ORIGIN)

    with pytest.raises(InvalidRegistrationResponse, match="challenge"):
        verify_registration(response, options, expected_challenge=b"another challenge")
    forged = SoftAuthenticator().tamper_client_data(response, challenge=b"attacker's challenge")
    with pytest.raises(InvalidRegistrationResponse, match="challenge"):
        verify_registration(forged, options)


def test_registration_from_a_wrong_origin_is_rejected() -> None:
    options = registration_options()

    response = SoftAuthenticator().create(options_to_json(options), EVIL_ORIGIN)

    with pytest.raises(InvalidRegistrationResponse, match="origin"):
        verify_registration(response, options)


def test_registration_for_another_rp_is_rejected() -> None:
    options = registration_options()

    response = SoftAuthenticator().create(options_to_json(options), ORIGIN, rp_id=EVIL_RP_ID)

    with pytest.raises(InvalidRegistrationResponse, match="RP ID hash"):
        verify_registration(response, options)


def test_registration_without_user_verification_is_rejected_when_required() -> None:
    authenticator = SoftAuthenticator(user_verification=False)
    options = registration_options()
    response = authenticator.create(options_to_json(options), ORIGIN)

    with pytest.raises(InvalidRegistrationResponse, match="User verification is required"):
        verify_registration(response, options)
    assert (
        verify_registration(response, options, require_user_verification=False).user_verified
        is False
    )


def test_excluded_credentials_are_not_registered_twice() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = registration_options(
        exclude_credentials=[PublicKeyCredentialDescriptor(id=registration.credential_id)]
    )

    with pytest.raises(InvalidStateError):
        authenticator.create(options_to_json(options), ORIGIN)


def test_registering_the_same_account_again_replaces_its_credential() -> None:
    authenticator = SoftAuthenticator()
    first = register(authenticator, b"user-alice")
    bob = register(authenticator, b"user-bob")
    second = register(authenticator, b"user-alice")

    assert second.credential_id != first.credential_id
    assert [(c.user_handle, c.credential_id) for c in authenticator.credentials] == [
        (b"user-bob", bob.credential_id),
        (b"user-alice", second.credential_id),
    ]


# -- authentication (§7.2) ---------------------------------------------------------------------


def test_authentication_verifies_and_the_counter_increases(algorithm: str) -> None:
    authenticator = SoftAuthenticator(algorithm=algorithm)
    registration = register(authenticator)
    sign_count = registration.sign_count

    for expected in (1, 2, 3):
        options = authentication_options()
        response = authenticator.get(options_to_json(options), ORIGIN)
        verified = verify_assertion(response, options, registration, sign_count)
        assert verified.new_sign_count == expected
        assert verified.credential_id == registration.credential_id
        assert verified.user_verified is True
        credential = parse_authentication_credential_json(response)
        assert credential.response.user_handle == b"user-alice"
        assert response["authenticatorAttachment"] == "platform"
        assert response["clientExtensionResults"] == {}
        sign_count = verified.new_sign_count
    assert authenticator.credentials[0].sign_count == 3


def test_assertion_bytes_follow_the_specification_layout() -> None:
    authenticator = SoftAuthenticator()
    register(authenticator)
    options = authentication_options()

    response = authenticator.get(options_to_json(options), ORIGIN)

    assert b64url_decode(response["response"]["clientDataJSON"]) == expected_client_data(
        "webauthn.get", options.challenge
    )
    auth_data = b64url_decode(response["response"]["authenticatorData"])
    assert len(auth_data) == 37
    assert auth_data[:32] == hashlib.sha256(RP_ID.encode()).digest()
    assert auth_data[32] == FLAG_UP | FLAG_UV
    assert int.from_bytes(auth_data[33:37], "big") == 1


def test_counter_mode_zero_always_reports_zero() -> None:
    authenticator = SoftAuthenticator(counter_mode="zero", backup_eligible=True, backed_up=True)
    registration = register(authenticator)

    for _ in range(3):
        options = authentication_options()
        verified = verify_assertion(
            authenticator.get(options_to_json(options), ORIGIN), options, registration, 0
        )
        assert verified.new_sign_count == 0
    assert authenticator.credentials[0].sign_count == 0


def test_a_replayed_assertion_is_caught_by_the_counter() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)
    count = verify_assertion(response, options, registration, 0).new_sign_count

    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        verify_assertion(response, options, registration, count)


def test_assertion_with_a_wrong_challenge_is_rejected() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)

    forged = authenticator.tamper_client_data(
        response, challenge=b"replayed challenge", resign=True
    )

    with pytest.raises(InvalidAuthenticationResponse, match="challenge"):
        verify_assertion(forged, options, registration)
    with pytest.raises(InvalidAuthenticationResponse, match="challenge"):
        verify_assertion(response, options, registration, expected_challenge=b"another one")


def test_assertion_from_a_wrong_origin_is_rejected_even_when_validly_signed() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)

    forged = authenticator.tamper_client_data(response, origin=EVIL_ORIGIN, resign=True)

    with pytest.raises(InvalidAuthenticationResponse, match="origin"):
        verify_assertion(forged, options, registration)
    # The signature itself is sound: only the origin check stands in the way.
    assert verify_assertion(forged, options, registration, expected_origin=EVIL_ORIGIN)


def test_client_data_tampered_without_resigning_breaks_the_signature() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)

    forged = authenticator.tamper_client_data(response, origin=EVIL_ORIGIN)

    with pytest.raises(
        InvalidAuthenticationResponse, match="Could not verify authentication signature"
    ):
        verify_assertion(forged, options, registration, expected_origin=EVIL_ORIGIN)


def test_assertion_for_another_rp_is_rejected() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()

    # The RP's own credential, but the authenticator data is scoped to another rp id.
    rescoped = authenticator.get(
        options_to_json(options), ORIGIN, credential_id=registration.credential_id, rp_id=EVIL_RP_ID
    )
    with pytest.raises(InvalidAuthenticationResponse, match="RP ID hash"):
        verify_assertion(rescoped, options, registration)

    # A credential registered at another RP, presented here.
    evil_options = registration_options()
    authenticator.create(options_to_json(evil_options), EVIL_ORIGIN, rp_id=EVIL_RP_ID)
    foreign = authenticator.get(options_to_json(options), ORIGIN, rp_id=EVIL_RP_ID)
    assert foreign["rawId"] != b64url_encode(registration.credential_id)
    with pytest.raises(InvalidAuthenticationResponse, match="RP ID hash"):
        verify_assertion(foreign, options, registration)


def test_a_tampered_signature_is_rejected(algorithm: str) -> None:
    authenticator = SoftAuthenticator(algorithm=algorithm)
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)

    forged = SoftAuthenticator.tamper_signature(response)

    assert forged["response"]["signature"] != response["response"]["signature"]
    with pytest.raises(
        InvalidAuthenticationResponse, match="Could not verify authentication signature"
    ):
        verify_assertion(forged, options, registration)
    assert verify_assertion(response, options, registration).new_sign_count == 1


def test_an_unverified_user_is_rejected_when_verification_is_required() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()

    response = authenticator.get(options_to_json(options), ORIGIN, user_verified=False)

    assert b64url_decode(response["response"]["authenticatorData"])[32] & FLAG_UV == 0
    with pytest.raises(InvalidAuthenticationResponse, match="User verification is required"):
        verify_assertion(response, options, registration)
    relaxed = verify_assertion(response, options, registration, require_user_verification=False)
    assert relaxed.user_verified is False


def test_tampered_authenticator_data_is_caught_by_the_matching_check() -> None:
    authenticator = SoftAuthenticator()
    registration = register(authenticator)
    options = authentication_options()
    response = authenticator.get(options_to_json(options), ORIGIN)

    rolled_back = authenticator.tamper_authenticator_data(response, sign_count=1, resign=True)
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        verify_assertion(rolled_back, options, registration, 5)
    absent = authenticator.tamper_authenticator_data(response, flags=FLAG_UV, resign=True)
    with pytest.raises(InvalidAuthenticationResponse, match="User was not present"):
        verify_assertion(absent, options, registration)
    unsigned = authenticator.tamper_authenticator_data(response, sign_count=7)
    with pytest.raises(
        InvalidAuthenticationResponse, match="Could not verify authentication signature"
    ):
        verify_assertion(unsigned, options, registration)


# -- choosing credentials, moving them between authenticators ----------------------------------


def test_credential_selection_follows_allow_credentials_else_the_newest() -> None:
    authenticator = SoftAuthenticator()
    alice = register(authenticator, b"user-alice")
    bob = register(authenticator, b"user-bob")

    discoverable = authenticator.get(options_to_json(authentication_options()), ORIGIN)
    assert b64url_decode(discoverable["rawId"]) == bob.credential_id
    allowed = authentication_options(
        allow_credentials=[PublicKeyCredentialDescriptor(id=alice.credential_id)]
    )
    listed = authenticator.get(options_to_json(allowed), ORIGIN)
    assert b64url_decode(listed["rawId"]) == alice.credential_id
    assert verify_assertion(listed, allowed, alice).new_sign_count == 1

    unknown = authentication_options(allow_credentials=[PublicKeyCredentialDescriptor(id=b"nope")])
    with pytest.raises(NotAllowedError):
        authenticator.get(options_to_json(unknown), ORIGIN)
    with pytest.raises(NotAllowedError):
        SoftAuthenticator().get(options_to_json(authentication_options()), ORIGIN)


def test_an_imported_credential_acts_as_its_owners_device() -> None:
    bobs_phone = SoftAuthenticator(algorithm="EdDSA")
    bob = register(bobs_phone, b"user-bob")
    bobs_phone.get(options_to_json(authentication_options()), ORIGIN)
    exported = json.loads(json.dumps(bobs_phone.export_credential(bob.credential_id)))

    mallory = SoftAuthenticator()
    held = mallory.import_credential(exported)
    options = authentication_options()
    response = mallory.get(options_to_json(options), ORIGIN)

    assert held.sign_count == 2 and held.algorithm == "EdDSA"
    verified = verify_assertion(response, options, bob, sign_count=1)
    assert verified.credential_id == bob.credential_id
    assert parse_authentication_credential_json(response).response.user_handle == b"user-bob"


def test_an_own_key_behind_another_users_credential_id_fails_the_signature() -> None:
    alice = register(SoftAuthenticator(), b"user-alice")
    mallory = SoftAuthenticator()
    own = register(mallory, b"user-mallory")
    mallory.import_credential(
        mallory.export_credential(own.credential_id),
        credential_id=alice.credential_id,
        user_handle=b"user-alice",
    )
    options = authentication_options(
        allow_credentials=[PublicKeyCredentialDescriptor(id=alice.credential_id)]
    )

    response = mallory.get(options_to_json(options), ORIGIN)

    assert b64url_decode(response["rawId"]) == alice.credential_id
    assert parse_authentication_credential_json(response).response.user_handle == b"user-alice"
    with pytest.raises(
        InvalidAuthenticationResponse, match="Could not verify authentication signature"
    ):
        verify_assertion(response, options, alice)
