"""Signed-in clients for the appointments HTTP tests."""

from __future__ import annotations

import re

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import ORIGIN, finish_signin, register, start_signin
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import SoftAuthenticator


async def english(client: PageClient) -> None:
    """English pages, chosen as a person would: the assertions read the msgids."""
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/language", data={"lang": "en", "_csrf_token": token})


async def citizen_signed_in(client: PageClient) -> Account:
    typed, phone = fresh_phone()
    assert (await sign_in(client, typed)).status_code == 303
    await english(client)
    found = await Account.objects().where(Account.phone == phone).first()
    assert found is not None
    return found


async def staff_signed_in(
    client: PageClient, role: Role, department: str | None = "market-regulation"
) -> Account:
    """Staff who added a passkey at the first (SMS) sign-in, then signed in with it."""
    typed, phone = fresh_phone()
    await create_account(
        phone, role, department_code=department if role == Role.OFFICER else None, name="王窗口"
    )
    assert (await sign_in(client, typed)).status_code == 303
    authenticator = SoftAuthenticator()
    assert (await register(client, authenticator)).status_code == 201
    client.cookies.clear()
    challenge_id, options, token = await start_signin(client)
    result = await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
    assert result.status_code == 201, result.text
    await english(client)
    found = await Account.objects().where(Account.phone == phone).first()
    assert found is not None
    return found


async def post_form(client: PageClient, page: str, action: str, **data: str) -> object:
    token = csrf_from(await client.get(page))
    return await client.post(action, data={"_csrf_token": token, **data}, follow_redirects=False)


def slot_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="slot" value="(\d+)"(?! disabled)', html)]
