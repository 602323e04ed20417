"""The catalogue data file: it loads, it is big enough and honest to the shared codes, every
condition is valid, bad files are refused with a clear message, and reseeding changes nothing."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from app.catalogue.datafile import DATA_FILE, LICENCE_TYPES, CatalogueFileError, check, load
from app.catalogue.generate import generate
from app.catalogue.seed import seed_catalogue, seed_departments
from app.catalogue.tables import (
    Bundle,
    Department,
    GuideQuestion,
    LifeEvent,
    Material,
    MaterialKind,
    ServiceItem,
)
from app.licences.seed import LICENCE_TYPES as LIBRARY_TYPES

REQUIRED_ITEMS = {
    "food-business-licence",
    "company-establishment",
    "seal-engraving",
    "tax-invoice-first-issue",
    "company-deregistration-newspaper",
    "company-deregistration-online",
    "branch-deregistration",
    "company-change-legal-representative",
    "partnership-change-appointed-representative",
    "exit-entry-record-inquiry",
    "ride-hailing-driver-precheck",
    "residence-permit-application",
    "medical-record-book-application",
    "medical-record-book-replacement",
    "drainage-permit",
    "medical-institution-internet-diagnosis",
    "foreign-work-permit-extension",
    "construction-permit-pledge",
}


def raw() -> dict[str, Any]:
    return tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))


def test_the_data_file_is_a_full_catalogue() -> None:
    data = load()
    assert len(data.items) >= 40
    assert len({item.department for item in data.items}) >= 8
    assert len(data.bundles) >= 3
    assert {item.code for item in data.items} >= REQUIRED_ITEMS
    assert {"open-restaurant", "open-company", "open-supermarket"} <= {b.code for b in data.bundles}


def test_every_licence_material_names_a_shared_licence_type() -> None:
    assert {t["code"] for t in LIBRARY_TYPES} == LICENCE_TYPES
    for item in load().items:
        for material in item.materials:
            if material.kind == MaterialKind.LICENCE:
                assert material.licence_type in LICENCE_TYPES, (item.code, material.code)


def test_every_condition_in_the_file_is_valid() -> None:
    # load() parses each condition against its item's questions; count them so that a file
    # without conditions could not pass this test by accident.
    with_conditions = [m for item in load().items for m in item.materials if m.condition]
    assert len(with_conditions) >= 10


def test_the_food_licence_guide_covers_supermarket_restaurant_and_convenience_store() -> None:
    item = next(i for i in load().items if i.code == "food-business-licence")
    questions = {q.code: {o.code for o in q.options} for q in item.questions}
    assert {"supermarket", "restaurant", "convenience"} <= questions["business_type"]
    assert {"wholesale", "retail"} <= questions["sales_mode"]
    assert {"scale", "on_site_preparation"} <= questions.keys()


def mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw())
    change(data)
    return data


def food(data: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in data["items"] if i["code"] == "food-business-licence")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: food(d)["materials"][-1].update(condition={"answer": "scale", "is": "huge"}),
            "has no option ['huge']",
        ),
        (
            lambda d: food(d)["materials"][-1].update(condition="scale == 'large'"),
            "Expected `object | null`",
        ),
        (
            lambda d: food(d)["materials"][1].update(licence_type="passport"),
            "unknown licence type 'passport'",
        ),
        (lambda d: food(d).update(department="nowhere"), "no department 'nowhere'"),
        (lambda d: food(d).update(promised_days=99), "promised days"),
        (lambda d: food(d).update(approval_levels=4), "approval levels"),
        (lambda d: food(d).update(delivery=["teleport"]), "Invalid enum value 'teleport'"),
        (lambda d: food(d).update(colour="red"), "unknown field `colour`"),
        (lambda d: d["items"].append(copy.deepcopy(d["items"][0])), "appears twice"),
        (lambda d: d["bundles"][0]["items"].append("nothing-here"), "no items ['nothing-here']"),
        (
            lambda d: d["bundles"][0]["shared_materials"].append("grease_trap"),
            "is not asked for by two items",
        ),
        (lambda d: food(d).update(pledge_text_en=""), "a pledge needs its text"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(change: Any, message: str) -> None:
    with pytest.raises(CatalogueFileError) as raised:
        check(mutated(change))
    assert message in str(raised.value)


async def counts() -> tuple[int, ...]:
    return (
        await Department.count(),
        await LifeEvent.count(),
        await ServiceItem.count(),
        await Material.count(),
        await GuideQuestion.count(),
        await Bundle.count(),
    )


async def test_the_seeded_catalogue_matches_the_file() -> None:
    data = load()
    real = await ServiceItem.count().where(ServiceItem.synthetic == False)  # noqa: E712
    assert real == len(data.items)
    assert await Bundle.count() == len(data.bundles)


async def test_reseeding_changes_nothing_and_edits_are_upserted() -> None:
    before = await counts()
    snapshot = await Material.select().order_by(Material.id)
    assert await seed_departments() == 0
    assert await seed_catalogue() == 0
    assert await counts() == before
    assert await Material.select().order_by(Material.id) == snapshot

    # An edited file updates the rows in place and drops the material it no longer names.
    edited = mutated(
        lambda d: (
            food(d).update(name_zh="食品经营许可证核发（改）"),
            food(d)["materials"].pop(),
        )
    )
    food_row = ServiceItem.select(
        ServiceItem.id, ServiceItem.name_zh, ServiceItem.updated_at
    ).where(ServiceItem.code == "food-business-licence")
    untouched = await food_row.first()
    assert untouched is not None
    try:
        await seed_catalogue(check(edited))
        row = await food_row.first()
        assert row is not None and row["name_zh"] == "食品经营许可证核发（改）"
        assert row["id"] == untouched["id"]  # updated in place
        assert row["updated_at"] > untouched["updated_at"]
        codes = await Material.select(Material.code).where(Material.item == row["id"])
        assert "special_food_counter" not in {c["code"] for c in codes}
    finally:
        await seed_catalogue()
    assert await counts() == before


async def test_generate_makes_a_large_deterministic_catalogue_beside_the_real_one() -> None:
    real_before = await ServiceItem.count().where(ServiceItem.synthetic == False)  # noqa: E712
    try:
        assert await generate(1093) == 1093
        first = (
            await ServiceItem.select(ServiceItem.code, ServiceItem.name_zh)
            .where(
                ServiceItem.synthetic == True  # noqa: E712
            )
            .order_by(ServiceItem.code)
        )
        assert len(first) == 1093
        assert len({row["name_zh"] for row in first}) == 1093
        assert await generate(1093) == 1093  # replaces, does not add
        again = (
            await ServiceItem.select(ServiceItem.code, ServiceItem.name_zh)
            .where(
                ServiceItem.synthetic == True  # noqa: E712
            )
            .order_by(ServiceItem.code)
        )
        assert again == first
        assert await ServiceItem.count().where(ServiceItem.synthetic == False) == real_before  # noqa: E712
    finally:
        await generate(0)
    assert await ServiceItem.count().where(ServiceItem.synthetic == True) == 0  # noqa: E712
