"""The dev inbox at /dev/sms: what the console provider sent, in development only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from app.asgi import create_app
from app.config import Settings
from app.notifications.providers import ConsoleProvider
from app.notifications.services import deliver
from tests.conftest import PageClient
from tests.notifications.conftest import new_sms_code

FIRST, SECOND = "+8613800000101", "+8613800000102"


@pytest.fixture(scope="module")
async def two_messages() -> list[int]:
    ids = [
        await new_sms_code(code="111111", phone=FIRST),
        await new_sms_code(code="222222", phone=SECOND, locale="en"),
    ]
    for notification_id in ids:
        await deliver(notification_id, ConsoleProvider())
    return ids


async def test_the_inbox_page_lists_messages_newest_first(
    client: PageClient, two_messages: list[int]
) -> None:
    page = await client.get("/dev/sms")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "<title>短信开发收件箱" in text
    assert "【通办】验证码 111111，5 分钟内有效。请勿告诉他人。" in text
    assert "[Tongban] Your code is 222222" in text
    assert text.index(SECOND) < text.index(FIRST)
    assert 'href="/dev/sms"' in text  # refresh without JavaScript


async def test_the_inbox_page_speaks_english_too(
    client: PageClient, two_messages: list[int]
) -> None:
    page = await client.get("/dev/sms", headers={"Accept-Language": "en"})
    assert "<title>SMS dev inbox" in page.text


async def test_htmx_polling_gets_only_the_list(client: PageClient, two_messages: list[int]) -> None:
    fragment = await client.get("/dev/sms", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="dev-sms-list"')
    assert "<html" not in fragment.text
    assert "111111" in fragment.text


async def test_the_inbox_as_json_newest_first(client: PageClient, two_messages: list[int]) -> None:
    response = await client.get("/dev/sms.json")
    assert response.status_code == 200
    messages = response.json()
    ours = [m for m in messages if m["notification_id"] in two_messages]
    assert [m["to"] for m in ours] == [SECOND, FIRST]
    assert ours[1]["body"] == "【通办】验证码 111111，5 分钟内有效。请勿告诉他人。"
    assert set(ours[0]) == {"to", "body", "created_at", "notification_id"}
    stamps = [datetime.fromisoformat(m["created_at"]) for m in messages]
    assert stamps == sorted(stamps, reverse=True)
    assert all(stamp.tzinfo is not None for stamp in stamps)


async def test_the_json_inbox_filters_by_recipient(
    client: PageClient, two_messages: list[int]
) -> None:
    response = await client.get("/dev/sms.json", params={"to": FIRST})
    assert [m["to"] for m in response.json()] == [FIRST]
    typed = await client.get(f"/dev/sms.json?to={FIRST}")  # "+" unencoded, as typed by hand
    assert [m["to"] for m in typed.json()] == [FIRST]


@pytest.fixture
async def prod_client(settings: Settings) -> AsyncIterator[PageClient]:
    prod = dataclasses.replace(
        settings,
        environment="prod",
        public_url="https://tongban.example",
        sms_provider="http",
        sms_http_url="https://sms.example/send",
        sms_http_secret="s" * 32,
    )
    async with PageClient(app=create_app(prod), base_url="https://tongban.example") as client:
        yield client


@pytest.mark.parametrize("path", ["/dev/sms", "/dev/sms.json"])
async def test_in_production_the_inbox_does_not_exist(
    prod_client: PageClient, two_messages: list[int], path: str
) -> None:
    response = await prod_client.get(path)
    assert response.status_code == 404
    assert "111111" not in response.text


@pytest.mark.parametrize("path", ["/dev/sms", "/dev/sms.json"])
async def test_the_inbox_is_never_stored_by_a_cache(client: PageClient, path: str) -> None:
    # It shows sign-in codes: no browser or proxy cache may keep a copy.
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
