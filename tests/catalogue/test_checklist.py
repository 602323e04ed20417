"""The personal checklist: which materials apply to these answers, and how each is provided."""

from __future__ import annotations

from app.catalogue.checklist import build_checklist
from app.catalogue.conditions import normalise_answers, parse
from app.catalogue.datafile import load
from app.catalogue.schemas import Acceptance, Mark, MaterialSpec, ServiceItemDetail
from app.catalogue.services import read_item

SUPERMARKET = normalise_answers(
    {
        "business_type": "supermarket",
        "scale": "large",
        "sales_mode": ["wholesale", "retail"],
        "on_site_preparation": "yes",
        "special_food": "no",
    }
)
# What app/catalogue/data/catalogue.toml asks of a large supermarket that sells wholesale and
# retail and prepares food on site (Jing'an's smart-guide story).
SUPERMARKET_MATERIALS = [
    "application_form",
    "business_licence",
    "id_card",
    "premises_proof",
    "layout_and_equipment",
    "safety_rules",
    "safety_manager",
    "preparation_process",
    "wholesale_records",
]


def material(code: str = "m", **fields: object) -> MaterialSpec:
    defaults: dict[str, object] = {"name_zh": "材料", "name_en": "Material", "kind": "upload"}
    return MaterialSpec(code=code, **{**defaults, **fields})  # type: ignore[arg-type]


def food_licence() -> ServiceItemDetail:
    return next(item for item in load().items if item.code == "food-business-licence")


def test_the_supermarket_scenario_yields_exactly_the_materials_of_the_data_file() -> None:
    item = food_licence()
    checklist = build_checklist(item.materials, item.acceptance, SUPERMARKET)
    assert [entry.material.code for entry in checklist] == SUPERMARKET_MATERIALS


async def test_the_supermarket_scenario_is_the_same_from_the_database() -> None:
    item = await read_item("food-business-licence")
    assert item is not None
    assert item == food_licence()
    checklist = build_checklist(item.materials, item.acceptance, SUPERMARKET)
    assert [entry.material.code for entry in checklist] == SUPERMARKET_MATERIALS


def test_a_small_restaurant_needs_the_kitchen_but_not_the_wholesale_rules() -> None:
    item = food_licence()
    answers = normalise_answers(
        {
            "business_type": "restaurant",
            "scale": "small",
            "sales_mode": ["wholesale"],
            "on_site_preparation": "yes",
            "special_food": "no",
        }
    )
    codes = {e.material.code for e in build_checklist(item.materials, item.acceptance, answers)}
    assert "kitchen_ventilation" in codes
    assert "safety_manager" in codes
    assert "wholesale_records" not in codes
    assert "special_food_counter" not in codes


def test_a_held_licence_is_marked_exempt_and_nothing_else() -> None:
    item = food_licence()
    checklist = build_checklist(
        item.materials, item.acceptance, SUPERMARKET, held_licence_types={"business_licence"}
    )
    marks = {entry.material.code: entry for entry in checklist}
    assert marks["business_licence"].mark is Mark.HELD  # 免于提交
    assert not marks["business_licence"].pledge_allowed
    assert marks["id_card"].mark is Mark.UPLOAD  # a licence not held is uploaded as a scan


def test_pledge_tolerance_and_later_need_both_the_item_and_the_material() -> None:
    materials = [
        material("pledgeable", pledgeable=True),
        material("tolerable", tolerable=True),
        material("deferrable", deferrable=True),
        material("plain"),
    ]
    allowing = Acceptance(
        tolerated=True,
        pledge=True,
        pledge_text_zh="承诺",
        pledge_text_en="I pledge",
        deferral_max_days=90,
    )
    entries = {e.material.code: e for e in build_checklist(materials, allowing, {})}
    assert entries["pledgeable"].pledge_allowed
    assert entries["tolerable"].tolerable
    assert entries["deferrable"].later_within_days == 90
    plain = entries["plain"]
    assert (plain.pledge_allowed, plain.tolerable, plain.later_within_days) == (False, False, None)

    refusing = {e.material.code: e for e in build_checklist(materials, Acceptance(), {})}
    assert not refusing["pledgeable"].pledge_allowed
    assert not refusing["tolerable"].tolerable
    assert refusing["deferrable"].later_within_days is None


def test_an_original_is_brought_or_sent() -> None:
    entries = build_checklist([material(kind="original")], Acceptance(), {})
    assert entries[0].mark is Mark.ORIGINAL


def test_materials_whose_condition_fails_are_left_out_in_order() -> None:
    condition = parse({"answer": "q", "is": "yes"})
    materials = [material("a"), material("b", condition=condition), material("c")]
    codes = [e.material.code for e in build_checklist(materials, Acceptance(), {})]
    assert codes == ["a", "c"]
    answered = build_checklist(materials, Acceptance(), normalise_answers({"q": "yes"}))
    assert [e.material.code for e in answered] == ["a", "b", "c"]


def test_the_pledge_construction_permit_offers_pledges_for_on_site_facts() -> None:
    item = next(i for i in load().items if i.code == "construction-permit-pledge")
    entries = {e.material.code: e for e in build_checklist(item.materials, item.acceptance, {})}
    assert entries["site_ready"].pledge_allowed
    assert entries["funds_proof"].pledge_allowed
    assert not entries["application_form"].pledge_allowed
