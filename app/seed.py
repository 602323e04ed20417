"""Demo data for ``make run``: every seeder inserts only what is missing."""

from __future__ import annotations

from app.catalogue.seed import seed_departments


async def seed_all() -> dict[str, int]:
    return {"departments": await seed_departments()}
