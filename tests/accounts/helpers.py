"""Shared steps for account tests: ask for a code, read it from the outbox, sign in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from app.accounts.tables import SmsChallenge
from app.notifications.tables import Notification
from tests.conftest import csrf_from


async def latest_code(phone_e164: str) -> str:
    """The code of the newest SMS queued for the phone (read from the outbox before sending)."""
    row = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == phone_e164, Notification.kind == "sms_code")
        .order_by(Notification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert row is not None, "no SMS code queued"
    code: str = row["params"]["code"]
    return code


async def request_code(client: Any, phone: str, **extra: str) -> httpx.Response:
    token = csrf_from(await client.get("/signin"))
    return await client.post("/signin/code", data={"phone": phone, "_csrf_token": token, **extra})


async def submit_code(
    client: Any, phone_e164: str, code: str, follow: bool = False
) -> httpx.Response:
    token = csrf_from(await client.get("/"))
    return await client.post(
        "/signin/verify",
        data={"phone": phone_e164, "code": code, "_csrf_token": token},
        follow_redirects=follow,
    )


async def let_a_minute_pass(phone_e164: str) -> None:
    """Move the phone's earlier codes back in time, so the 60 s resend wait is over."""
    await SmsChallenge.update(
        {SmsChallenge.created_at: SmsChallenge.created_at - timedelta(seconds=61)}  # type: ignore[operator]
    ).where(SmsChallenge.phone == phone_e164)


async def sign_in(client: Any, phone: str) -> httpx.Response:
    e164 = "+86" + re.sub(r"\D", "", phone)[-11:]
    await let_a_minute_pass(e164)
    response = await request_code(client, phone)
    assert response.status_code == 200, response.text
    return await submit_code(client, e164, await latest_code(e164))
