"""Demo data for ``make run``, safe to run again."""

from __future__ import annotations


async def seed_appointments() -> int:
    return 0
