"""Pages served from the page cache are the page a fresh render gives, with this request's own
nonce and CSRF token, for visitors signed in or not; a waiting flash message or a query string
bypasses the cache."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from litestar.testing import AsyncTestClient

from app.asgi import create_app
from app.catalogue.services import CACHE, catalogue_changed
from app.catalogue.tables import Department
from app.config import Settings
from app.core import page_cache as page_cache_module
from app.core.csrf import cookie_name
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from, validate_response

PAGES = [
    "/",
    "/signin",
    "/offline",
    "/services",
    "/services/food-business-licence",
    "/bundles/open-restaurant",
    "/departments/market-regulation",
    "/life-events/open-business",
    "/guide/food-business-licence",
    "/track",
    "/services?q=spjy",  # a query the handler puts in the key (query_in_key)
]
NONCE = re.compile(r'nonce="([^"]+)"')


def _neutral(html: str) -> str:
    html = NONCE.sub('nonce=""', html)
    html = re.sub(r'name="_csrf_token" value="[^"]+"', 'name="_csrf_token" value=""', html)
    return re.sub(r'"x-csrftoken": "[^"]+"', '"x-csrftoken": ""', html)


@pytest.fixture
async def uncached(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(replace(settings, page_cache=False))
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("cookies", [{}, {"tongban_lang": "en"}, {"tongban_elder": "1"}])
async def test_a_cached_page_is_the_rendered_page(
    client: PageClient,
    uncached: AsyncTestClient,
    path: str,
    cookies: dict[str, str],  # type: ignore[type-arg]
) -> None:
    client.cookies.update(cookies)
    uncached.cookies.update(cookies)
    first, second = await client.get(path), await client.get(path)  # the second from the cache
    fresh = await uncached.get(path)
    assert first.status_code == second.status_code == fresh.status_code == 200
    assert _neutral(second.text) == _neutral(fresh.text) == _neutral(first.text)
    for header in ("content-type", "cache-control", "content-language"):
        assert second.headers.get(header) == fresh.headers.get(header)


@pytest.mark.parametrize("path", PAGES)
async def test_each_response_carries_its_own_nonce_and_token(path: str) -> None:
    tokens, nonces = set(), set()
    for _ in range(3):
        async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as visitor:
            page = await visitor.get(path)
            validate_response(page)
            token = csrf_from(page)
            assert page.cookies.get(cookie_name(False)) == token  # the visitor's own token
            found = set(NONCE.findall(page.text))
            assert len(found) == 1
            header = page.headers["content-security-policy"]
            assert f"'nonce-{next(iter(found))}'" in header
            tokens.add(token)
            nonces |= found
    assert len(tokens) == 3 and len(nonces) == 3


async def test_signed_in_visitors_get_their_own_variant_and_their_flash_messages(
    client: PageClient,
    uncached: AsyncTestClient,  # type: ignore[type-arg]
) -> None:
    assert 'href="/signin"' in (await client.get("/")).text
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    with_flash = await client.get("/")
    assert 'href="/account"' in with_flash.text and "登录成功" in with_flash.text
    cached = await client.get("/")
    assert 'href="/account"' in cached.text and "登录成功" not in cached.text
    uncached.cookies.update(client.cookies)
    assert _neutral((await uncached.get("/")).text) == _neutral(cached.text)


async def test_a_query_string_bypasses_the_cache(client: PageClient) -> None:
    await client.get("/signin")
    page = await client.get("/signin?next=/account/passkeys")
    assert 'value="/account/passkeys"' in page.text


async def test_a_department_change_shows_on_the_cached_home_page(
    client: PageClient, redis: object
) -> None:
    await client.get("/")
    await Department.insert(Department(code="test-cache", name_zh="缓存测试局", name_en="Cache"))
    try:
        await catalogue_changed(redis)  # type: ignore[arg-type]
        CACHE.clear_local()  # this process's copy too: the test app is another "process"
        assert "缓存测试局" in (await client.get("/")).text
    finally:
        await Department.delete().where(Department.code == "test-cache")
        await catalogue_changed(redis)  # type: ignore[arg-type]


async def test_the_least_recently_served_page_makes_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_cache_module, "MAX_ENTRIES", 3)
    app = create_app()
    cache = app.app.state.page_cache  # the Litestar app inside RequestContextMiddleware
    paths = ["/services/food-business-licence", "/services/drainage-permit", "/offline"]
    async with PageClient(app=app, base_url="http://tongban.local") as client:
        for path in paths:
            assert (await client.get(path)).status_code == 200
        await client.get(paths[0])  # served again: now the most recent
        await client.get("/signin")  # a fourth page: the least recently served one goes
    cached_paths = [key[1] for key in cache._pages]
    assert cached_paths == ["/offline", paths[0], "/signin"]
