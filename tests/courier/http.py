"""People signed in over HTTP for the courier tests: a courier and a floor manager in passkey
sessions, citizens by SMS; pages read in English, chosen as a person would."""

from __future__ import annotations

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import ORIGIN, finish_signin, register, start_signin
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import SoftAuthenticator


async def english(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/language", data={"lang": "en", "_csrf_token": token})


async def staff_signed_in(client: PageClient, role: Role, name: str = "钱快递") -> Account:
    """A new staff member who added a passkey at the first (SMS) sign-in, then signed in
    with it."""
    typed, phone = fresh_phone()
    await create_account(phone, role, name=name)
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


async def citizen_signed_in(client: PageClient) -> Account:
    typed, phone = fresh_phone()
    assert (await sign_in(client, typed)).status_code == 303
    await english(client)
    found = await Account.objects().where(Account.phone == phone).first()
    assert found is not None
    return found


async def token(client: PageClient, path: str = "/") -> str:
    return csrf_from(await client.get(path))
