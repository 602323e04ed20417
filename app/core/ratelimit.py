"""A fixed-window counter in Redis, for endpoints that cost us something per call."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.core.crypto import keyed_hash


async def allow(redis: Redis, bucket: str, who: str, limit: int, window: int = 60) -> bool:
    """Count one call of ``who`` (an IP, an account) in ``bucket``; False once over ``limit``
    calls in the current ``window`` seconds. ``who`` is stored only as a keyed hash."""
    slot = int(time.time() // window)
    key = f"tongban:rate:{bucket}:{keyed_hash('core.ratelimit', who)[:32]}:{slot}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window * 2)
        count, _ = await pipe.execute()
    return int(count) <= limit
