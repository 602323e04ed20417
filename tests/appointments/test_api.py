"""GET /api/v1/centres/{id}/slots?date=: availability as JSON for kiosks, in the OpenAPI
schema; a bad or out-of-window date is a 400 with a message."""

from __future__ import annotations

from datetime import timedelta

from app.appointments import slots
from tests.appointments.people import centre
from tests.conftest import PageClient


async def test_slots_of_a_day_as_json(client: PageClient) -> None:
    place = await centre()
    day = slots.today() + timedelta(days=2)
    answer = await client.get(f"/api/v1/centres/{place.id}/slots?date={day.isoformat()}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["centre"] == place.id and body["date"] == day.isoformat() and body["open"]
    groups = {group["group"]: group for group in body["groups"]}
    assert set(groups) == {"market", "tax"}
    assert len(groups["market"]["slots"]) == 48  # all day, every 30 minutes
    assert groups["market"]["slots"][0]["free"] == 2 and groups["tax"]["prefix"] == "B"
    assert answer.headers["access-control-allow-origin"] == "*"
    only = await client.get(f"/api/v1/centres/{place.id}/slots?date={day}&group=tax")
    assert [g["group"] for g in only.json()["groups"]] == ["tax"]


async def test_bad_dates_are_400_with_a_message(client: PageClient) -> None:
    place = await centre()
    far = slots.today() + timedelta(days=slots.WINDOW_DAYS + 1)
    for query in ("date=tomorrow", "date=2026-02-30", f"date={far}", "", "date=2026-1-1"):
        answer = await client.get(f"/api/v1/centres/{place.id}/slots?{query}")
        assert answer.status_code == 400, (query, answer.text)
        assert "date" in answer.json()["detail"]
    wrong_group = await client.get(
        f"/api/v1/centres/{place.id}/slots?date={slots.today()}&group=police"
    )
    assert wrong_group.status_code == 400
    unknown = await client.get(f"/api/v1/centres/999999/slots?date={slots.today()}")
    assert unknown.status_code == 404 and unknown.json()["detail"]


async def test_the_slots_api_is_in_the_openapi_schema(client: PageClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/centres/{centre_id}/slots" in schema["paths"]
    assert "/api/v1/services" in schema["paths"]
