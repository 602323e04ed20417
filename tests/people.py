"""People for HTTP tests of every domain: staff in a passkey session, English pages."""

from __future__ import annotations

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import ORIGIN, finish_signin, register, start_signin
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import SoftAuthenticator


async def english(client: PageClient) -> None:
    """English pages, chosen as a person would: the assertions read the msgids themselves."""
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/language", data={"lang": "en", "_csrf_token": token})


async def passkey_session(client: PageClient) -> None:
    """In the SMS session just opened: add a passkey, then sign in again with it."""
    authenticator = SoftAuthenticator()
    assert (await register(client, authenticator)).status_code == 201
    client.cookies.clear()
    challenge_id, options, token = await start_signin(client)
    result = await finish_signin(client, challenge_id, authenticator.get(options, ORIGIN), token)
    assert result.status_code == 201, result.text


async def staff_signed_in(
    client: PageClient,
    role: Role,
    name: str = "王窗口",
    department: str = "market-regulation",
) -> Account:
    """A new staff member (an officer of ``department``) who added a passkey at the first
    (SMS) sign-in, then signed in with it, reading English pages."""
    typed, phone = fresh_phone()
    await create_account(
        phone, role, department_code=department if role == Role.OFFICER else None, name=name
    )
    assert (await sign_in(client, typed)).status_code == 303
    await passkey_session(client)
    await english(client)
    found = await Account.objects().where(Account.phone == phone).first()
    assert found is not None
    return found


async def citizen_signed_in(client: PageClient) -> Account:
    """A new citizen signed in by SMS, reading English pages."""
    typed, phone = fresh_phone()
    assert (await sign_in(client, typed)).status_code == 303
    await english(client)
    found = await Account.objects().where(Account.phone == phone).first()
    assert found is not None
    return found
