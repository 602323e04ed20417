"""Using up a rate limit in a test without a loop of calls, and without the window turning over
mid-test handing the allowance back."""

from __future__ import annotations

import time
from typing import Any

from app.core.ratelimit import _key


async def use_up(redis: Any, bucket: str, who: str, limit: int, window: int = 3600) -> None:
    """Set ``who``'s count in ``bucket`` to ``limit`` in this window and the next."""
    now = time.time()
    for at in (now, now + window):
        await redis.set(_key(bucket, who, window, at), limit, ex=3 * window)
