"""The guide's plain functions: reading answers from a query, carrying them, and a bundle's
checklist with its shared materials handed in once."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from app.catalogue import guide as guides
from app.catalogue.datafile import load
from app.catalogue.schemas import Mark
from tests.catalogue.test_checklist import SUPERMARKET_MATERIALS

DATA = load()
ITEMS = {item.code: item for item in DATA.items}
BUNDLES = {bundle.code: bundle for bundle in DATA.bundles}
SUPERMARKET_QUERY = {
    "business_type": ["supermarket"],
    "scale": ["large"],
    "sales_mode": ["wholesale", "retail"],
    "on_site_preparation": ["yes"],
    "special_food": ["no"],
}


def item_guide(code: str = "food-business-licence") -> guides.Guide:
    return guides.Guide.of(code, (ITEMS[code],))


def bundle_guide(code: str) -> guides.Guide:
    bundle = BUNDLES[code]
    return guides.Guide.of(code, tuple(ITEMS[c] for c in bundle.items), bundle)


def test_an_items_steps_are_its_questions_in_order() -> None:
    guide = item_guide()
    assert [step.key for step in guide.steps] == [
        "business_type",
        "scale",
        "sales_mode",
        "on_site_preparation",
        "special_food",
    ]


def test_a_bundles_steps_are_keyed_by_item_so_two_items_never_share_an_answer() -> None:
    guide = bundle_guide("open-supermarket")
    keys = [step.key for step in guide.steps]
    assert "food-business-licence.business_type" in keys
    assert len(keys) == len(set(keys))
    assert all(step.key.startswith(step.item.code + ".") for step in guide.steps)


def test_answers_read_from_a_query_lead_to_the_supermarket_checklist() -> None:
    guide = item_guide()
    answers = guides.read_answers(guide, {**SUPERMARKET_QUERY, "show": ["2"], "junk": ["x"]})
    assert set(answers) == set(SUPERMARKET_QUERY)  # steering and unknown parameters ignored
    checklist = guides.checklist(guide, answers)
    assert [e.material.code for e in checklist.entries] == SUPERMARKET_MATERIALS
    assert checklist.shared == ()


def test_an_answer_that_is_not_an_option_is_refused_naming_the_question() -> None:
    guide = item_guide()
    with pytest.raises(guides.AnswerError) as refused:
        guides.read_answers(guide, {"business_type": ["casino"]})
    assert refused.value.step.key == "business_type"


def test_two_answers_to_a_one_choice_question_are_refused_but_many_to_a_multiple_one_are_not() -> (
    None
):
    guide = item_guide()
    with pytest.raises(guides.AnswerError):
        guides.read_answers(guide, {"scale": ["large", "small"]})
    answers = guides.read_answers(guide, {"sales_mode": ["wholesale", "retail", "retail"]})
    assert answers == {"sales_mode": frozenset({"wholesale", "retail"})}


def test_empty_values_count_as_unanswered() -> None:
    assert guides.read_answers(item_guide(), {"scale": [""]}) == {}


def test_the_query_carries_answers_both_ways() -> None:
    guide = item_guide()
    answers = guides.read_answers(guide, SUPERMARKET_QUERY)
    carried = guides.query(answers, show=3)
    parsed = parse_qs(carried)
    assert parsed.pop("show") == ["3"]
    assert guides.read_answers(guide, parsed) == answers
    assert guides.query(answers) == guides.query(dict(reversed(list(answers.items()))))


def test_a_bundle_hands_in_shared_materials_once_and_answers_reach_their_own_item() -> None:
    guide = bundle_guide("open-supermarket")
    answers = {
        f"food-business-licence.{key}": frozenset(values)
        for key, values in SUPERMARKET_QUERY.items()
    }
    checklist = guides.checklist(guide, answers, held=frozenset({"id_card"}))
    shared = [entry.material.code for entry in checklist.shared]
    assert set(shared) <= set(BUNDLES["open-supermarket"].shared_materials)
    assert "id_card" in shared
    codes_per_item = {s.item.code: [e.material.code for e in s.entries] for s in checklist.sections}
    for codes in codes_per_item.values():
        assert not set(codes) & set(shared)
    food = codes_per_item["food-business-licence"]
    assert food == [c for c in SUPERMARKET_MATERIALS if c not in shared]
    held = {e.material.code: e.mark for e in checklist.shared}
    assert held["id_card"] is Mark.HELD


def test_an_item_without_answers_gets_only_unconditional_materials() -> None:
    guide = item_guide()
    entries = guides.checklist(guide, {}).entries
    conditional = {m.code for m in ITEMS["food-business-licence"].materials if m.condition}
    assert entries
    assert not {e.material.code for e in entries} & conditional
