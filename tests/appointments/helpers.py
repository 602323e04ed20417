"""Signed-in clients for the appointments HTTP tests."""

from __future__ import annotations

import re

from tests.conftest import PageClient, csrf_from


async def post_form(client: PageClient, page: str, action: str, **data: str) -> object:
    token = csrf_from(await client.get(page))
    return await client.post(action, data={"_csrf_token": token, **data}, follow_redirects=False)


def slot_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'name="slot" value="(\d+)"(?! disabled)', html)]
