"""In-process caches for data that rarely changes, kept coherent across replicas through Redis.

Each domain that wants one keeps a module-level ``VersionedCache`` named after itself
(``catalogue``: departments, later the service catalogue). A read is served from this
process's memory while the domain's version in Redis — the key
``tongban:cache:version:<name>`` — is unchanged; it is looked up at most once per
``check_every`` seconds per process (one GET), so a page view usually costs no Redis call.

Whoever changes the data calls ``invalidate`` **after the change has committed**: it writes a
new random version (a fresh token rather than INCR, so that a Redis restart that loses the key
cannot make an old version current again) and empties this process's entries at once. Every
other process notices within ``check_every`` seconds and reloads. Changes made around the app
(``tongban seed``, SQL by hand) are not announced; ``max_age`` bounds how long any entry is
served, so they show within that time.

When Redis cannot be reached the cache keeps serving what it has (up to ``max_age``) and
retries the version check later; a missing entry is loaded from the database. A page that
needs only cached data keeps working through a Redis outage.

Values are shared by every request of the process: loaders should return immutable data
(tuples, frozen structs) and callers must not change what they get.

    CATALOGUE = VersionedCache("catalogue")
    departments = await CATALOGUE.get(redis, "departments", load_departments)
    ...  # after a department was added, renamed or removed, and committed:
    await CATALOGUE.invalidate(redis)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.logging import get_logger

T = TypeVar("T")
KEY_PREFIX = "tongban:cache:version:"
log = get_logger("cache")


@dataclass(slots=True)
class _Entry:
    value: Any
    loaded_at: float


class VersionedCache:
    def __init__(self, name: str, *, check_every: float = 1.0, max_age: float = 300.0) -> None:
        self.name = name
        self.key = KEY_PREFIX + name
        self.check_every = check_every
        self.max_age = max_age
        self._entries: dict[str, _Entry] = {}
        self._version: bytes | None = None
        self._next_check = 0.0

    async def get(self, redis: Redis, key: str, loader: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key``, loaded with ``loader`` when missing, expired or
        invalidated by any process."""
        await self._check_version(redis)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry.loaded_at < self.max_age:
            value: T = entry.value
            return value
        version = self._version
        value = await loader()
        if self._version == version:  # not invalidated while we were loading
            self._entries[key] = _Entry(value, now)
        return value

    async def invalidate(self, redis: Redis) -> None:
        """Announce a committed change: every process reloads within ``check_every`` s."""
        self._entries.clear()
        version = secrets.token_hex(8).encode()
        try:
            await redis.set(self.key, version)
        except RedisError as exc:
            # Other processes keep their entries until max_age; this one reloads now.
            log.warning("cache_invalidate_failure", cache=self.name, error=type(exc).__name__)
            self._version = None
            self._next_check = 0.0
            return
        self._version = version
        self._next_check = time.monotonic() + self.check_every

    def clear_local(self) -> None:
        """Forget this process's entries without telling others (tests, shutdown)."""
        self._entries.clear()
        self._version = None
        self._next_check = 0.0

    async def _check_version(self, redis: Redis) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        # Set before awaiting, so that concurrent requests do not all ask Redis at once.
        self._next_check = now + self.check_every
        try:
            current = await redis.get(self.key)
        except RedisError as exc:
            log.warning("cache_check_failure", cache=self.name, error=type(exc).__name__)
            return
        version = current or b"-"  # never announced: any version differs from it
        if version != self._version:
            self._entries.clear()
            self._version = version
