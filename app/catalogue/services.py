"""Catalogue reads for pages, served from the ``catalogue`` cache (app/core/cache.py).

Every change to departments (and later to service items) must call ``catalogue_changed``
after it has committed, so that every web process reloads.
"""

from __future__ import annotations

from redis.asyncio import Redis

from app.catalogue.schemas import DepartmentSummary
from app.catalogue.tables import Department
from app.core.cache import VersionedCache

CACHE = VersionedCache("catalogue")


async def _load_departments() -> tuple[DepartmentSummary, ...]:
    rows = await Department.select(
        Department.code, Department.name_zh, Department.name_en
    ).order_by(Department._meta.primary_key)
    return tuple(DepartmentSummary(**row) for row in rows)


async def list_departments(redis: Redis) -> tuple[DepartmentSummary, ...]:
    """Every department, in the order they were added."""
    return await CACHE.get(redis, "departments", _load_departments)


async def catalogue_changed(redis: Redis) -> None:
    """Call after committing any change to departments or service items."""
    await CACHE.invalidate(redis)
