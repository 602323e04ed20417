"""What a signer does over HTTP, written once: a citizen with a passkey on a software
authenticator, the data-use authorisation, the two halves of the ceremony."""

from __future__ import annotations

import re
from typing import Any

from app.accounts.tables import Account
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import ORIGIN, register
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.fixtures.soft_authenticator import SoftAuthenticator


async def citizen(client: PageClient, **options: Any) -> tuple[SoftAuthenticator, int]:
    """A signed-in citizen with a passkey on a software authenticator."""
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    authenticator = SoftAuthenticator(**options)
    assert (await register(client, authenticator)).status_code == 201
    row = await Account.select(Account.id).where(Account.phone == phone).first()
    assert row is not None
    return authenticator, int(row["id"])


async def token(client: PageClient) -> str:
    return csrf_from(await client.get("/"))


async def authorisation(client: PageClient) -> int:
    """The citizen's data-use authorisation, ready to sign: its document id."""
    response = await client.post(
        "/authorisation", data={"_csrf_token": await token(client)}, follow_redirects=False
    )
    assert response.status_code == 303
    found = re.fullmatch(r"/sign/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def start(client: PageClient, document_id: int) -> tuple[str, dict[str, Any], str]:
    csrf = await token(client)
    response = await client.post(f"/sign/{document_id}/options", headers={"x-csrftoken": csrf})
    assert response.status_code == 200, response.text
    started = response.json()
    return started["challenge_id"], started["options"], csrf


async def finish(
    client: PageClient, document_id: int, challenge_id: str, credential: Any, csrf: str
) -> Any:
    return await client.post(
        f"/sign/{document_id}/finish",
        json={"challenge_id": challenge_id, "credential": credential},
        headers={"x-csrftoken": csrf},
    )


async def sign_authorisation(
    client: PageClient, authenticator: SoftAuthenticator | None = None, next: str = ""
) -> str:
    """Sign the data-use authorisation as the signed-in person (adding a passkey first unless
    one is given); where the app sends the browser next."""
    if authenticator is None:
        authenticator = SoftAuthenticator()
        assert (await register(client, authenticator)).status_code == 201
    document_id = await authorisation(client)
    challenge_id, options, csrf = await start(client, document_id)
    response = await client.post(
        f"/sign/{document_id}/finish",
        json={
            "challenge_id": challenge_id,
            "credential": authenticator.get(options, ORIGIN),
            "next": next,
        },
        headers={"x-csrftoken": csrf},
    )
    assert response.status_code == 200, response.text
    redirect: str = response.json()["redirect"]
    return redirect
