"""The catalogue of the data file, upserted by code by ``tongban seed``.

Running it again changes nothing; after the file was edited it updates the rows that differ,
adds the new ones and removes materials and questions the file no longer names (items,
departments and life events the file dropped are kept: accounts and, later, applications refer
to them). Whoever calls it outside ``tongban seed`` announces the change with
``services.catalogue_changed``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.table import Table

from app.catalogue.conditions import to_data
from app.catalogue.datafile import CatalogueData, load
from app.catalogue.schemas import ServiceItemDetail
from app.catalogue.tables import (
    Bundle,
    Department,
    GuideQuestion,
    LifeEvent,
    Material,
    ServiceItem,
)
from app.core.transactions import write_transaction


async def _upsert(
    table: type[Table], rows: list[dict[str, Any]], *, where: Any = None, prune: bool = False
) -> dict[str, int]:
    """Write rows keyed by ``code`` (within ``where``); return code -> id. Rows that are already
    equal are not written; with ``prune`` rows whose code is not given are deleted."""
    query = table.select().output(load_json=True)
    if where is not None:
        query = query.where(where)
    existing = {row["code"]: row for row in await query}
    ids: dict[str, int] = {}
    for row in rows:
        old = existing.get(row["code"])
        if old is None:
            inserted = await table.insert(table(**row)).returning(table._meta.primary_key)
            ids[row["code"]] = inserted[0]["id"]
            continue
        ids[row["code"]] = old["id"]
        changed: dict[Any, Any] = {
            key: value for key, value in row.items() if old.get(key) != value
        }
        if changed:
            if "updated_at" in old:
                changed["updated_at"] = datetime.now(UTC)
            await table.update(changed).where(table._meta.primary_key == old["id"])
    if prune:
        gone = [row["id"] for code, row in existing.items() if code not in ids]
        if gone:
            await table.delete().where(table._meta.primary_key.is_in(gone))
    return ids


def _item_row(item: ServiceItemDetail, department: int, position: int) -> dict[str, Any]:
    return {
        "code": item.code,
        "department": department,
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "description_zh": item.description_zh,
        "description_en": item.description_en,
        "fee_zh": item.fee_zh,
        "fee_en": item.fee_en,
        "legal_days": item.legal_days,
        "promised_days": item.promised_days,
        "approval_levels": item.approval_levels,
        "counter_visit": item.counter_visit,
        "delivery": list(item.delivery),
        "min_assurance": item.min_assurance,
        "allows_tolerated": item.acceptance.tolerated,
        "allows_pledge": item.acceptance.pledge,
        "pledge_text_zh": item.acceptance.pledge_text_zh,
        "pledge_text_en": item.acceptance.pledge_text_en,
        "deferral_max_days": item.acceptance.deferral_max_days,
        "result_licence": item.result_licence,
        "life_events": list(item.life_events),
        "position": position,
        "synthetic": False,
    }


async def _upsert_departments(data: CatalogueData) -> dict[str, int]:
    return await _upsert(
        Department,
        [{"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in data.departments],
    )


async def seed_departments(data: CatalogueData | None = None) -> int:
    """Upsert the departments of the data file; return how many were added."""
    data = data or load()
    before = await Department.count()
    async with write_transaction("catalogue"):
        await _upsert_departments(data)
    return await Department.count() - before


async def seed_catalogue(data: CatalogueData | None = None) -> int:
    """Upsert life events, items (with materials and questions) and bundles of the data file;
    return how many items were added. Departments come first (``seed_departments``)."""
    data = data or load()
    before = await ServiceItem.count().where(ServiceItem.synthetic == False)  # noqa: E712
    async with write_transaction("catalogue"):
        departments = await _upsert_departments(data)  # unchanged rows are not written
        await _upsert(
            LifeEvent,
            [
                {"code": e.code, "name_zh": e.name_zh, "name_en": e.name_en, "position": index}
                for index, e in enumerate(data.life_events)
            ],
        )
        items = await _upsert(
            ServiceItem,
            [
                _item_row(item, departments[item.department], index)
                for index, item in enumerate(data.items)
            ],
        )
        for item in data.items:
            item_id = items[item.code]
            await _upsert(
                Material,
                [
                    {
                        "item": item_id,
                        "code": m.code,
                        "position": index,
                        "name_zh": m.name_zh,
                        "name_en": m.name_en,
                        "note_zh": m.note_zh,
                        "note_en": m.note_en,
                        "kind": m.kind,
                        "licence_type": m.licence_type,
                        "required": m.required,
                        "tolerable": m.tolerable,
                        "pledgeable": m.pledgeable,
                        "deferrable": m.deferrable,
                        "condition": None if m.condition is None else to_data(m.condition),
                    }
                    for index, m in enumerate(item.materials)
                ],
                where=Material.item == item_id,
                prune=True,
            )
            await _upsert(
                GuideQuestion,
                [
                    {
                        "item": item_id,
                        "code": q.code,
                        "position": index,
                        "text_zh": q.text_zh,
                        "text_en": q.text_en,
                        "multiple": q.multiple,
                        "options": [{"code": o.code, "zh": o.zh, "en": o.en} for o in q.options],
                    }
                    for index, q in enumerate(item.questions)
                ],
                where=GuideQuestion.item == item_id,
                prune=True,
            )
        await _upsert(
            Bundle,
            [
                {
                    "code": b.code,
                    "name_zh": b.name_zh,
                    "name_en": b.name_en,
                    "description_zh": b.description_zh,
                    "description_en": b.description_en,
                    "items": list(b.items),
                    "shared_materials": list(b.shared_materials),
                    "life_events": list(b.life_events),
                    "position": index,
                }
                for index, b in enumerate(data.bundles)
            ],
        )
    after = await ServiceItem.count().where(ServiceItem.synthetic == False)  # noqa: E712
    return after - before
