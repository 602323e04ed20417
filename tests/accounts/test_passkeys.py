"""Passkey registration and sign-in over HTTP with a software authenticator doing real
signatures: nothing is mocked at the signature check."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.accounts.tables import Account, LoginSession, Passkey
from app.asgi import create_litestar
from app.config import Settings
from app.core.context import RequestContextMiddleware
from app.notifications.tables import Notification
from tests.accounts.helpers import (
    latest_code,
    let_a_minute_pass,
    request_code,
    sign_in,
    submit_code,
)
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"  # TONGBAN_PUBLIC_URL in tests/conftest.py


async def _token(client: PageClient) -> str:
    return csrf_from(await client.get("/"))


async def start_registration(client: PageClient) -> tuple[dict[str, Any], str]:
    token = await _token(client)
    started = (
        await client.post("/account/passkeys/options", headers={"x-csrftoken": token})
    ).json()
    return started, token


async def register(client: PageClient, authenticator: SoftAuthenticator, name: str = "手机") -> Any:
    started, token = await start_registration(client)
    credential = authenticator.create(started["options"], ORIGIN)
    return await client.post(
        "/account/passkeys/verify",
        json={"challenge_id": started["challenge_id"], "credential": credential, "name": name},
        headers={"x-csrftoken": token},
    )


async def start_signin(client: PageClient) -> tuple[str, dict[str, Any], str]:
    token = await _token(client)
    started = (await client.post("/signin/passkey/options", headers={"x-csrftoken": token})).json()
    return started["challenge_id"], started["options"], token


async def finish_signin(
    client: PageClient, challenge_id: str, credential: dict[str, Any], token: str
) -> Any:
    return await client.post(
        "/signin/passkey/verify",
        json={"challenge_id": challenge_id, "credential": credential},
        headers={"x-csrftoken": token},
    )


async def citizen_with_passkey(
    client: PageClient, **authenticator_options: Any
) -> tuple[SoftAuthenticator, str]:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    authenticator = SoftAuthenticator(**authenticator_options)
    assert (await register(client, authenticator)).status_code == 201
    await client.post("/signout", data={"_csrf_token": await _token(client)})
    client.cookies.clear()
    return authenticator, phone


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "RS256"])
async def test_register_then_sign_in_with_a_passkey(client: PageClient, algorithm: str) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    authenticator = SoftAuthenticator(algorithm=algorithm)
    response = await register(client, authenticator, name="我的手机")
    assert response.status_code == 201, response.text
    assert response.json() == {"redirect": "/account"}
    account = await Account.objects().where(Account.phone == phone).first()
    assert account is not None
    stored = await Passkey.select().where(Passkey.account == account.id)
    assert len(stored) == 1 and stored[0]["name"] == "我的手机"
    # The owner is told by SMS that a passkey was added.
    assert await Notification.exists().where(
        Notification.recipient == phone, Notification.kind == "passkey_added"
    )
    page = await client.get("/account")
    assert "我的手机" in page.text

    await client.post("/signout", data={"_csrf_token": csrf_from(page)})
    client.cookies.clear()
    challenge_id, options, token = await start_signin(client)
    assert options["userVerification"] == "required" and options.get("allowCredentials", []) == []
    result = await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
    assert result.status_code == 201, result.text
    assert result.json()["redirect"] == "/account"
    login = (
        await LoginSession.objects()
        .where(LoginSession.account == account.id)
        .order_by(LoginSession.id, ascending=False)
        .first()
    )
    assert login is not None and login.method == "passkey"
    assert (await client.get("/account")).status_code == 200
    counted = await Passkey.select(Passkey.sign_count).where(Passkey.account == account.id).first()
    assert counted is not None and counted["sign_count"] == 1


async def test_registration_options_demand_a_discoverable_user_verifying_credential(
    client: PageClient,
) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    started, _token_value = await start_registration(client)
    options = started["options"]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert [item["alg"] for item in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["rp"]["id"] == "localhost"


async def test_a_registration_challenge_works_once(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    started, token = await start_registration(client)
    credential = SoftAuthenticator().create(started["options"], ORIGIN)
    body = {"challenge_id": started["challenge_id"], "credential": credential}
    assert (
        await client.post("/account/passkeys/verify", json=body, headers={"x-csrftoken": token})
    ).status_code == 201
    again = await client.post("/account/passkeys/verify", json=body, headers={"x-csrftoken": token})
    assert again.status_code == 400 and "已过期" in again.json()["detail"]


async def test_a_sign_in_challenge_works_once(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    credential = authenticator.get(options, ORIGIN)
    assert (await finish_signin(client, challenge_id, credential, token)).status_code == 201
    client.cookies.clear()
    _other, _o, token = await start_signin(client)
    replay = await finish_signin(client, challenge_id, credential, token)
    assert replay.status_code == 400
    assert "tongban_session" not in replay.cookies


async def test_registration_refuses_a_credential_without_user_verification(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    response = await register(client, SoftAuthenticator(user_verification=False))
    assert response.status_code == 400
    assert not await Passkey.exists().where(Passkey.account.phone == phone)


async def test_registration_for_another_origin_is_refused(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    started, token = await start_registration(client)
    credential = SoftAuthenticator().create(started["options"], "https://evil.example")
    response = await client.post(
        "/account/passkeys/verify",
        json={"challenge_id": started["challenge_id"], "credential": credential},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 400
    assert not await Passkey.exists().where(Passkey.account.phone == phone)


async def _refused(
    client: PageClient, challenge_id: str, credential: dict[str, Any], token: str
) -> None:
    before = await LoginSession.count()
    response = await finish_signin(client, challenge_id, credential, token)
    assert response.status_code == 400
    assert response.json()["detail"] == "此通行密钥无法登录。"
    assert "tongban_session" not in response.cookies
    assert await LoginSession.count() == before


async def test_tampered_signature_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    forged = SoftAuthenticator.tamper_signature(authenticator.get(options, ORIGIN))
    await _refused(client, challenge_id, forged, token)


async def test_assertion_made_for_another_origin_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    phished = authenticator.tamper_client_data(
        authenticator.get(options, ORIGIN), origin="https://tongban.evil.example", resign=True
    )
    await _refused(client, challenge_id, phished, token)


async def test_assertion_for_another_challenge_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    stale = authenticator.tamper_client_data(
        authenticator.get(options, ORIGIN), challenge=b"x" * 32, resign=True
    )
    await _refused(client, challenge_id, stale, token)


async def test_assertion_scoped_to_another_rp_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    credential = authenticator.credentials[0]
    authenticator.import_credential(credential.export(), rp_id="evil.example")
    challenge_id, options, token = await start_signin(client)
    await _refused(
        client,
        challenge_id,
        authenticator.get(options, ORIGIN, credential_id=credential.id, rp_id="evil.example"),
        token,
    )


async def test_assertion_without_user_verification_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    await _refused(
        client, challenge_id, authenticator.get(options, ORIGIN, user_verified=False), token
    )


async def test_a_credential_claiming_another_users_handle_is_refused(client: PageClient) -> None:
    mine, _phone = await citizen_with_passkey(client)
    _theirs, their_phone = await citizen_with_passkey(client)
    their_account = await Account.objects().where(Account.phone == their_phone).first()
    assert their_account is not None
    from webauthn.helpers import base64url_to_bytes

    # My key, presented as belonging to their account.
    forged = mine.import_credential(
        mine.credentials[0].export(), user_handle=base64url_to_bytes(their_account.webauthn_user_id)
    )
    challenge_id, options, token = await start_signin(client)
    await _refused(client, challenge_id, mine.get(options, ORIGIN, credential_id=forged.id), token)


async def test_a_credential_already_registered_to_another_user_is_refused(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    started, token = await start_registration(client)
    credential = SoftAuthenticator().create(started["options"], ORIGIN)
    # Meanwhile the same credential id is on another account (copied, or a second registration).
    other = await Account.objects().where(Account.phone == "+8613800000001").first()
    assert other is not None
    await Passkey.insert(Passkey(account=other.id, credential_id=credential["id"], public_key="x"))
    response = await client.post(
        "/account/passkeys/verify",
        json={"challenge_id": started["challenge_id"], "credential": credential},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 400 and "已经登记" in response.json()["detail"]
    assert not await Passkey.exists().where(Passkey.account.phone == phone)
    await Passkey.delete().where(Passkey.credential_id == credential["id"])


async def test_a_signature_counter_that_goes_back_is_refused(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    assert (
        await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
    ).status_code == 201
    client.cookies.clear()
    # A clone of the key made before that sign-in: its counter is behind.
    clone = SoftAuthenticator()
    clone.import_credential({**authenticator.credentials[0].export(), "signCount": 0})
    challenge_id, options, token = await start_signin(client)
    await _refused(client, challenge_id, clone.get(options, ORIGIN), token)


async def test_backup_eligibility_must_not_change(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(client, backup_eligible=False)
    changed = SoftAuthenticator(backup_eligible=True, backed_up=True)
    changed.import_credential(authenticator.credentials[0].export())
    challenge_id, options, token = await start_signin(client)
    await _refused(client, challenge_id, changed.get(options, ORIGIN), token)


async def test_synced_passkeys_that_do_not_count_still_sign_in(client: PageClient) -> None:
    authenticator, _phone = await citizen_with_passkey(
        client, backup_eligible=True, backed_up=True, counter_mode="zero"
    )
    for _ in range(2):
        client.cookies.clear()
        challenge_id, options, token = await start_signin(client)
        assert (
            await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
        ).status_code == 201


async def test_unknown_challenge_ids_and_garbage_are_refused(client: PageClient) -> None:
    token = await _token(client)
    for body in (
        {},
        {"challenge_id": "../../etc"},
        {"challenge_id": "A" * 32, "credential": {"id": 1}},
        {"challenge_id": 5},
    ):
        response = await client.post(
            "/signin/passkey/verify", json=body, headers={"x-csrftoken": token}
        )
        assert response.status_code == 400
    _cid, _options, token = await start_signin(client)
    challenge_id, _options, token = await start_signin(client)
    response = await finish_signin(
        client, challenge_id, {"id": "x", "type": "public-key", "response": {}}, token
    )
    assert response.status_code == 400


async def test_json_endpoints_need_the_csrf_header(client: PageClient) -> None:
    await client.get("/")
    assert (await client.post("/signin/passkey/options")).status_code == 403


async def test_rename_and_delete_only_your_own_passkeys(client: PageClient) -> None:
    _theirs, their_phone = await citizen_with_passkey(client)
    their_key = await Passkey.objects().where(Passkey.account.phone == their_phone).first()
    assert their_key is not None
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    await register(client, SoftAuthenticator(), name="旧名字")
    token = await _token(client)
    for path in (
        f"/account/passkeys/{their_key.id}/rename",
        f"/account/passkeys/{their_key.id}/delete",
    ):
        response = await client.post(path, data={"name": "mine now", "_csrf_token": token})
        assert response.status_code == 404
    assert await Passkey.exists().where(Passkey.id == their_key.id, Passkey.name == their_key.name)
    mine = await Passkey.objects().where(Passkey.account.phone == "+86" + typed).first()
    assert mine is not None
    await client.post(
        f"/account/passkeys/{mine.id}/rename", data={"name": "新名字", "_csrf_token": token}
    )
    assert "新名字" in (await client.get("/account")).text
    bad = await client.post(
        f"/account/passkeys/{mine.id}/rename", data={"name": "", "_csrf_token": token}
    )
    assert bad.status_code == 400
    await client.post(f"/account/passkeys/{mine.id}/delete", data={"_csrf_token": token})
    assert not await Passkey.exists().where(Passkey.id == mine.id)


async def test_staff_register_a_passkey_at_first_sign_in_and_then_must_use_it(
    client: PageClient,
) -> None:
    from app.accounts.services import create_account
    from app.accounts.tables import Role

    typed, phone = fresh_phone()
    await create_account(phone, Role.OFFICER, department_code="market-regulation", name="测试窗口")
    first = await sign_in(client, typed)
    assert first.status_code == 303 and first.headers["location"] == "/account?setup=passkey"
    page = await client.get("/account?setup=passkey")
    assert "工作人员账号必须现在添加通行密钥" in page.text
    refused = await client.get("/staff")
    assert refused.status_code == 403 and "需要使用通行密钥登录" in refused.text
    authenticator = SoftAuthenticator()
    assert (await register(client, authenticator)).status_code == 201
    assert (await client.get("/staff")).status_code == 403  # this session was opened by SMS
    # The only passkey of a staff account cannot be deleted.
    key = await Passkey.objects().where(Passkey.account.phone == phone).first()
    assert key is not None
    token = await _token(client)
    assert (
        await client.post(f"/account/passkeys/{key.id}/delete", data={"_csrf_token": token})
    ).status_code == 400

    client.cookies.clear()
    await let_a_minute_pass(phone)
    await request_code(client, typed)
    sms = await submit_code(client, phone, await latest_code(phone))
    assert sms.status_code == 403 and "通行密钥" in sms.text
    challenge_id, options, token = await start_signin(client)
    result = await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
    assert result.json()["redirect"] == "/staff"
    staff = await client.get("/staff")
    assert staff.status_code == 200 and "市场监督管理局" in staff.text


async def test_citizens_cannot_open_staff_pages(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    assert (await client.get("/staff")).status_code == 403
    client.cookies.clear()
    anonymous = await client.get("/staff", headers={"Accept": "text/html"}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin?next=%2Fstaff"


async def test_passkey_sign_in_options_are_capped_per_address(settings: Settings) -> None:
    capped = replace(settings, passkey_options_per_minute=3, trusted_proxies=1)
    app = RequestContextMiddleware(create_litestar(capped), capped)
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as behind_proxy:
        token = csrf_from(await behind_proxy.get("/"))

        async def ask(address: str) -> int:
            response = await behind_proxy.post(
                "/signin/passkey/options",
                headers={"x-csrftoken": token, "X-Forwarded-For": address},
            )
            return response.status_code

        assert [await ask("198.51.100.77") for _ in range(4)] == [201, 201, 201, 429]
        assert await ask("198.51.100.78") == 201  # another person is not held back
