"""The offline verifier of evidence bundles: real bundles from a software authenticator, each
way one can be wrong refused with its own code, one changed byte anywhere refused, and the
``tongban signature verify`` command's exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.i18n import current_locale
from app.signing import evidence
from app.signing.canonical import canonical_bytes
from app.signing.verify import MAX_BYTES, EvidenceError, verify_bundle
from tests.fixtures.soft_authenticator import FLAG_ED, FLAG_UV, SoftAuthenticator
from tests.signing.helpers import a_document, make_bundle, new_authenticator, reseal

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def valid_bundle() -> bytes:
    """One real bundle, made once: the byte loop and the fuzzers mutate copies of it."""
    return make_bundle()


def code_of(data: bytes, **options: Any) -> str:
    with pytest.raises(EvidenceError) as refused:
        verify_bundle(data, **options)
    return refused.value.code


def rehashed(bundle: dict[str, Any], **changes: Any) -> None:
    """The document changed and its hash updated to match."""
    bundle["document"].update(changes)
    bundle["document_sha256"] = evidence.document_hash(bundle["document"])


def edited(change: Any) -> bytes:
    """The valid bundle parsed, changed by ``change(bundle)``, and sealed again."""
    bundle = json.loads(valid_bundle())
    change(bundle)
    return reseal(bundle)


# -- what verifies ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
def test_an_untouched_bundle_verifies(algorithm: str) -> None:
    data = make_bundle(algorithm=algorithm)
    verified = verify_bundle(data, seal_key=evidence.seal_public_key())
    bundle = json.loads(data)
    assert verified.id == bundle["id"]
    assert verified.document == a_document()
    assert verified.document_sha256 == evidence.document_hash(a_document())
    assert verified.signer == {
        "account_id": 42,
        "name_masked": "张*",
        "phone_masked": "138****0000",
    }
    assert verified.signed_at == "2026-11-24T09:31:05.123456Z"
    assert verified.credential_id == bundle["credential"]["id"]
    assert verified.seal_public_key == evidence.seal_public_key()
    assert verified.seal_fingerprint == evidence.fingerprint(evidence.seal_public_key())
    assert len(verified.seal_fingerprint) == 16


def test_a_bundle_sealed_by_any_key_verifies_when_no_key_is_expected() -> None:
    key = Ed25519PrivateKey.generate()
    verified = verify_bundle(make_bundle(seal_key=key))
    assert verified.seal_public_key == key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_a_counter_that_stays_at_zero_verifies() -> None:
    # Synced passkeys often report 0 for ever (§6.1.1): the bundle alone has nothing to compare.
    data = make_bundle(authenticator=new_authenticator(counter_mode="zero"))
    assert json.loads(data)["sign_count"] == 0
    verify_bundle(data)


# -- one changed byte anywhere ------------------------------------------------------------------


def test_one_changed_byte_anywhere_fails() -> None:
    data = valid_bundle()
    for position, original in enumerate(data):
        # A different printable ASCII byte, varied along the file.
        replacement = 32 + (original - 32 + 1 + position % 93) % 95 if original < 127 else 0x41
        assert replacement != original
        changed = data[:position] + bytes([replacement]) + data[position + 1 :]
        with pytest.raises(EvidenceError):
            verify_bundle(changed)


def test_one_changed_character_in_the_chinese_text_fails() -> None:
    data = valid_bundle()
    text = data.decode("utf-8")
    positions = [index for index, char in enumerate(text) if ord(char) > 0x7F]
    assert len(positions) > 20
    for index in positions:
        replacement = "拒" if text[index] != "拒" else "受"  # same UTF-8 length, 3 bytes
        changed = (text[:index] + replacement + text[index + 1 :]).encode("utf-8")
        assert len(changed) == len(data)
        assert code_of(changed) in {"document-hash", "signer"}


def test_a_trailing_newline_is_a_changed_file() -> None:
    assert code_of(valid_bundle() + b"\n") == "not-canonical"


# -- each fault with its code -------------------------------------------------------------------


def test_a_changed_document_rehashed_no_longer_matches_the_challenge() -> None:
    def rewrite(bundle: dict[str, Any]) -> None:
        bundle["document"]["body"] = "本人不承诺任何事项。"
        bundle["document_sha256"] = evidence.document_hash(bundle["document"])

    assert code_of(edited(rewrite)) == "challenge"


def test_a_changed_document_without_its_hash_fails_the_hash() -> None:
    assert code_of(edited(lambda b: b["document"].update(title="另一份"))) == "document-hash"


def test_a_challenge_issued_for_another_document() -> None:
    other = a_document(body="本人同意放弃全部权利。")
    assert code_of(make_bundle(challenge_for=other)) == "challenge"


def test_a_signature_from_another_passkey() -> None:
    assert code_of(make_bundle(signed_by=new_authenticator())) == "signature"


def test_a_signature_changed_in_one_bit() -> None:
    assert code_of(make_bundle(tamper=lambda a, r: a.tamper_signature(r))) == "signature"


def test_user_verification_missing() -> None:
    assert code_of(make_bundle(user_verified=False)) == "user-verification"


def test_user_presence_missing() -> None:
    def no_up(authenticator: SoftAuthenticator, response: dict[str, Any]) -> dict[str, Any]:
        return authenticator.tamper_authenticator_data(
            response,
            flags=FLAG_UV,
            resign=True,  # UV without UP
        )

    assert code_of(make_bundle(tamper=no_up)) == "user-presence"


def test_flags_that_the_authenticator_did_not_state() -> None:
    assert code_of(edited(lambda b: b["flags"].update(bs=True))) == "flags"


def test_a_counter_that_the_authenticator_did_not_state() -> None:
    assert code_of(edited(lambda b: b.update(sign_count=b["sign_count"] + 1))) == "counter"


def test_a_passkey_used_on_another_origin() -> None:
    assert code_of(make_bundle(assertion_origin="https://tongban.example.net")) == "origin"


def test_a_passkey_of_another_relying_party() -> None:
    assert code_of(make_bundle(assertion_rp_id="example.net")) == "rp-id"


def test_an_origin_outside_the_rp_id() -> None:
    def move(bundle: dict[str, Any]) -> None:
        bundle["origin"] = "https://evil.example"

    bundle = json.loads(make_bundle(assertion_origin="https://evil.example"))
    move(bundle)
    assert code_of(reseal(bundle)) == "origin"


@pytest.mark.parametrize(
    ("extensions", "code"),
    [(b"\xa0", None), (b"\xff\x00garbage", "authenticator-data"), (b"", "authenticator-data")],
)
def test_authenticator_data_with_extension_data(extensions: bytes, code: str | None) -> None:
    """Flag ED (§6.1) promises CBOR extension data after the counter: an empty map verifies,
    anything else is malformed, even when the passkey signed it."""

    def extended(authenticator: SoftAuthenticator, response: dict[str, Any]) -> dict[str, Any]:
        body = response["response"]
        data = bytearray(evidence.from_b64url(body["authenticatorData"]))
        data[32] |= FLAG_ED
        data += extensions
        body["authenticatorData"] = evidence.b64url(bytes(data))
        client_data = evidence.from_b64url(body["clientDataJSON"])
        signature = authenticator.credentials[0].sign(bytes(data), client_data)
        body["signature"] = evidence.b64url(signature)
        return response

    data = make_bundle(tamper=extended)
    if code is None:
        verify_bundle(data)
    else:
        assert code_of(data) == code


COSE_VALUES = st.one_of(st.integers(-300, 300), st.binary(max_size=80), st.text(max_size=8))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(-4, 4), COSE_VALUES, max_size=6) | st.binary(max_size=120))
def test_any_credential_public_key_is_refused_cleanly(key: dict[int, Any] | bytes) -> None:
    bundle = json.loads(valid_bundle())
    raw = key if isinstance(key, bytes) else cbor2.dumps(key)
    bundle["credential"]["public_key"] = evidence.b64url(raw)
    assert code_of(reseal(bundle)) in {"credential", "signature"}


def test_client_data_of_a_registration() -> None:
    data = make_bundle(tamper=lambda a, r: a.tamper_client_data(r, type="webauthn.create"))
    assert code_of(data) == "client-data"


def test_client_data_from_a_cross_origin_frame() -> None:
    framed = make_bundle(
        tamper=lambda a, r: a.tamper_client_data(
            r, crossOrigin=True, topOrigin="https://evil.example", resign=True
        )
    )
    assert code_of(framed) == "client-data"


def test_a_bundle_resealed_by_another_key_fails_only_the_expected_key() -> None:
    data = reseal(json.loads(valid_bundle()), Ed25519PrivateKey.generate())
    verify_bundle(data)  # the seal holds: it is a valid signature by the key it names
    assert code_of(data, seal_key=evidence.seal_public_key()) == "seal-key"


def test_a_changed_field_outside_the_passkey_signature_breaks_the_seal() -> None:
    bundle = json.loads(valid_bundle())
    bundle["client_hash"] = "0" * 64
    assert code_of(canonical_bytes(bundle)) == "seal"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda b: b.pop("client_hash"), "missing-field", "client_hash"),
        (lambda b: b["assertion"].pop("signature"), "missing-field", "assertion.signature"),
        (lambda b: b.update(note="added"), "extra-field", "note"),
        (lambda b: b["signer"].update(role="admin"), "extra-field", "signer.role"),
        (lambda b: b.update(sign_count="1"), "bad-field", "sign_count"),
        (lambda b: b.update(signed_at="yesterday"), "bad-field", "signed_at"),
        (lambda b: b.update(signed_at="2026-13-40T09:31:05.123456Z"), "bad-field", "signed_at"),
        (lambda b: b["credential"].update(id="a+b/"), "bad-field", "credential.id"),
        (lambda b: b.update(format="tongban-signature-evidence/2"), "format", ""),
        (lambda b: b["document"].update(format="other/1"), "document-hash", ""),
        (lambda b: rehashed(b, format="other/1"), "document-format", ""),
        (lambda b: rehashed(b, kind=7), "bad-field", "document.kind"),
        (lambda b: rehashed(b, pages=2), "extra-field", "document.pages"),
    ],
)
def test_a_field_missing_extra_or_malformed(change: Any, code: str, field: str) -> None:
    with pytest.raises(EvidenceError) as refused:
        verify_bundle(edited(change))
    assert refused.value.code == code
    assert refused.value.field == field


def test_a_document_naming_another_signer() -> None:
    document = a_document(account_id=43)
    data = make_bundle(document=document, edit=lambda b: b["signer"].update(account_id=42))
    assert code_of(data) == "signer"


def test_reformatted_json_is_not_canonical() -> None:
    pretty = json.dumps(json.loads(valid_bundle()), ensure_ascii=False, indent=2)
    assert code_of(pretty.encode("utf-8")) == "not-canonical"
    spaced = json.dumps(json.loads(valid_bundle()), ensure_ascii=False, sort_keys=True)
    assert code_of(spaced.encode("utf-8")) == "not-canonical"
    escaped = json.dumps(json.loads(valid_bundle()), sort_keys=True, separators=(",", ":"))
    assert code_of(escaped.encode("ascii")) == "not-canonical"  # \uXXXX instead of UTF-8


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not-json"),
        (b"not json", "not-json"),
        (b"\xff\xfe{}", "not-utf8"),
        (b'{"a":NaN}', "not-json"),
        (b'{"a":1,"a":2}', "duplicate-key"),
        (b"[]", "not-object"),
        (b"{}", "format"),
        (b'{"a":1.5}', "not-canonical"),
        (b'{"a":"\\ud800"}', "not-canonical"),
        (b"[" * 33 + b"]" * 33, "too-deep"),
        (b"[" * 100_000 + b"]" * 100_000, "too-deep"),
        (b"1" * 5000, "not-json"),
        (b" " * (MAX_BYTES + 1), "too-large"),
    ],
)
def test_files_that_are_not_bundles(data: bytes, code: str) -> None:
    assert code_of(data) == code


def test_every_refusal_has_a_sentence_in_english_and_chinese() -> None:
    refusal = EvidenceError("missing-field", "client_hash")
    assert refusal.reason == "The field client_hash is missing."
    token = current_locale.set("zh-Hans")
    try:
        assert "client_hash" in refusal.message()
    finally:
        current_locale.reset(token)
    assert "\n" not in EvidenceError("extra-field", "…").reason


# -- random faults never escape as anything but EvidenceError -----------------------------------


def _verifies_or_refuses(data: bytes) -> None:
    try:
        verify_bundle(data)
    except EvidenceError as refused:
        assert refused.code and "\n" not in refused.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    _verifies_or_refuses(data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(0, 255), st.sampled_from("rid")),
        min_size=1,
        max_size=8,
    )
)
def test_random_byte_mutations_are_refused(edits: list[tuple[int, int, str]]) -> None:
    data = bytearray(valid_bundle())
    for position, value, how in edits:
        at = position % (len(data) + 1)
        if how == "r" and at < len(data):
            data[at] = value
        elif how == "i":
            data.insert(at, value)
        elif at < len(data):
            del data[at]
    if bytes(data) != valid_bundle():
        with pytest.raises(EvidenceError):
            verify_bundle(bytes(data))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_values_in_a_resealed_bundle_are_refused_cleanly(data: st.DataObject) -> None:
    """Structural faults past the seal's reach: a field replaced by any JSON value, sealed
    again, so that the checks behind the seal see it."""
    bundle = json.loads(valid_bundle())
    paths = [path for path in _paths(bundle) if path and path[0] != "seal"]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    target = bundle
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    _verifies_or_refuses(reseal(bundle))


# -- the command --------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # No TONGBAN_* settings at all: a third party verifies with nothing but the file.
    env = {key: value for key, value in os.environ.items() if not key.startswith("TONGBAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "signature", "verify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_cli_valid_bundle(tmp_path: Path) -> None:
    data = valid_bundle()
    bundle = json.loads(data)
    path = tmp_path / "evidence.json"
    path.write_bytes(data)
    key = evidence.b64url(evidence.seal_public_key())
    result = run_cli(str(path), "--seal-key", key, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"valid: {bundle['id']} signed 2026-11-24T09:31:05.123456Z by account 42 (张*), "
        f"document {bundle['document_sha256']}, "
        f"sealed by key {evidence.fingerprint(evidence.seal_public_key())}\n"
    )
    assert result.stderr == ""
    # Settings were never loaded: in development loading them makes var/secret_key.
    assert not (tmp_path / "var").exists()


def test_cli_tampered_junk_missing_and_bad_key(tmp_path: Path) -> None:
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(valid_bundle().replace(b'"account_id":42', b'"account_id":43'))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(512))
    sealed_elsewhere = tmp_path / "elsewhere.json"
    sealed_elsewhere.write_bytes(reseal(json.loads(valid_bundle()), Ed25519PrivateKey.generate()))
    key = evidence.b64url(evidence.seal_public_key())

    for path, args in [(tampered, ()), (junk, ()), (sealed_elsewhere, ("--seal-key", key))]:
        result = run_cli(str(path), *args, cwd=tmp_path)
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert result.stderr.startswith("invalid: ") and result.stderr.count("\n") == 1
        assert_no_traceback(result)

    for args in [
        (str(tmp_path / "absent.json"),),
        (str(tmp_path),),  # a folder
        (str(tampered), "--seal-key", "not a key"),
        (str(tampered), "--seal-key", evidence.b64url(b"short")),
    ]:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1
        assert_no_traceback(result)
