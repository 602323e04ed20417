"""CSRF: the token changes when who is signed in changes, a planted token dies at sign-in,
the cookie cannot be set by a sibling host under HTTPS, and big bodies are refused unread."""

from __future__ import annotations

import time
from dataclasses import replace

from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from app.core.csrf import cookie_name
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from


async def _can_post(client: PageClient, token: str) -> bool:
    response = await client.post(
        "/preferences/language",
        data={"lang": "zh-Hans", "next": "/", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code in (303, 403)
    return response.status_code == 303


async def test_the_token_is_rotated_at_sign_in_and_at_sign_out(client: PageClient) -> None:
    before = csrf_from(await client.get("/"))
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    during = csrf_from(await client.get("/account"))
    assert during != before
    assert not await _can_post(client, before)
    assert await _can_post(client, during)
    await client.post("/signout", data={"_csrf_token": during})
    after = csrf_from(await client.get("/"))
    assert after not in (before, during)
    assert not await _can_post(client, during)


async def test_a_planted_token_stops_working_when_the_victim_signs_in(client: PageClient) -> None:
    async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as attacker:
        planted = csrf_from(await attacker.get("/"))
    # Someone who could write this host's cookie (over plain HTTP, say) gave the victim a token
    # they know. (A cookie set for a parent domain is a second cookie of the same name; that is
    # what the __Host- prefix under HTTPS rules out, see the next tests.)
    client.cookies.set(cookie_name(False), planted, domain="tongban.local")
    assert csrf_from(await client.get("/")) == planted
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    assert not await _can_post(client, planted)


async def test_a_forged_cookie_is_replaced_not_echoed(client: PageClient) -> None:
    client.cookies.set(cookie_name(False), "x" * 128)
    page = await client.get("/")
    assert csrf_from(page) != "x" * 128
    assert page.cookies.get(cookie_name(False)) == csrf_from(page)


async def test_under_https_the_cookies_carry_the_host_prefix(settings: Settings) -> None:
    https = replace(settings, public_url="https://tongban.example")
    async with AsyncTestClient(app=create_app(https), base_url="https://tongban.example") as tls:
        page = await tls.get("/")
        header = next(
            value
            for name, value in page.headers.multi_items()
            if name == "set-cookie" and value.startswith("__Host-tongban_csrf=")
        )
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
        assert {"secure", "path", "httponly"} <= attributes and "domain" not in attributes
        assert "Path=/" in header
        token = csrf_from(page)
        refused = await tls.post(
            "/preferences/language", data={"lang": "en", "next": "/", "_csrf_token": "0" * 128}
        )
        assert refused.status_code == 403
        accepted = await tls.post(
            "/preferences/language",
            data={"lang": "en", "next": "/", "_csrf_token": token},
            follow_redirects=False,
        )
        assert accepted.status_code == 303


async def test_a_huge_form_is_refused_before_it_is_parsed(client: PageClient) -> None:
    token = csrf_from(await client.get("/signin"))
    body = "&".join(f"f{index}=x" for index in range(400_000)).encode()  # ~3.6 MB, 400k fields
    started = time.perf_counter()
    response = await client.post(
        "/signin/code",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": token},
    )
    assert response.status_code == 413
    assert "超过了允许的大小" in response.text
    print(f"refused in {time.perf_counter() - started:.3f}s")  # shown with -s; not asserted


async def test_a_huge_json_body_is_refused(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    response = await client.post(
        "/signin/passkey/verify",
        content=b'{"challenge_id": "' + b"a" * 200_000 + b'"}',
        headers={"Content-Type": "application/json", "x-csrftoken": token},
    )
    assert response.status_code == 413
