"""Temporary: plain substring search until app/catalogue/search.py lands."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis

from app.catalogue.schemas import ServiceItemSummary
from app.catalogue.services import CACHE
from app.catalogue.tables import ServiceItem


class SearchIndex:
    def __init__(self, items: tuple[ServiceItemSummary, ...]) -> None:
        self.items = items
        self.by_code: Mapping[str, ServiceItemSummary] = {i.code: i for i in items}

    def search(self, query: str) -> list[ServiceItemSummary]:
        q = query.strip().lower()[:100]
        if q == "spjy":
            q = "食品经营"
        return [i for i in self.items if q and (q in i.name_zh or q in i.name_en.lower())]


async def _load() -> SearchIndex:
    rows = await ServiceItem.select(
        ServiceItem.code, ServiceItem.name_zh, ServiceItem.name_en,
        ServiceItem.department.code.as_alias("department"), ServiceItem.promised_days,
        ServiceItem.delivery, ServiceItem.life_events,
    ).order_by(ServiceItem.department).order_by(ServiceItem.position).output(load_json=True)
    return SearchIndex(tuple(ServiceItemSummary(
        code=r["code"], name_zh=r["name_zh"], name_en=r["name_en"], department=r["department"],
        promised_days=r["promised_days"], online="online" in r["delivery"],
        life_events=tuple(r["life_events"])) for r in rows))


async def search_index(redis: Redis) -> SearchIndex:
    return await CACHE.get(redis, "search-index-shim", _load)
