"""The catalogue's JSON API: paging with cursors, search, refused parameters as JSON 400s,
unknown codes and paths as JSON 404s, the headers partners rely on, and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest

from app.catalogue.api import make_cursor
from app.catalogue.search import load_summaries
from tests.conftest import PageClient

SERVICES = "/api/v1/services"


def assert_json_error(response: Any, status: int) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    detail: str = body["detail"]
    return detail


async def test_paging_with_cursors_returns_every_item_once_in_catalogue_order(
    client: PageClient,
) -> None:
    expected = [summary.code for summary in await load_summaries()]
    seen: list[str] = []
    url = f"{SERVICES}?limit=7"
    pages = 0
    while True:
        response = await client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(expected)
        assert 0 < len(body["items"]) <= 7
        seen.extend(item["code"] for item in body["items"])
        pages += 1
        if body["next_cursor"] is None:
            break
        url = f"{SERVICES}?limit=7&cursor={body['next_cursor']}"
    assert seen == expected
    assert pages == -(-len(expected) // 7)


async def test_an_item_in_the_list_carries_what_a_list_shows(client: PageClient) -> None:
    body = (await client.get(f"{SERVICES}?q=spjy")).json()
    first = body["items"][0]
    assert first == {
        "code": "food-business-licence",
        "name_zh": "食品经营许可证核发",
        "name_en": "Food business licence (first issue)",
        "department": "market-regulation",
        "promised_days": first["promised_days"],
        "online": True,
        "url": "http://localhost:8000/services/food-business-licence",
    }
    assert isinstance(first["promised_days"], int)
    assert body["total"] == len(body["items"]) or body["next_cursor"]


async def test_search_pages_through_its_own_results(client: PageClient) -> None:
    first = (await client.get(f"{SERVICES}?q=xk&limit=2")).json()
    assert first["total"] > 2
    second = (await client.get(f"{SERVICES}?q=xk&limit=2&cursor={first['next_cursor']}")).json()
    assert second["total"] == first["total"]
    codes = [item["code"] for item in first["items"] + second["items"]]
    assert len(set(codes)) == 4


async def test_the_api_sets_no_cookie_and_may_be_read_from_any_origin(client: PageClient) -> None:
    response = await client.get(SERVICES, headers={"Origin": "https://kiosk.example"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["access-control-allow-origin"] == "*"
    cache_control = response.headers["cache-control"]
    assert "public" in cache_control and "max-age=60" in cache_control


@pytest.mark.parametrize("limit", ["-1", "0", "101", str(10**9), "abc", "1.5", ""])
async def test_a_limit_out_of_range_or_not_a_number_is_a_json_400(
    client: PageClient, limit: str
) -> None:
    detail = assert_json_error(await client.get(f"{SERVICES}?limit={limit}"), 400)
    assert "limit" in detail


async def test_the_400_is_in_the_language_asked_for(client: PageClient) -> None:
    response = await client.get(f"{SERVICES}?cursor=junk", headers={"Accept-Language": "en"})
    assert "cursor" in assert_json_error(response, 400)
    response = await client.get(f"{SERVICES}?cursor=junk", headers={"Accept-Language": "zh-CN"})
    assert response.json()["detail"] != "" and response.status_code == 400


@pytest.mark.parametrize(
    "cursor",
    [
        "junk",
        "",
        "%00",
        "MTAw",  # base64 of "100": no MAC
        "x" * 5000,
        make_cursor(20, "other query"),  # made for another query
        make_cursor(20, "")[:-2] + "AA",  # MAC altered
    ],
)
async def test_a_cursor_that_was_not_ours_is_a_json_400(client: PageClient, cursor: str) -> None:
    assert_json_error(await client.get(f"{SERVICES}?limit=20&cursor={cursor}"), 400)


async def test_a_valid_cursor_past_the_end_gives_an_empty_last_page(client: PageClient) -> None:
    body = (await client.get(f"{SERVICES}?cursor={make_cursor(10**6, '')}")).json()
    assert body["items"] == [] and body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("x" * 10_000, None),
        ("spjy" + " " * 10_000 + "x", "food-business-licence"),
        ("sp\x00jy\x01\x1b", "food-business-licence"),
        ("\u202espjy\u2066", "food-business-licence"),
        ("  ＳＰＪＹ  ", "food-business-licence"),
        ("%00%7f", None),
    ],
)
async def test_a_long_or_dirty_query_is_cut_and_cleaned_never_a_500(
    client: PageClient, query: str, first: str | None
) -> None:
    response = await client.get(SERVICES, params={"q": query})
    assert response.status_code == 200
    body = response.json()
    if first is None:
        assert body["items"] == [] and body["total"] == 0
    else:
        assert body["items"][0]["code"] == first


async def test_one_item_in_detail(client: PageClient) -> None:
    response = await client.get(f"{SERVICES}/food-business-licence")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["code"] == "food-business-licence"
    assert body["department"] == "market-regulation"
    assert body["questions"][0]["code"] == "business_type"
    assert {"code", "name_zh", "kind", "conditional"} <= set(body["materials"][0])
    assert any(material["conditional"] for material in body["materials"])


@pytest.mark.parametrize("path", [f"{SERVICES}/no-such-item", "/api/v1/nothing", "/api/v2/x"])
async def test_unknown_codes_and_paths_are_a_json_404(client: PageClient, path: str) -> None:
    assert_json_error(await client.get(path), 404)


async def test_the_openapi_schema_lists_the_api_and_no_page(client: PageClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"] == {
        "title": "Tongban API",
        "version": "1",
        "description": schema["info"]["description"],
    }
    assert set(schema["paths"]) == {
        "/api/v1/services",
        "/api/v1/services/{code}",
        "/api/v1/track/{code}",
        "/api/v1/courier/events",
        "/api/v1/centres/{centre_id}/slots",
    }
    assert "ServicePage" in schema["components"]["schemas"]
    assert (await client.get("/schema/nothing")).status_code == 404


async def test_a_remembered_answer_gives_way_to_a_catalogue_change(
    client: PageClient, redis: Any
) -> None:
    from app.catalogue.services import catalogue_changed
    from app.catalogue.tables import ServiceItem

    first = await client.get(SERVICES, params={"q": "spjy"})
    assert (await client.get(SERVICES, params={"q": "spjy"})).content == first.content
    original = first.json()["items"][0]
    try:
        await ServiceItem.update({ServiceItem.name_en: "Renamed for the API test"}).where(
            ServiceItem.code == original["code"]
        )
        await catalogue_changed(redis)
        again = (await client.get(SERVICES, params={"q": "spjy"})).json()["items"][0]
        assert again["name_en"] == "Renamed for the API test"
    finally:
        await ServiceItem.update({ServiceItem.name_en: original["name_en"]}).where(
            ServiceItem.code == original["code"]
        )
        await catalogue_changed(redis)
