"""The versioned in-process cache (app/core/cache.py): a change announced by one process is
seen by every other, and pages keep working when Redis cannot be reached."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from redis.asyncio import Redis

from app.catalogue.services import CACHE, catalogue_changed
from app.catalogue.tables import Department
from app.core.cache import VersionedCache
from app.core.redis import free_port, make_client
from tests.conftest import ServerProcess


class Source:
    """Stands in for the database: counts loads, returns the current value."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.loads = 0

    async def load(self) -> Any:
        self.loads += 1
        return self.value


async def test_a_value_is_loaded_once_and_then_served_from_memory(redis: Redis) -> None:
    cache = VersionedCache("test-once", check_every=0)
    source = Source(("a",))
    assert await cache.get(redis, "k", source.load) == ("a",)
    source.value = ("b",)
    assert await cache.get(redis, "k", source.load) == ("a",)  # nobody announced a change
    assert source.loads == 1


async def test_a_change_announced_by_one_process_is_seen_by_another(redis: Redis) -> None:
    # Two instances of one cache name stand for the same cache in two processes.
    name = "test-two-processes"
    here, there = VersionedCache(name, check_every=0), VersionedCache(name, check_every=0)
    source = Source(("old",))
    assert await here.get(redis, "k", source.load) == ("old",)
    assert await there.get(redis, "k", source.load) == ("old",)
    source.value = ("new",)
    await here.invalidate(redis)
    assert await there.get(redis, "k", source.load) == ("new",)
    assert await here.get(redis, "k", source.load) == ("new",)


async def test_a_version_lost_with_redis_counts_as_a_change(redis: Redis) -> None:
    cache = VersionedCache("test-lost", check_every=0)
    source = Source(1)
    await cache.invalidate(redis)
    await cache.get(redis, "k", source.load)
    await redis.delete(cache.key)  # e.g. Redis restarted without persistence
    source.value = 2
    assert await cache.get(redis, "k", source.load) == 2


async def test_entries_expire_after_max_age_even_without_an_announcement(redis: Redis) -> None:
    cache = VersionedCache("test-age", check_every=0, max_age=0)
    source = Source(1)
    await cache.get(redis, "k", source.load)
    source.value = 2
    assert await cache.get(redis, "k", source.load) == 2


async def test_without_redis_values_are_still_served() -> None:
    unreachable = make_client(f"redis://127.0.0.1:{free_port()}/0")
    cache = VersionedCache("test-no-redis", check_every=0)
    source = Source(("x",))
    try:
        assert await cache.get(unreachable, "k", source.load) == ("x",)
        await cache.invalidate(unreachable)  # logged, not raised: the change is committed
        assert await cache.get(unreachable, "k", source.load) == ("x",)
    finally:
        await unreachable.aclose()


async def test_a_new_department_shows_on_the_home_page_of_another_web_process(
    redis: Redis, live_server: ServerProcess
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as web:
        assert "市场监督管理局" in (await web.get("/")).text  # the server caches the list
        await Department.insert(
            Department(code="test-cache-dept", name_zh="测试缓存局", name_en="Cache Test Bureau")
        )
        try:
            await catalogue_changed(redis)
            deadline = time.monotonic() + 15
            while "测试缓存局" not in (await web.get("/")).text:
                assert time.monotonic() < deadline, "the other process never reloaded"
                await asyncio.sleep(0.2)
        finally:
            await Department.delete().where(Department.code == "test-cache-dept")
            await catalogue_changed(redis)
            CACHE.clear_local()
