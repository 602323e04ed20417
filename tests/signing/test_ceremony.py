"""Signing a document with a passkey over HTTP, with a software authenticator making real
signatures: the happy path, the evidence, and every way a signature must be refused — each
refusal leaves no signature behind."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from webauthn.helpers import base64url_to_bytes

from app.accounts.tables import Account, Passkey
from app.signing import evidence
from app.signing.service import mask_name, prepare
from app.signing.tables import AppendOnly, DocumentKind, SignableDocument, Signature
from app.signing.verify import verify_bundle
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import ORIGIN, register
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import FLAG_UP, SoftAuthenticator
from tests.licences.test_licences import add_licence
from tests.signing.people import authorisation, citizen, finish, start, token


async def signatures() -> int:
    return int(await Signature.count())


async def test_sign_the_authorisation_and_verify_it(client: PageClient) -> None:
    authenticator, account_id = await citizen(client)
    document_id = await authorisation(client)
    page = await client.get(f"/sign/{document_id}")
    assert page.status_code == 200
    document = await SignableDocument.objects().where(SignableDocument.id == document_id).first()
    assert document is not None
    assert document.title in page.text and document.sha256 in page.text

    challenge_id, options, csrf = await start(client, document_id)
    challenge = base64url_to_bytes(options["challenge"])
    assert len(challenge) == evidence.NONCE_BYTES + 32
    assert challenge[evidence.NONCE_BYTES :].hex() == document.sha256  # bound to the document
    assert options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == [authenticator.credentials[0].id]

    response = await finish(
        client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf
    )
    assert response.status_code == 200, response.text
    verify_url = response.json()["redirect"]
    signature_id = verify_url.split("/")[2]

    shown = await client.get(verify_url)
    assert shown.status_code == 200
    assert "✓" in shown.text and document.title in shown.text
    bundle = (await client.get(f"/signatures/{signature_id}/evidence.json")).content
    verified = verify_bundle(bundle, seal_key=evidence.seal_public_key())
    assert verified.document_sha256 == document.sha256
    assert verified.signer["account_id"] == account_id
    assert json.loads(bundle)["document"] == json.loads(document.content)

    account_page = await client.get("/account")
    assert f'href="/signatures/{signature_id}/verify"' in account_page.text
    pdf = await client.get(f"/signatures/{signature_id}/document.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

    # The verify page is public: anyone with the link, signed in or not.
    client.cookies.clear()
    assert (await client.get(verify_url)).status_code == 200
    key = (await client.get("/signatures/seal-key")).json()
    assert key["public_key"] == evidence.b64url(evidence.seal_public_key())


async def test_deleting_the_passkey_later_leaves_the_signature_valid(client: PageClient) -> None:
    authenticator, account_id = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    response = await finish(
        client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf
    )
    verify_url = response.json()["redirect"]
    await Passkey.delete().where(Passkey.account == account_id)
    assert (await client.get(verify_url)).status_code == 200


async def test_signatures_are_append_only() -> None:
    with pytest.raises(AppendOnly):
        Signature.update({Signature.sign_count: 0})
    with pytest.raises(AppendOnly):
        Signature.delete(force=True)


async def test_a_tampered_stored_signature_fails_its_verify_page(client: PageClient) -> None:
    """The page checks the evidence as stored, every time: a row edited behind the app's back
    (here with SQL) shows as not verifying."""
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    response = await finish(
        client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf
    )
    signature_id = response.json()["redirect"].split("/")[2]
    await Signature.raw(
        "UPDATE signing_signature SET signer_name_masked = {} WHERE id = {}", "王*", signature_id
    )
    shown = await client.get(f"/signatures/{signature_id}/verify")
    assert shown.status_code == 409
    assert 'role="alert"' in shown.text


# --- refusals: each leaves no signature ----------------------------------------------------


async def refused(
    client: PageClient, document_id: int, challenge_id: str, credential: Any, csrf: str
) -> str:
    before = await signatures()
    response = await finish(client, document_id, challenge_id, credential, csrf)
    assert response.status_code == 400, response.text
    assert await signatures() == before
    detail: str = response.json()["detail"]
    assert detail
    return detail


async def test_a_document_changed_after_the_challenge_is_not_signed(client: PageClient) -> None:
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    document = await SignableDocument.objects().where(SignableDocument.id == document_id).first()
    assert document is not None
    changed = document.content.replace("Tongban", "Tongbaz", 1).replace("通办", "通辦", 1)
    assert changed != document.content
    await SignableDocument.update({SignableDocument.content: changed}).where(
        SignableDocument.id == document_id
    )
    await refused(client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf)


async def test_another_persons_passkey_cannot_sign(client: PageClient) -> None:
    stranger = SoftAuthenticator()
    _mine, _account = await citizen(client, algorithm="EdDSA")
    await register(client, SoftAuthenticator())  # (a second passkey of mine, unused)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    # The stranger's authenticator, told to use any credential it has for this site.
    stranger.create(
        {
            "challenge": options["challenge"],
            "rp": {"id": "localhost", "name": "x"},
            "user": {"id": "c3RyYW5nZXI", "name": "s", "displayName": "s"},
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        },
        ORIGIN,
    )
    forged = stranger.get({**options, "allowCredentials": []}, ORIGIN)
    await refused(client, document_id, challenge_id, forged, csrf)


async def test_a_replayed_assertion_is_refused(client: PageClient) -> None:
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    assertion = authenticator.get(options, ORIGIN)
    assert (await finish(client, document_id, challenge_id, assertion, csrf)).status_code == 200
    await refused(client, document_id, challenge_id, assertion, csrf)  # the challenge is used up
    other = await authorisation(client)  # a new document and a new challenge
    new_challenge, _options, csrf = await start(client, other)
    await refused(client, other, new_challenge, assertion, csrf)


async def test_a_challenge_issued_for_another_document_is_refused(client: PageClient) -> None:
    authenticator, account_id = await citizen(client)
    first = await authorisation(client)
    challenge_id, options, csrf = await start(client, first)
    account = await Account.objects().where(Account.id == account_id).first()
    assert account is not None
    other = await prepare(account, DocumentKind.PLEDGE, "承诺书", "本人承诺所提交的材料真实有效。")
    await refused(client, int(other.id), challenge_id, authenticator.get(options, ORIGIN), csrf)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda a, c: a.tamper_client_data(c, origin="http://evil.example", resign=True),
            id="origin",
        ),
        pytest.param(
            lambda a, c: a.tamper_authenticator_data(c, rp_id="evil.example", resign=True),
            id="rp-id",
        ),
        pytest.param(
            lambda a, c: a.tamper_authenticator_data(c, flags=FLAG_UP, resign=True), id="uv-false"
        ),
        pytest.param(lambda a, c: a.tamper_signature(c), id="signature"),
        pytest.param(
            lambda a, c: a.tamper_client_data(c, type="webauthn.create", resign=True), id="type"
        ),
        pytest.param(
            lambda a, c: a.tamper_client_data(c, crossOrigin=True, resign=True), id="cross-origin"
        ),
    ],
)
async def test_forged_assertions_are_refused(client: PageClient, forge: Any) -> None:
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    forged = forge(authenticator, authenticator.get(options, ORIGIN))
    await refused(client, document_id, challenge_id, forged, csrf)


async def test_user_verification_is_required(client: PageClient) -> None:
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    unverified = authenticator.get(options, ORIGIN, user_verified=False)
    await refused(client, document_id, challenge_id, unverified, csrf)


async def test_an_expired_challenge_is_refused(client: PageClient, redis: Any) -> None:
    authenticator, _account = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    await redis.delete(f"tongban:webauthn:sign:{challenge_id}")  # what five minutes do
    detail = await refused(
        client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf
    )
    assert detail  # "…has expired. Please sign again."


async def test_a_signature_counter_that_goes_back_is_refused(client: PageClient) -> None:
    authenticator, account_id = await citizen(client)
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    await Passkey.update({Passkey.sign_count: 1000}).where(Passkey.account == account_id)
    await refused(client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"challenge_id": "x"},
        {"challenge_id": "a" * 30, "credential": "junk"},
        {"challenge_id": "a" * 30, "credential": {"id": "x", "response": {}}},
        {"challenge_id": "a" * 30, "credential": None},
    ],
)
async def test_malformed_or_missing_fields_are_refused(client: PageClient, body: Any) -> None:
    await citizen(client)
    document_id = await authorisation(client)
    _challenge, _options, csrf = await start(client, document_id)
    before = await signatures()
    response = await client.post(
        f"/sign/{document_id}/finish", json=body, headers={"x-csrftoken": csrf}
    )
    assert response.status_code == 400
    assert await signatures() == before


async def test_not_json_at_all_is_a_clear_400(client: PageClient) -> None:
    await citizen(client)
    document_id = await authorisation(client)
    _challenge, _options, csrf = await start(client, document_id)
    response = await client.post(
        f"/sign/{document_id}/finish",
        content=b"{not json",
        headers={"x-csrftoken": csrf, "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_someone_elses_document_is_not_found(client: PageClient) -> None:
    await citizen(client)
    document_id = await authorisation(client)
    client.cookies.clear()
    await citizen(client)
    csrf = await token(client)
    assert (await client.get(f"/sign/{document_id}")).status_code == 404
    response = await client.post(f"/sign/{document_id}/options", headers={"x-csrftoken": csrf})
    assert response.status_code == 404


async def test_signing_without_a_passkey_says_how(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    document_id = await authorisation(client)
    page = await client.get(f"/sign/{document_id}")
    assert 'href="/account"' in page.text
    csrf = await token(client)
    response = await client.post(f"/sign/{document_id}/options", headers={"x-csrftoken": csrf})
    assert response.status_code == 400 and response.json()["detail"]


async def test_unknown_signatures_are_not_found(client: PageClient) -> None:
    for path in (
        "/signatures/nope/verify",
        "/signatures/nope/evidence.json",
        "/signatures/x/document.pdf",
    ):
        assert (await client.get(path)).status_code == 404


def test_names_are_masked() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("") == ""


SUPERMARKET = [
    ("business_type", "supermarket"),
    ("scale", "large"),
    ("sales_mode", "wholesale"),
    ("sales_mode", "retail"),
    ("on_site_preparation", "yes"),
    ("special_food", "no"),
]


async def test_the_licence_library_fills_materials_only_after_the_authorisation(
    client: PageClient,
) -> None:
    authenticator, account_id = await citizen(client)
    await add_licence(account=account_id, code="business_licence", number="91310000MA1K000001")
    here = "/guide/food-business-licence/checklist?" + urlencode(SUPERMARKET)
    before = await client.get(here)
    assert "entry-held" not in before.text
    assert 'action="/authorisation"' in before.text  # "1 material can come from your library"

    response = await client.post(
        "/authorisation",
        data={"_csrf_token": csrf_from(before), "next": here},
        follow_redirects=False,
    )
    target = response.headers["location"]
    assert target.startswith("/sign/") and "next=" in target
    document_id = int(target.split("/")[2].split("?")[0])
    challenge_id, options, csrf = await start(client, document_id)
    signed = await client.post(
        f"/sign/{document_id}/finish",
        json={
            "challenge_id": challenge_id,
            "credential": authenticator.get(options, ORIGIN),
            "next": here,
        },
        headers={"x-csrftoken": csrf},
    )
    assert signed.json()["redirect"] == here

    after = await client.get(here)
    assert 'action="/authorisation"' not in after.text
    assert re.search(r'<li class="entry entry-held">\s*<strong>营业执照</strong>', after.text)


async def test_signing_requests_are_capped_per_account(settings: Any) -> None:
    from dataclasses import replace

    from app.asgi import create_app

    app = create_app(replace(settings, passkey_options_per_minute=2))
    async with PageClient(app=app, base_url="http://tongban.local") as capped:
        await citizen(capped)
        document_id = await authorisation(capped)
        csrf = await token(capped)
        statuses = [
            (
                await capped.post(f"/sign/{document_id}/options", headers={"x-csrftoken": csrf})
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]
