from __future__ import annotations

from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.config import Settings
from app.core.context import RequestContextMiddleware, client_ip
from tests.conftest import PageClient, csrf_from

PATHS = ["/", "/offline", "/no/such/page", "/healthz", "/static/css/app.css", "/sw.js"]


@pytest.mark.parametrize("path", PATHS)
async def test_every_response_carries_the_security_headers(client: PageClient, path: str) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "camera=(self)" in response.headers["permissions-policy"]
    assert response.headers["x-request-id"]
    # Served over plain HTTP to a non-HTTPS public URL: no HSTS, no Secure cookies.
    assert "strict-transport-security" not in response.headers


async def test_nonce_is_fresh_for_every_request(client: PageClient) -> None:
    first = (await client.get("/")).headers["content-security-policy"]
    second = (await client.get("/")).headers["content-security-policy"]
    assert first != second


async def test_forwarded_headers_are_ignored_without_a_trusted_proxy(client: PageClient) -> None:
    response = await client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in response.headers


async def test_hsts_when_a_trusted_proxy_says_https(settings: Settings) -> None:
    app = RequestContextMiddleware(create_app().app, replace(settings, trusted_proxies=1))
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as behind_proxy:
        response = await behind_proxy.get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        (None, 0, "10.0.0.1"),
        ("203.0.113.9", 0, "10.0.0.1"),  # no proxy trusted: the header is the client's own claim
        ("203.0.113.9", 1, "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # the left entry was forged by the client
        ("6.6.6.6, 203.0.113.9, 10.0.0.7", 2, "203.0.113.9"),
        (None, 1, "10.0.0.1"),
    ],
)
def test_client_address_behind_proxies(forwarded: str | None, proxies: int, expected: str) -> None:
    headers = {b"x-forwarded-for": forwarded.encode()} if forwarded else {}
    assert client_ip({"client": ("10.0.0.1", 5000)}, headers, proxies) == expected


async def test_incoming_request_id_is_kept_when_well_formed(client: PageClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.headers["x-request-id"] == "abcdef0123456789"
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"


async def test_post_without_csrf_token_is_refused_and_changes_nothing(client: PageClient) -> None:
    await client.get("/")  # obtains the CSRF cookie, as a browser would
    response = await client.post("/preferences/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 403
    assert "表单已过期" in response.text
    assert "tongban_lang" not in response.cookies
    assert "tongban_lang" not in client.cookies
    assert '<html lang="zh-Hans"' in (await client.get("/")).text


async def test_post_with_a_forged_csrf_token_is_refused(client: PageClient) -> None:
    await client.get("/")
    response = await client.post(
        "/preferences/language", data={"lang": "en", "_csrf_token": "forged" * 10}
    )
    assert response.status_code == 403
    assert "tongban_lang" not in client.cookies


async def test_htmx_post_sends_the_token_in_a_header(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    response = await client.post(
        "/preferences/elderly",
        data={"elder": "1"},
        headers={"HX-Request": "true", "x-csrftoken": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.cookies["tongban_elder"] == "1"


async def test_htmx_csrf_failure_is_a_fragment_for_the_message_region(client: PageClient) -> None:
    await client.get("/")
    response = await client.post(
        "/preferences/elderly", data={"elder": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    assert response.headers["hx-retarget"] == "#messages"
    assert "<html" not in response.text
