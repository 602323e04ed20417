"""Fixed-window counters in Redis, for calls that cost us something or guess at a secret.

``who`` (an IP, an account, a phone) is stored only as a keyed hash.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.core.crypto import keyed_hash


def _key(bucket: str, who: str, window: int, at: float | None = None) -> str:
    slot = int((time.time() if at is None else at) // window)
    return f"tongban:rate:{bucket}:{keyed_hash('core.ratelimit', who)[:32]}:{slot}"


async def add_hit(redis: Redis, bucket: str, who: str, window: int = 60) -> int:
    """Count one call of ``who`` in ``bucket``; return the count in the current window."""
    key = _key(bucket, who, window)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window * 2)
        count, _ = await pipe.execute()
    return int(count)


async def hits(redis: Redis, bucket: str, who: str, window: int = 60) -> int:
    """The calls of ``who`` counted in ``bucket`` in the current window, without counting one."""
    value = await redis.get(_key(bucket, who, window))
    return int(value or 0)


async def allow(redis: Redis, bucket: str, who: str, limit: int, window: int = 60) -> bool:
    """Count one call; False once ``who`` is over ``limit`` calls in the current window."""
    return await add_hit(redis, bucket, who, window) <= limit
