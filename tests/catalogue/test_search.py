"""Catalogue search: Chinese, full pinyin, initials, mixed and English queries, the ranking,
query normalisation, and the index kept current through the catalogue cache."""

from __future__ import annotations

from typing import Any

import pytest

from app.catalogue.schemas import ServiceItemSummary
from app.catalogue.search import MAX_QUERY, SearchIndex, load_summaries, normalise, search_index
from app.catalogue.services import catalogue_changed
from app.catalogue.tables import ServiceItem


def item(code: str, name_zh: str, name_en: str, department: str = "market") -> ServiceItemSummary:
    return ServiceItemSummary(code=code, name_zh=name_zh, name_en=name_en, department=department)


ITEMS = (
    item("food-safety-filing", "食品安全备案", "Food safety filing"),
    item("food-business-licence", "食品经营许可", "Food business licence"),
    item("food", "食品", "Food"),
    item("approval-education", "审批教育", "Approval of education"),
    item("drainage-permit", "排水许可证核发", "Drainage permit"),
    item("business-food", "商业餐饮登记", "Registration of catering business", "commerce"),
    item("icp-filing", "ICP备案", "Internet content provider filing", "telecom"),
)
INDEX = SearchIndex(ITEMS)


def codes(query: str, index: SearchIndex = INDEX) -> list[str]:
    return [found.code for found in index.search(query)]


def test_full_pinyin_finds_the_name_and_spaces_are_ignored() -> None:
    assert codes("shipinjingying") == ["food-business-licence"]
    assert codes("shi pin jing ying") == ["food-business-licence"]
    assert codes("paishui") == ["drainage-permit"]


def test_initials_find_the_name() -> None:
    assert codes("spjy") == ["food-business-licence", "approval-education"]  # 审批教育 too
    assert codes("psxkz") == ["drainage-permit"]


def test_upper_case_and_full_width_letters_are_the_same_query() -> None:
    assert codes("SPJY") == codes("ｓｐｊｙ") == codes("spjy")
    assert codes("SPJYXK") == ["food-business-licence"]


def test_mixed_chinese_and_pinyin_needs_the_characters_as_written() -> None:
    assert codes("食品jy") == ["food-business-licence"]
    assert codes("食品jingying") == ["food-business-licence"]
    # 审批教育 has the initials spjy too, but not the characters 食品.
    assert codes("审批jy") == ["approval-education"]


def test_chinese_substring() -> None:
    assert codes("许可") == ["food-business-licence", "drainage-permit"]
    assert codes("备案") == ["food-safety-filing", "icp-filing"]


def test_letters_inside_a_chinese_name_are_searchable() -> None:
    assert codes("icp") == ["icp-filing"]
    assert codes("icpba") == ["icp-filing"]


def test_english_substring_and_words_in_any_order() -> None:
    assert codes("business licence") == ["food-business-licence"]
    assert codes("licence business") == ["food-business-licence"]
    assert codes("catering business") == ["business-food"]
    assert codes("drainage") == ["drainage-permit"]


def test_exact_name_first_then_prefix_then_substring() -> None:
    assert codes("食品") == ["food", "food-safety-filing", "food-business-licence"]
    assert codes("food") == ["food", "food-safety-filing", "food-business-licence", "business-food"]
    assert codes("Food business licence")[0] == "food-business-licence"


def test_pinyin_ranks_below_chinese_and_ties_keep_catalogue_order() -> None:
    index = SearchIndex(
        (
            item("b", "审批教育", "B"),
            item("a", "食品经营", "A"),
            item("c", "经营食品", "C"),
        )
    )
    # Full pinyin prefix (a) before full pinyin inside the name (c).
    assert codes("shipin", index) == ["a", "c"]
    # Initials: both prefixes, catalogue order.
    assert codes("spjy", index) == ["b", "a"]


def test_codes_are_searchable() -> None:
    assert codes("icp-filing") == ["icp-filing"]


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "\u202e", "\t\n"])
def test_an_empty_query_finds_nothing(query: str) -> None:
    assert INDEX.search(query) == ()


def test_control_characters_are_removed_from_the_query() -> None:
    assert normalise(" S\x00P\u202eJ\tY ") == "spj y"
    assert codes("spjy\x00xk") == ["food-business-licence"]


def test_a_long_query_is_cut_not_refused() -> None:
    long = "食品" + "x" * 10_000
    assert len(normalise(long)) == MAX_QUERY
    assert INDEX.search(long) == ()
    assert codes("spjyxk" + " " * 10_000) == ["food-business-licence"]


def test_items_and_by_code_keep_catalogue_order() -> None:
    assert INDEX.items == ITEMS
    assert INDEX.by_code["icp-filing"] is ITEMS[-1]
    assert len(INDEX.by_code) == len(ITEMS)


async def test_load_summaries_reads_the_seeded_catalogue_in_order() -> None:
    summaries = await load_summaries()
    food = next(summary for summary in summaries if summary.code == "food-business-licence")
    assert food.name_zh == "食品经营许可证核发"
    assert food.department == "market-regulation"
    assert food.online
    departments = [summary.department for summary in summaries]
    # Each department's items come together.
    assert len(set(departments)) == sum(
        1 for i, d in enumerate(departments) if i == 0 or departments[i - 1] != d
    )


async def test_spjy_finds_the_food_business_licence_first(redis: Any) -> None:
    index = await search_index(redis)
    assert index.search("spjy")[0].code == "food-business-licence"
    assert index.search("食品经营许可证核发")[0].code == "food-business-licence"


async def test_a_renamed_item_is_found_under_its_new_name_after_catalogue_changed(
    redis: Any,
) -> None:
    before = await search_index(redis)
    assert not before.search("鲸鱼观光许可")
    await ServiceItem.update({ServiceItem.name_zh: "鲸鱼观光许可"}).where(
        ServiceItem.code == "drainage-permit"
    )
    try:
        await catalogue_changed(redis)
        after = await search_index(redis)
        assert after is not before
        assert after.search("jingyuguanguang")[0].code == "drainage-permit"
        assert [found.code for found in after.search("鲸鱼")] == ["drainage-permit"]
    finally:
        await ServiceItem.update(
            {ServiceItem.name_zh: "城镇污水排入排水管网许可证核发（排水许可证）"}
        ).where(ServiceItem.code == "drainage-permit")
        await catalogue_changed(redis)
    assert not (await search_index(redis)).search("鲸鱼")


def test_a_repeated_query_is_answered_from_memory_with_the_same_result() -> None:
    first = INDEX.search("spjy")
    again = INDEX.search(" SPJY ")  # the same once normalised
    assert again is first
    assert [item.code for item in first] == codes("spjy")
