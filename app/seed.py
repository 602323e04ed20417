"""Demo data for ``make run``: every seeder inserts only what is missing."""

from __future__ import annotations

from app.accounts.seed import seed_accounts
from app.catalogue.seed import seed_departments


async def seed_all() -> dict[str, int]:
    departments = await seed_departments()  # accounts refer to departments: first
    return {"departments": departments, "accounts": await seed_accounts()}
