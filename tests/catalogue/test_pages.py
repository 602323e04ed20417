"""Catalogue pages over HTTP: browse, search, every item and bundle, the guide walked without
JavaScript, the checklist (anonymous and signed in) and its PDF, and what bad input gets."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest

from app.catalogue.datafile import load
from app.catalogue.services import catalogue_changed
from app.catalogue.tables import ServiceItem
from app.core.i18n import LANG_COOKIE
from tests.accounts.helpers import sign_in
from tests.catalogue.test_checklist import SUPERMARKET_MATERIALS
from tests.conftest import PageClient
from tests.signing.people import sign_authorisation

DATA = load()
FOOD = "food-business-licence"
FOOD_ITEM = next(item for item in DATA.items if item.code == FOOD)
SUPERMARKET = [
    ("business_type", "supermarket"),
    ("scale", "large"),
    ("sales_mode", "wholesale"),
    ("sales_mode", "retail"),
    ("on_site_preparation", "yes"),
    ("special_food", "no"),
]
ZHANG_SAN = "13800000001"  # demo citizen; represents the demo company (business licence held)


def text(response: Any) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.text))


def checklist_names(response: Any) -> list[str]:
    """The material names of a checklist page, in order."""
    return [
        unescape(name)
        for name in re.findall(r'<li class="entry[^"]*">\s*<strong>([^<]+)</strong>', response.text)
    ]


def names_of(codes: list[str]) -> list[str]:
    by_code = {m.code: m.name_zh for m in FOOD_ITEM.materials}
    return [by_code[code] for code in codes]


async def test_every_seeded_item_page_renders_with_its_materials(client: PageClient) -> None:
    for item in DATA.items:
        response = await client.get(f"/services/{item.code}")
        assert response.status_code == 200, item.code
        page = text(response)
        assert item.name_zh in page
        for material in item.materials:
            assert material.name_zh in page, (item.code, material.code)
        assert f'href="/guide/{item.code}"' in response.text


async def test_every_seeded_bundle_page_lists_its_items_and_shared_materials(
    client: PageClient,
) -> None:
    items = {item.code: item for item in DATA.items}
    for bundle in DATA.bundles:
        response = await client.get(f"/bundles/{bundle.code}")
        assert response.status_code == 200, bundle.code
        page = text(response)
        assert bundle.name_zh in page
        positions = [page.index(items[code].name_zh) for code in bundle.items]
        assert positions == sorted(positions)  # in the order to apply
        assert f'href="/guide/{bundle.code}"' in response.text


async def test_browse_page_offers_search_departments_life_events_and_bundles(
    client: PageClient,
) -> None:
    response = await client.get("/services")
    assert response.status_code == 200
    assert 'name="q"' in response.text and 'hx-get="/services"' in response.text
    for department in DATA.departments:
        assert f'href="/departments/{department.code}"' in response.text
    for event in DATA.life_events:
        assert f'href="/life-events/{event.code}"' in response.text
    for bundle in DATA.bundles:
        assert f'href="/bundles/{bundle.code}"' in response.text


async def test_department_and_life_event_pages_list_their_items(client: PageClient) -> None:
    response = await client.get("/departments/market-regulation")
    assert response.status_code == 200
    mine = [i for i in DATA.items if i.department == "market-regulation"]
    assert mine
    for item in mine:
        assert f'href="/services/{item.code}"' in response.text
    others = [i for i in DATA.items if i.department != "market-regulation"]
    assert f'href="/services/{others[0].code}"' not in response.text

    response = await client.get("/life-events/open-business")
    assert response.status_code == 200
    assert f'href="/services/{FOOD}"' in response.text
    assert 'href="/bundles/open-restaurant"' in response.text


async def test_search_by_initials_finds_the_food_business_licence_without_javascript(
    client: PageClient,
) -> None:
    response = await client.get("/services", params={"q": "spjy"})
    assert response.status_code == 200
    links = re.findall(r'href="/services/([^"]+)"', response.text)
    assert links[0] == FOOD


async def test_search_as_you_type_answers_htmx_with_the_results_alone(client: PageClient) -> None:
    response = await client.get("/services", params={"q": "食品"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="results"' in response.text
    assert f'href="/services/{FOOD}"' in response.text


@pytest.mark.parametrize(
    "query", ["x" * 10_000, "食品\x00\x07经营", "\u202e spjy", "%", "'; drop table", " "]
)
async def test_odd_searches_get_a_page_never_an_error(client: PageClient, query: str) -> None:
    response = await client.get("/services", params={"q": query})
    assert response.status_code == 200, query


@pytest.mark.parametrize(
    "path",
    [
        "/services/no-such-item",
        "/bundles/no-such-bundle",
        "/departments/nope",
        "/life-events/nope",
        "/guide/nope",
        "/guide/nope/checklist",
        "/guide/nope/checklist.pdf",
    ],
)
async def test_unknown_codes_are_not_found_pages(client: PageClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def test_walking_the_guide_without_javascript_reaches_the_supermarket_checklist(
    client: PageClient,
) -> None:
    first = await client.get(f"/guide/{FOOD}")
    assert first.status_code == 200
    assert 'name="answered" value="1"' in first.text
    assert FOOD_ITEM.questions[0].text_zh in text(first)

    # Submitting a one-choice question without choosing keeps you there, with a message.
    unanswered = await client.get(f"/guide/{FOOD}", params={"answered": "1"})
    assert unanswered.status_code == 400
    assert 'role="alert"' in unanswered.text
    assert 'name="answered" value="1"' in unanswered.text

    answers: list[tuple[str, str]] = []
    for number, question in enumerate(FOOD_ITEM.questions, start=1):
        answers += [pair for pair in SUPERMARKET if pair[0] == question.code]
        response = await client.get(
            f"/guide/{FOOD}?" + urlencode([*answers, ("answered", str(number))]),
            follow_redirects=False,
        )
        if number < len(FOOD_ITEM.questions):
            assert response.status_code == 200
            assert f'name="answered" value="{number + 1}"' in response.text
            next_question = FOOD_ITEM.questions[number]
            assert next_question.text_zh in text(response)
            # the answers so far ride along as hidden fields
            for key, value in answers:
                assert f'name="{key}" value="{value}"' in response.text
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith(f"/guide/{FOOD}/checklist?")

    checklist = await client.get(target)
    assert checklist.status_code == 200
    assert checklist_names(checklist) == names_of(SUPERMARKET_MATERIALS)
    assert "entry-held" not in checklist.text  # nobody signed in: nothing is known to be held
    assert "/signin?next=" in checklist.text


async def test_the_back_link_shows_the_previous_question_with_its_answer_chosen(
    client: PageClient,
) -> None:
    response = await client.get(
        f"/guide/{FOOD}?" + urlencode([("business_type", "restaurant"), ("show", "1")])
    )
    assert response.status_code == 200
    assert re.search(r'value="restaurant" checked', response.text)


@pytest.mark.parametrize(
    "query",
    [
        [("business_type", "casino")],
        [("scale", "large"), ("scale", "small")],
        [("business_type", "x" * 5000)],
    ],
)
async def test_an_answer_that_is_not_an_option_gets_a_clear_page(
    client: PageClient, query: list[tuple[str, str]]
) -> None:
    for path in (f"/guide/{FOOD}", f"/guide/{FOOD}/checklist", f"/guide/{FOOD}/checklist.pdf"):
        response = await client.get(f"{path}?{urlencode(query)}")
        assert response.status_code == 400, path
        assert response.headers["content-type"].startswith("text/html")
        assert 'href="/guide/food-business-licence"' in response.text


@pytest.mark.parametrize("step", ["0", "99", "-1", "x", "1e3", "١"])
async def test_a_step_number_out_of_range_never_fails(client: PageClient, step: str) -> None:
    for name in ("answered", "show"):
        response = await client.get(f"/guide/{FOOD}", params={name: step})
        assert response.status_code in (200, 303), (name, step)


async def test_a_signed_in_citizens_checklist_marks_held_licences_exempt_and_is_prefilled(
    client: PageClient,
) -> None:
    await sign_in(client, ZHANG_SAN)
    await sign_authorisation(client)  # the library fills materials once this is signed
    response = await client.get(f"/guide/{FOOD}/checklist?" + urlencode(SUPERMARKET))
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]
    held = re.findall(
        r'<li class="entry entry-held">\s*<strong>([^<]+)</strong>\s*<span class="mark mark-held">',
        response.text,
    )
    assert "营业执照" in held  # the demo company's business licence: 免于提交
    assert "免于提交" in response.text
    assert "张三" in text(response)  # prefilled from the account
    assert "138****0001" in text(response)


async def test_the_checklist_pdf_downloads(client: PageClient) -> None:
    response = await client.get(f"/guide/{FOOD}/checklist.pdf?" + urlencode(SUPERMARKET))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")


async def test_a_bundle_guide_asks_each_items_questions_and_hands_shared_papers_in_once(
    client: PageClient,
) -> None:
    bundle = next(b for b in DATA.bundles if b.code == "open-supermarket")
    items = {item.code: item for item in DATA.items}
    keys = [f"{code}.{q.code}" for code in bundle.items for q in items[code].questions]
    assert f"{FOOD}.business_type" in keys
    for number, key in enumerate(keys, start=1):
        response = await client.get("/guide/open-supermarket", params={"show": str(number)})
        assert response.status_code == 200
        assert f'name="{key}"' in response.text
    checklist = await client.get(
        "/guide/open-supermarket/checklist?"
        + urlencode([(f"{FOOD}.{key}", value) for key, value in SUPERMARKET])
    )
    assert checklist.status_code == 200
    names = checklist_names(checklist)
    premises = {
        m.name_zh
        for code in bundle.items
        for m in items[code].materials
        if m.code == "premises_proof"
    }
    assert len(premises) > 1  # several items ask for it, each in its own words
    assert sum(names.count(name) for name in premises) == 1  # shared: handed in once


async def test_an_item_without_questions_goes_straight_to_its_checklist(
    client: PageClient,
) -> None:
    plain = next(item for item in DATA.items if not item.questions)
    response = await client.get(f"/guide/{plain.code}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/guide/{plain.code}/checklist"


async def test_english_pages_use_the_english_names(client: PageClient) -> None:
    client.cookies.set(LANG_COOKIE, "en")
    response = await client.get(f"/services/{FOOD}")
    assert FOOD_ITEM.name_en in text(response)
    assert FOOD_ITEM.name_zh not in text(response)


async def test_a_catalogue_change_shows_at_once_on_the_cached_pages(
    client: PageClient, redis: Any
) -> None:
    before = await client.get(f"/services/{FOOD}")
    assert FOOD_ITEM.name_zh in text(before)
    await client.get("/services")
    try:
        await ServiceItem.update({ServiceItem.name_zh: "食品经营许可证核发（测试改名）"}).where(
            ServiceItem.code == FOOD
        )
        await catalogue_changed(redis)
        assert "（测试改名）" in text(await client.get(f"/services/{FOOD}"))
        found = await client.get("/services", params={"q": "测试改名"})
        assert f'href="/services/{FOOD}"' in found.text
    finally:
        await ServiceItem.update({ServiceItem.name_zh: FOOD_ITEM.name_zh}).where(
            ServiceItem.code == FOOD
        )
        await catalogue_changed(redis)


async def test_anonymous_readers_get_no_session(client: PageClient, redis: Any) -> None:
    before = {key async for key in redis.scan_iter("tongban:session:*")}
    for path in (
        "/services",
        "/services?q=spjy",
        f"/services/{FOOD}",
        "/bundles/open-restaurant",
        f"/guide/{FOOD}",
        f"/guide/{FOOD}/checklist?" + urlencode(SUPERMARKET),
    ):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "tongban_session" not in response.headers.get("set-cookie", ""), path
    assert "tongban_session" not in client.cookies
    assert {key async for key in redis.scan_iter("tongban:session:*")} == before


async def test_search_answers_vary_on_htmx(client: PageClient) -> None:
    response = await client.get("/services", params={"q": "食品"})
    assert "hx-request" in response.headers.get("vary", "").lower()
