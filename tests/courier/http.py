"""People signed in over HTTP for the courier tests: a courier and a floor manager in passkey
sessions, citizens by SMS; pages read in English, chosen as a person would."""

from __future__ import annotations

from tests.conftest import PageClient, csrf_from


async def token(client: PageClient, path: str = "/") -> str:
    return csrf_from(await client.get(path))
