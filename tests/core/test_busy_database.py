"""A database too busy to take a write (SQLite's lock not granted within the busy timeout)
is a 503 that says to try again, on every route; any other database error stays a 500."""

from __future__ import annotations

import sqlite3

from litestar import get
from litestar.testing import AsyncTestClient

from app.asgi import create_app


@get("/test-only/locked")
async def locked() -> None:
    raise sqlite3.OperationalError("database is locked")


@get("/test-only/broken")
async def broken() -> None:
    raise sqlite3.OperationalError("no such table: nothing")


async def test_a_locked_database_asks_to_try_again_and_other_errors_stay_faults() -> None:
    application = create_app()
    application.app.register(locked)
    application.app.register(broken)
    async with AsyncTestClient(application) as client:
        page = await client.get("/test-only/locked")
        assert page.status_code == 503
        busy = "服务正忙，未做任何更改，请稍后再试。"
        assert busy in page.text
        api = await client.get("/test-only/locked", headers={"accept": "application/json"})
        assert api.status_code == 503 and api.json()["detail"] == busy
        assert (await client.get("/test-only/broken")).status_code == 500
