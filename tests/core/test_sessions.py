"""Server-side sessions (app/core/sessions.py): an unchanged session is not written back on
every request, a changed one is, and a session in use is still renewed."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from app.asgi import SESSION_COOKIE
from app.core import sessions
from tests.accounts.helpers import sign_in
from tests.conftest import PageClient, csrf_from

SHORT_TTL = 1000  # seconds, far below SESSION_MAX_AGE: a write puts the full lifetime back


async def _signed_in(client: PageClient, redis: Redis, phone: str) -> str:
    assert (await sign_in(client, phone)).status_code == 303
    await client.get("/account")  # shows (and so removes) the welcome message
    key = f"tongban:session:{client.cookies[SESSION_COOKIE]}"
    assert await redis.exists(key)
    return key


async def test_a_page_view_that_changes_nothing_does_not_write_the_session(
    client: PageClient, redis: Redis
) -> None:
    key = await _signed_in(client, redis, "13700000301")
    await redis.expire(key, SHORT_TTL)
    response = await client.get("/account")
    assert response.status_code == 200
    assert SESSION_COOKIE not in response.cookies
    assert await redis.ttl(key) <= SHORT_TTL


async def test_a_changed_session_is_written_at_once(client: PageClient, redis: Redis) -> None:
    key = await _signed_in(client, redis, "13700000302")
    await redis.expire(key, SHORT_TTL)
    token = csrf_from(await client.get("/"))
    await client.post(
        "/preferences/elderly",
        data={"elder": "1", "_csrf_token": token},
        follow_redirects=False,
    )
    assert await redis.ttl(key) > SHORT_TTL  # the confirmation message was stored


async def test_a_session_in_use_is_renewed_after_rewrite_after(
    client: PageClient, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await _signed_in(client, redis, "13700000303")
    await redis.expire(key, SHORT_TTL)
    monkeypatch.setattr(sessions, "REWRITE_AFTER", 0)
    response = await client.get("/account")
    assert SESSION_COOKIE in response.cookies
    assert await redis.ttl(key) > SHORT_TTL


async def test_the_write_stamp_does_not_keep_an_emptied_session_alive(
    client: PageClient, redis: Redis
) -> None:
    token = csrf_from(await client.get("/"))
    await client.post(
        "/preferences/elderly",
        data={"elder": "1", "_csrf_token": token},
        follow_redirects=False,
    )
    key = f"tongban:session:{client.cookies[SESSION_COOKIE]}"
    assert await redis.exists(key)  # the confirmation waits in the session
    await client.get("/")  # shows it, which empties the session
    assert not await redis.exists(key)
