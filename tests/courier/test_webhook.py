"""The courier companies' webhook: HMAC-SHA256 over timestamp and body, stale timestamps and
replayed signatures refused, idempotent by event id, only for shipments assigned to the
company, documented in the OpenAPI schema."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from app.config import DEV_COURIER_SECRETS
from app.courier.api import sign
from app.courier.machine import Actor
from app.courier.tables import Shipment, ShipmentEvent, Status
from tests.conftest import PageClient
from tests.courier.people import pickup, staff, step

COMPANY, SECRET = next(iter(DEV_COURIER_SECRETS.items()))


async def post(
    client: PageClient,
    body: dict[str, Any],
    *,
    company: str = COMPANY,
    secret: str = SECRET,
    at: float | None = None,
    signature: str | None = None,
) -> httpx.Response:
    raw = json.dumps(body).encode()
    timestamp = str(int(at if at is not None else time.time()))
    return await client.post(
        "/api/v1/courier/events",
        content=raw,
        headers={
            "content-type": "application/json",
            "x-courier-company": company,
            "x-courier-timestamp": timestamp,
            "x-courier-signature": signature or sign(secret, timestamp, raw),
        },
    )


async def company_job() -> Shipment:
    _applicant, _application, shipment = await pickup()
    await step(shipment, "assign", Actor.STAFF, await staff(), company=COMPANY)
    return shipment


async def count(shipment: Shipment, action: str) -> int:
    return await ShipmentEvent.count().where(
        ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == action
    )


async def test_a_signed_event_is_recorded_once_by_its_id(client: PageClient) -> None:
    shipment = await company_job()
    body = {
        "event_id": "sf-" + uuid.uuid4().hex,
        "waybill": shipment.waybill,
        "action": "pick_up",
        "proof": "company",
        "proof_reference": "POD-123",
        "lat": 31.23,
        "lng": 121.47,
    }
    first = await post(client, body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "status": "recorded",
        "waybill": shipment.waybill,
        "shipment_status": "picked_up",
    }
    # The company retries (a new timestamp, so a new signature): one event still.
    again = await post(client, body, at=time.time() + 1)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert await count(shipment, "pick_up") == 1
    event = (
        await ShipmentEvent.objects()
        .where(ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == "pick_up")
        .first()
    )
    assert event is not None and event.actor_kind == "company" and event.company == COMPANY
    assert event.proof == "company" and event.lat_e6 == 31230000


async def test_a_replayed_request_is_refused(client: PageClient) -> None:
    shipment = await company_job()
    body = {
        "event_id": uuid.uuid4().hex,
        "waybill": shipment.waybill,
        "action": "fail",
        "reason": "无人",
    }
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-courier-company": COMPANY,
        "x-courier-timestamp": timestamp,
        "x-courier-signature": sign(SECRET, timestamp, raw),
    }
    assert (
        await client.post("/api/v1/courier/events", content=raw, headers=headers)
    ).status_code == 200
    replay = await client.post("/api/v1/courier/events", content=raw, headers=headers)
    assert replay.status_code == 409
    assert await count(shipment, "fail") == 1


async def test_stale_and_future_timestamps_are_refused(client: PageClient) -> None:
    shipment = await company_job()
    for at in (time.time() - 301, time.time() + 301):
        body = {
            "event_id": uuid.uuid4().hex,
            "waybill": shipment.waybill,
            "action": "fail",
            "reason": "x",
        }
        response = await post(client, body, at=at)
        assert response.status_code == 401, response.text
    assert await count(shipment, "fail") == 0


async def test_wrong_signatures_and_unknown_companies_are_refused(client: PageClient) -> None:
    shipment = await company_job()
    body = {
        "event_id": uuid.uuid4().hex,
        "waybill": shipment.waybill,
        "action": "fail",
        "reason": "x",
    }
    assert (await post(client, body, secret="not-the-secret-" * 3)).status_code == 401
    assert (await post(client, body, signature="sha256=" + "0" * 64)).status_code == 401
    assert (await post(client, body, company="nobody")).status_code == 401
    # A body changed after signing.
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    tampered = await client.post(
        "/api/v1/courier/events",
        content=raw.replace(b'"x"', b'"y"'),
        headers={
            "content-type": "application/json",
            "x-courier-company": COMPANY,
            "x-courier-timestamp": timestamp,
            "x-courier-signature": sign(SECRET, timestamp, raw),
        },
    )
    assert tampered.status_code == 401
    assert await count(shipment, "fail") == 0


async def test_a_company_reports_only_its_own_shipments(client: PageClient) -> None:
    _applicant, _application, unassigned = await pickup()
    body = {
        "event_id": uuid.uuid4().hex,
        "waybill": unassigned.waybill,
        "action": "fail",
        "reason": "x",
    }
    assert (await post(client, body)).status_code == 404
    body["waybill"] = "TB0000000000"
    assert (await post(client, body)).status_code == 404


async def test_a_step_the_state_does_not_allow_is_a_conflict(client: PageClient) -> None:
    shipment = await company_job()
    body = {"event_id": uuid.uuid4().hex, "waybill": shipment.waybill, "action": "deliver"}
    response = await post(client, body)
    assert response.status_code == 409 and response.json()["detail"]
    row = await Shipment.objects().where(Shipment.id == shipment.id).first()
    assert row is not None and row.status == Status.ASSIGNED


async def test_bad_bodies_are_clear_400s(client: PageClient) -> None:
    shipment = await company_job()
    for body in (
        {"waybill": shipment.waybill, "action": "fail"},
        {"event_id": "has spaces", "waybill": shipment.waybill, "action": "fail", "reason": "x"},
        {"event_id": "x", "waybill": shipment.waybill, "action": "fail", "extra": 1},
    ):
        response = await post(client, body)
        assert response.status_code == 400, (body, response.text)


async def test_the_webhook_is_in_the_openapi_schema(client: PageClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/courier/events"]["post"]
    assert "HMAC-SHA256" in operation["description"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"X-Courier-Signature", "X-Courier-Timestamp", "X-Courier-Company"} <= names
    assert set(operation["responses"]) >= {"200", "401", "409"}
