"""The courier service over HTTP: the address book, asking for a pickup from the application
page, the courier app (only the assigned courier opens a job; the same event sent three times
is one event; a reassigned job is a clear conflict), dispatch, and the tracking page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from app.accounts.tables import Role
from app.asgi import create_app
from app.courier import service
from app.courier.tables import Shipment, ShipmentEvent, Status
from app.files.tables import StoredFile
from tests.applications.people import draft
from tests.conftest import PageClient
from tests.courier.http import token
from tests.courier.people import ORIGINALS, address_of, assigned, items, last_code, pickup
from tests.files.conftest import jpeg
from tests.people import citizen_signed_in, staff_signed_in


async def events_of(shipment: Shipment, action: str) -> int:
    return await ShipmentEvent.count().where(
        ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == action
    )


# ---------------------------------------------------------------- the citizen


async def test_the_address_book_checks_each_field_and_is_private(client: PageClient) -> None:
    me = await citizen_signed_in(client)
    page = await client.get("/addresses")
    assert page.status_code == 200 and "Add an address" in page.text
    bad = await client.post(
        "/addresses",
        data={
            "_csrf_token": await token(client, "/addresses"),
            "contact_name": "张三",
            "phone": "12345",
            "district": "huangpu",
            "street": "中山东一路 12 号",
        },
    )
    assert bad.status_code == 400 and "valid mainland mobile number" in bad.text
    assert await service.addresses_of(int(me.id)) == []
    good = await client.post(
        "/addresses",
        data={
            "_csrf_token": await token(client, "/addresses"),
            "contact_name": "张三",
            "phone": "138 0000 0001",
            "district": "huangpu",
            "street": "中山东一路 12 号",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    [saved] = await service.addresses_of(int(me.id))
    assert saved.phone == "+8613800000001"
    # Someone else cannot delete it: not found.
    async with PageClient(app=create_app(), base_url="http://tongban.local") as other:
        await citizen_signed_in(other)
        gone = await other.post(
            f"/addresses/{saved.id}/delete", data={"_csrf_token": await token(other)}
        )
        assert gone.status_code == 404
        assert "中山东一路" not in (await other.get("/addresses")).text


async def test_a_citizen_asks_for_a_pickup_on_the_application_page(client: PageClient) -> None:
    me = await citizen_signed_in(client)
    _me, application = await draft(ORIGINALS, me)
    page = await client.get(f"/applications/{application.id}")
    assert "Send the originals by courier" in page.text and "Add an address" in page.text
    address = await address_of(me)
    page = await client.get(f"/applications/{application.id}")
    day = (service.shanghai_today() + timedelta(days=1)).isoformat()
    asked = await client.post(
        f"/applications/{application.id}/courier/pickup",
        data={"_csrf_token": await token(client), "address": str(address), "day": day, "slot": "x"},
    )
    assert asked.status_code == 400 and "pickup time" in asked.text
    asked = await client.post(
        f"/applications/{application.id}/courier/pickup",
        data={
            "_csrf_token": await token(client),
            "address": str(address),
            "day": day,
            "slot": "morning",
        },
        follow_redirects=False,
    )
    assert asked.status_code == 303
    page = await client.get(f"/applications/{application.id}")
    assert "Pickup of originals" in page.text and "Cancel the courier" in page.text
    assert await last_code(me.phone)
    [shipment] = await service.shipments_of(int(application.id))
    # The public tracking page shows the shipment's state, not the address.
    async with PageClient(app=create_app(), base_url="http://tongban.local") as stranger:
        await stranger.post(
            "/preferences/language", data={"lang": "en", "_csrf_token": await token(stranger)}
        )
        # A draft is nobody else's business; a submitted application shows its shipments.
        assert (await stranger.get(f"/track/{application.code}")).status_code == 404
    cancelled = await client.post(
        f"/applications/{application.id}/courier/{shipment.id}/cancel",
        data={"_csrf_token": await token(client)},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    row = await Shipment.objects().where(Shipment.id == shipment.id).first()
    assert row is not None and row.status == Status.CANCELLED


async def test_someone_elses_application_has_no_courier_forms(client: PageClient) -> None:
    await citizen_signed_in(client)
    _owner, application = await draft(ORIGINALS)
    response = await client.post(
        f"/applications/{application.id}/courier/pickup",
        data={"_csrf_token": await token(client), "address": "1", "day": "2030-01-01"},
    )
    assert response.status_code == 404


async def test_the_tracking_page_shows_the_shipment_without_the_address(
    client: PageClient,
) -> None:
    from tests.courier.people import approved_application

    _applicant, application = await approved_application()
    applicant = _applicant
    done = await service.request_delivery(
        applicant, application, await items(), address_id=await address_of(applicant), locker=""
    )
    await client.post(
        "/preferences/language", data={"lang": "en", "_csrf_token": await token(client)}
    )
    page = await client.get(f"/track/{application.code}")
    assert page.status_code == 200
    assert "Delivery of the licence" in page.text and "Requested" in page.text
    assert "中山东一路" not in page.text and done.shipment.waybill not in page.text
    # A new event shows at once (the public page's cache follows the shipments).
    rider = await service.couriers()
    await assigned(done.shipment, rider[0])
    assert "Courier assigned" in (await client.get(f"/track/{application.code}")).text


# ---------------------------------------------------------------- the courier app


async def test_a_courier_sees_and_opens_only_their_own_jobs(client: PageClient) -> None:
    rider = await staff_signed_in(client, Role.COURIER)
    _applicant, _application, mine = await pickup()
    _b, _c, theirs = await pickup()
    await assigned(mine, rider)
    jobs = await client.get("/courier")
    assert jobs.status_code == 200
    assert mine.waybill in jobs.text and theirs.waybill not in jobs.text
    page = await client.get(f"/courier/jobs/{mine.id}")
    assert page.status_code == 200 and "tel:+86" in page.text and "Picked up" in page.text
    assert (await client.get(f"/courier/jobs/{theirs.id}")).status_code == 404
    posted = await client.post(
        f"/courier/jobs/{theirs.id}/events",
        data={"key": str(uuid.uuid4()), "action": "fail", "reason": "nobody"},
        headers={"x-csrftoken": await token(client), "accept": "application/json"},
    )
    assert posted.status_code == 404
    assert await events_of(theirs, "fail") == 0


async def test_the_courier_app_needs_a_courier_with_a_passkey(client: PageClient) -> None:
    await citizen_signed_in(client)
    assert (await client.get("/courier")).status_code == 403
    async with PageClient(app=create_app(), base_url="http://tongban.local") as boss:
        await staff_signed_in(boss, Role.FLOOR_MANAGER, "赵巡查")
        assert (await boss.get("/courier")).status_code == 403
        assert (await boss.get("/dispatch")).status_code == 200


async def test_the_same_event_sent_three_times_is_one_event(client: PageClient) -> None:
    rider = await staff_signed_in(client, Role.COURIER)
    applicant, _application, shipment = await pickup()
    await assigned(shipment, rider)
    code, key, csrf = await last_code(applicant.phone), str(uuid.uuid4()), await token(client)
    answers = []
    for _ in range(3):
        response = await client.post(
            f"/courier/jobs/{shipment.id}/events",
            files={"photo": ("handover.jpg", jpeg(), "image/jpeg")},
            data={"key": key, "action": "pick_up", "proof": "code", "code": code},
            headers={"x-csrftoken": csrf, "accept": "application/json"},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json()["status"])
    assert answers == ["recorded", "duplicate", "duplicate"]
    assert await events_of(shipment, "pick_up") == 1
    # The photo went through the files service once, owned by the courier.
    assert await StoredFile.count().where(StoredFile.purpose == f"courier:{shipment.id}") == 1
    event = (
        await ShipmentEvent.objects()
        .where(ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == "pick_up")
        .first()
    )
    assert event is not None and event.photo is not None and event.proof == "code"


async def test_a_wrong_code_and_a_reassigned_job_are_explained(client: PageClient) -> None:
    rider = await staff_signed_in(client, Role.COURIER)
    applicant, _application, shipment = await pickup()
    await assigned(shipment, rider)
    csrf = await token(client)
    right = await last_code(applicant.phone)
    wrong = "000000" if right != "000000" else "111111"
    response = await client.post(
        f"/courier/jobs/{shipment.id}/events",
        data={"key": str(uuid.uuid4()), "action": "pick_up", "proof": "code", "code": wrong},
        headers={"x-csrftoken": csrf, "accept": "application/json"},
    )
    assert response.status_code == 409 and "4 tries left" in response.json()["message"]
    # Reassigned while the courier was offline: the queued event is a clear conflict.
    other = (await service.couriers())[0]
    if other.id == rider.id:
        other = (await service.couriers())[1]
    await assigned(shipment, other)
    response = await client.post(
        f"/courier/jobs/{shipment.id}/events",
        data={"key": str(uuid.uuid4()), "action": "pick_up", "proof": "code", "code": right},
        headers={"x-csrftoken": csrf, "accept": "application/json"},
    )
    assert response.status_code == 409
    assert "given to another courier" in response.json()["message"]
    # Without JavaScript the same refusal comes back as a page.
    page = await client.post(
        f"/courier/jobs/{shipment.id}/events",
        data={"key": str(uuid.uuid4()), "action": "fail", "reason": "nobody", "_csrf_token": csrf},
    )
    assert page.status_code == 200 and "given to another courier" in page.text


async def test_a_plain_form_records_a_step_and_shows_the_job_again(client: PageClient) -> None:
    rider = await staff_signed_in(client, Role.COURIER)
    _applicant, _application, shipment = await pickup()
    await assigned(shipment, rider)
    page = await client.get(f"/courier/jobs/{shipment.id}")
    key = re.search(
        r'name="key" value="([^"]+)"\s*>\s*<input type="hidden" name="action" value="fail"',
        page.text,
    )
    assert key, "no fail form"
    response = await client.post(
        f"/courier/jobs/{shipment.id}/events",
        data={
            "_csrf_token": await token(client),
            "key": key.group(1),
            "action": "fail",
            "reason": "nobody",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200 and "Attempt failed" in response.text
    row = await Shipment.objects().where(Shipment.id == shipment.id).first()
    assert row is not None and row.status == Status.FAILED and row.attempts == 1


# ---------------------------------------------------------------- dispatch


async def test_dispatch_assigns_a_courier_and_receives_the_originals(client: PageClient) -> None:
    await staff_signed_in(client, Role.FLOOR_MANAGER, "赵巡查")
    applicant, _application, shipment = await pickup()
    rider = await service.couriers()
    board = await client.get("/dispatch")
    assert board.status_code == 200 and shipment.waybill in board.text
    key = str(uuid.uuid4())
    for _ in range(2):  # a double press: one event
        response = await client.post(
            f"/dispatch/shipments/{shipment.id}",
            data={
                "_csrf_token": await token(client),
                "action": "assign",
                "key": key,
                "to": f"courier:{rider[0].id}",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
    assert await events_of(shipment, "assign") == 1
    refused = await client.post(
        f"/dispatch/shipments/{shipment.id}",
        data={"_csrf_token": await token(client), "action": "receive", "key": str(uuid.uuid4())},
    )
    assert refused.status_code == 409 and "cannot be done" in refused.text
    assert applicant


async def test_the_handover_photo_is_the_applicants_to_see_and_nobody_elses(
    client: PageClient,
) -> None:
    rider = await staff_signed_in(client, Role.COURIER)
    async with PageClient(app=create_app(), base_url="http://tongban.local") as own:
        me = await citizen_signed_in(own)
        _applicant, application, shipment = await pickup(me)
        await assigned(shipment, rider)
        posted = await client.post(
            f"/courier/jobs/{shipment.id}/events",
            files={"photo": ("handover.jpg", jpeg(), "image/jpeg")},
            data={"key": str(uuid.uuid4()), "action": "pick_up", "proof": "photo"},
            headers={"x-csrftoken": await token(client), "accept": "application/json"},
        )
        assert posted.status_code == 200, posted.text
        event = (
            await ShipmentEvent.objects()
            .where(ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == "pick_up")
            .first()
        )
        assert event is not None and event.photo is not None
        page = await own.get(f"/applications/{application.id}")
        assert f'href="/files/{event.photo}"' in page.text and "Handover photo" in page.text
        assert (await own.get(f"/files/{event.photo}")).status_code == 200
    async with PageClient(app=create_app(), base_url="http://tongban.local") as stranger:
        await citizen_signed_in(stranger)
        assert (await stranger.get(f"/files/{event.photo}")).status_code == 404
    async with PageClient(app=create_app(), base_url="http://tongban.local") as boss:
        await staff_signed_in(boss, Role.FLOOR_MANAGER, "赵巡查")
        assert (await boss.get(f"/files/{event.photo}")).status_code == 200
