"""What the outside review sent to the passkey endpoints: names with control or bidi
characters, oversized credential ids, cross-origin ceremonies, bodies that are not UTF-8 or are
nested too deep. Each is a clear 400 that changes nothing, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from app.accounts.tables import LoginSession, Passkey
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import (
    ORIGIN,
    citizen_with_passkey,
    finish_signin,
    register,
    start_registration,
    start_signin,
)
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures import soft_authenticator
from tests.fixtures.soft_authenticator import SoftAuthenticator

# Client data of a ceremony run inside another site's iframe (WebAuthn L3 §7.1 steps 10–11).
FOREIGN_FRAMES = [
    {"crossOrigin": True, "topOrigin": "https://evil.example"},
    {"crossOrigin": True},
    {"topOrigin": "https://evil.example"},
]
BAD_NAMES = ["手机\x00", "手机\n二号", "\u202elanigiro", "a\u2066b", "tab\there", "x\x85"]


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_registration_refuses_names_with_control_or_bidi_characters(
    client: PageClient, name: str
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    response = await register(client, SoftAuthenticator(), name=name)
    assert response.status_code == 400
    assert "控制字符" in response.json()["detail"]
    assert not await Passkey.exists().where(Passkey.account.phone == phone)


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_rename_refuses_names_with_control_or_bidi_characters(
    client: PageClient, name: str
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    assert (await register(client, SoftAuthenticator(), name="旧名字")).status_code == 201
    passkey = await Passkey.objects().where(Passkey.account.phone == phone).first()
    assert passkey is not None
    token = csrf_from(await client.get("/account"))
    response = await client.post(
        f"/account/passkeys/{passkey.id}/rename", data={"name": name, "_csrf_token": token}
    )
    assert response.status_code == 400 and "控制字符" in response.text
    stored = await Passkey.select(Passkey.name).where(Passkey.id == passkey.id).first()
    assert stored == {"name": "旧名字"}


async def test_credential_ids_over_1023_bytes_are_refused(
    client: PageClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WebAuthn L3 §7.1 step 25.
    monkeypatch.setattr(soft_authenticator, "CREDENTIAL_ID_LENGTH", 2000)
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    response = await register(client, SoftAuthenticator())
    assert response.status_code == 400
    assert not await Passkey.exists().where(Passkey.account.phone == phone)
    monkeypatch.setattr(soft_authenticator, "CREDENTIAL_ID_LENGTH", 1023)
    assert (await register(client, SoftAuthenticator())).status_code == 201


@pytest.mark.parametrize("changes", FOREIGN_FRAMES)
async def test_registration_in_a_foreign_frame_is_refused(
    client: PageClient, changes: dict[str, Any]
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    started, token = await start_registration(client)
    authenticator = SoftAuthenticator()
    credential = authenticator.tamper_client_data(
        authenticator.create(started["options"], ORIGIN), **changes
    )
    response = await client.post(
        "/account/passkeys/verify",
        json={"challenge_id": started["challenge_id"], "credential": credential},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 400
    assert not await Passkey.exists().where(Passkey.account.phone == phone)


@pytest.mark.parametrize("changes", FOREIGN_FRAMES)
async def test_sign_in_from_a_foreign_frame_is_refused(
    client: PageClient, changes: dict[str, Any]
) -> None:
    authenticator, _phone = await citizen_with_passkey(client)
    challenge_id, options, token = await start_signin(client)
    # Signed again over the changed client data: only crossOrigin/topOrigin can fail it.
    forged = authenticator.tamper_client_data(
        authenticator.get(options, ORIGIN), resign=True, **changes
    )
    before = await LoginSession.count()
    response = await finish_signin(client, challenge_id, forged, token)
    assert response.status_code == 400
    assert await LoginSession.count() == before


def _deep(depth: int) -> bytes:
    return b'{"challenge_id": "x", "credential": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "body", [b'{"a":"\xff"}', b'{"challenge_id":"\xc3\x28"}', _deep(5000), _deep(100_000)]
)
@pytest.mark.parametrize("endpoint", ["/signin/passkey/verify", "/account/passkeys/verify"])
async def test_bodies_that_are_not_utf8_or_nested_too_deep_are_a_400(
    client: PageClient, body: bytes, endpoint: str
) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    response = await client.post(
        endpoint, content=body, headers={"Content-Type": "application/json", "x-csrftoken": token}
    )
    assert response.status_code in (400, 413), response.text
    assert response.json()["detail"]


async def test_registration_starts_are_capped_per_account(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    statuses = [
        (await client.post("/account/passkeys/options", headers={"x-csrftoken": token})).status_code
        for _ in range(12)
    ]
    assert statuses[:10] == [201] * 10 and statuses[10:] == [429, 429]
