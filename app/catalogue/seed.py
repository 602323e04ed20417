"""Demo departments, inserted idempotently by ``tongban seed``."""

from __future__ import annotations

from app.catalogue.tables import Department

DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("market-regulation", "市场监督管理局", "Administration for Market Regulation"),
    ("tax", "税务局", "Tax Service"),
    ("public-security", "公安局", "Public Security Bureau"),
    ("human-resources", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("housing", "住房和城乡建设管理委员会", "Housing and Urban-Rural Development Commission"),
)


async def seed_departments() -> int:
    """Insert the departments that are missing; return how many were added."""
    existing = {row["code"] for row in await Department.select(Department.code)}
    missing = [
        Department(code=code, name_zh=zh, name_en=en)
        for code, zh, en in DEPARTMENTS
        if code not in existing
    ]
    if missing:
        await Department.insert(*missing)
    return len(missing)
