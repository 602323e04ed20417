"""Catalogue reads for pages, served from the ``catalogue`` cache (app/core/cache.py).

Every change to departments (and later to service items) must call ``catalogue_changed``
after it has committed, so that every web process reloads.
"""

from __future__ import annotations

from redis.asyncio import Redis

from app.catalogue.conditions import parse
from app.catalogue.schemas import (
    Acceptance,
    BundleDetail,
    DepartmentSummary,
    GuideOption,
    GuideQuestionSpec,
    LifeEventSummary,
    MaterialSpec,
    ServiceItemDetail,
)
from app.catalogue.tables import (
    Bundle,
    Department,
    GuideQuestion,
    LifeEvent,
    Material,
    ServiceItem,
)
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


async def _load_life_events() -> tuple[LifeEventSummary, ...]:
    rows = await LifeEvent.select(LifeEvent.code, LifeEvent.name_zh, LifeEvent.name_en).order_by(
        LifeEvent.position
    )
    return tuple(LifeEventSummary(**row) for row in rows)


async def list_life_events(redis: Redis) -> tuple[LifeEventSummary, ...]:
    """Every life event, in browse order."""
    return await CACHE.get(redis, "life-events", _load_life_events)


async def _load_bundles() -> tuple[BundleDetail, ...]:
    rows = await (
        Bundle.select(
            Bundle.code,
            Bundle.name_zh,
            Bundle.name_en,
            Bundle.description_zh,
            Bundle.description_en,
            Bundle.items,
            Bundle.shared_materials,
            Bundle.life_events,
        )
        .order_by(Bundle.position)
        .output(load_json=True)
    )
    return tuple(
        BundleDetail(
            **{
                **row,
                "items": tuple(row["items"]),
                "shared_materials": tuple(row["shared_materials"]),
                "life_events": tuple(row["life_events"]),
            }
        )
        for row in rows
    )


async def list_bundles(redis: Redis) -> tuple[BundleDetail, ...]:
    """Every bundle (一件事), in browse order."""
    return await CACHE.get(redis, "bundles", _load_bundles)


async def get_bundle(redis: Redis, code: str) -> BundleDetail | None:
    return next((bundle for bundle in await list_bundles(redis) if bundle.code == code), None)


async def _load_item_codes() -> frozenset[str]:
    return frozenset(row["code"] for row in await ServiceItem.select(ServiceItem.code))


async def get_item(redis: Redis, code: str) -> ServiceItemDetail | None:
    """One item from the cache. Codes are checked against the cached set of codes first, so
    requests for codes that do not exist neither reach the database nor fill the cache."""
    if code not in await CACHE.get(redis, "item-codes", _load_item_codes):
        return None

    async def load() -> ServiceItemDetail | None:
        return await read_item(code)

    return await CACHE.get(redis, "item:" + code, load)


async def read_item(code: str) -> ServiceItemDetail | None:
    """One item with its questions and materials, straight from the database (three queries).

    Conditions were checked when they were written; they are parsed again here, against the
    item's own questions, so a row edited by hand into nonsense fails loudly, not silently.
    """
    row = await (
        ServiceItem.select(*ServiceItem.all_columns(), ServiceItem.department.code.as_alias("dept"))
        .where(ServiceItem.code == code)
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    questions = tuple(
        GuideQuestionSpec(
            code=q["code"],
            text_zh=q["text_zh"],
            text_en=q["text_en"],
            multiple=q["multiple"],
            options=tuple(GuideOption(o["code"], o["zh"], o["en"]) for o in q["options"]),
        )
        for q in await GuideQuestion.select()
        .where(GuideQuestion.item == row["id"])
        .order_by(GuideQuestion.position)
        .output(load_json=True)
    )
    options = {q.code: frozenset(o.code for o in q.options) for q in questions}
    materials = tuple(
        MaterialSpec(
            code=m["code"],
            name_zh=m["name_zh"],
            name_en=m["name_en"],
            kind=m["kind"],
            note_zh=m["note_zh"],
            note_en=m["note_en"],
            licence_type=m["licence_type"],
            required=m["required"],
            tolerable=m["tolerable"],
            pledgeable=m["pledgeable"],
            deferrable=m["deferrable"],
            condition=None if m["condition"] is None else parse(m["condition"], options),
        )
        for m in await Material.select()
        .where(Material.item == row["id"])
        .order_by(Material.position)
        .output(load_json=True)
    )
    return ServiceItemDetail(
        code=row["code"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        department=row["dept"],
        description_zh=row["description_zh"],
        description_en=row["description_en"],
        fee_zh=row["fee_zh"],
        fee_en=row["fee_en"],
        legal_days=row["legal_days"],
        promised_days=row["promised_days"],
        approval_levels=row["approval_levels"],
        counter_visit=row["counter_visit"],
        delivery=tuple(row["delivery"]),
        min_assurance=row["min_assurance"],
        acceptance=Acceptance(
            tolerated=row["allows_tolerated"],
            pledge=row["allows_pledge"],
            pledge_text_zh=row["pledge_text_zh"],
            pledge_text_en=row["pledge_text_en"],
            deferral_max_days=row["deferral_max_days"],
        ),
        life_events=tuple(row["life_events"]),
        questions=questions,
        materials=materials,
        result_licence=row["result_licence"],
    )


async def catalogue_changed(redis: Redis) -> None:
    """Call after committing any change to departments or service items."""
    await CACHE.invalidate(redis)
