"""The courier rules with the real database: asking for a pickup and a delivery, the events
of each through to the end, proofs (handover code with limited guesses, photo, signature,
locker code), idempotency, conflicts, who may act, and originals closing an obligation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.accounts.tables import Account, Role
from app.applications import service as applications
from app.applications.tables import AuditEntry, MaterialEntry, Obligation
from app.courier import service
from app.courier.machine import Actor, Proof
from app.courier.service import AddressInput, CourierError, Event
from app.courier.tables import Address, Shipment, ShipmentEvent, Status
from app.notifications.tables import Notification
from tests.accounts.test_passkeys import ORIGIN
from tests.applications.people import account, draft, stored_file
from tests.conftest import PageClient
from tests.courier.people import (
    ORIGINALS,
    address_of,
    assigned,
    courier,
    delivery,
    items,
    key,
    last_code,
    pickup,
    staff,
    step,
)
from tests.signing import people as signing


async def events(shipment: Shipment) -> list[ShipmentEvent]:
    return await ShipmentEvent.objects().where(ShipmentEvent.shipment == shipment.id)


# ---------------------------------------------------------------- the address book


async def test_an_address_is_checked_field_by_field() -> None:
    _cleaned, errors = service.check_address(AddressInput("", "12345", "manhattan", "x"))
    assert set(errors) == {"contact_name", "phone", "district", "street"}
    cleaned, errors = service.check_address(
        AddressInput(" 张  三 ", "138 0000 0001", "pudong", "世纪大道 100 号")
    )
    assert errors == {}
    assert cleaned.phone == "+8613800000001" and cleaned.contact_name == "张 三"
    assert len(service.DISTRICTS) == 16


async def test_each_citizen_sees_only_their_own_addresses() -> None:
    me, other = await account(), await account()
    mine = await address_of(me)
    assert [a.id for a in await service.addresses_of(int(me.id))] == [mine]
    assert await service.addresses_of(int(other.id)) == []
    assert not await service.delete_address(int(other.id), mine)
    assert await Address.exists().where(Address.id == mine)
    assert await service.delete_address(int(me.id), mine)


async def test_a_bad_address_is_refused_and_nothing_is_saved() -> None:
    me = await account()
    with pytest.raises(CourierError) as refused:
        await service.add_address(int(me.id), AddressInput("张三", "110", "huangpu", "外滩 1 号"))
    assert refused.value.code == "address_phone"
    assert await service.addresses_of(int(me.id)) == []


# ---------------------------------------------------------------- pickups


async def test_a_pickup_carries_the_originals_and_sends_a_handover_code() -> None:
    applicant, application, shipment = await pickup()
    assert shipment.status == Status.REQUESTED and shipment.materials == "damaged_licence"
    assert shipment.free and shipment.district == "huangpu" and shipment.waybill.startswith("TB")
    code = await last_code(applicant.phone)
    assert len(code) == 6 and code not in shipment.handover_hash
    # One pickup at a time.
    with pytest.raises(CourierError) as refused:
        await service.request_pickup(
            applicant,
            application,
            await items(),
            address_id=await address_of(applicant),
            day=service.shanghai_today() + timedelta(days=1),
            slot="evening",
        )
    assert refused.value.code == "no_pickup"


async def test_a_pickup_window_must_be_ahead_and_the_address_ones_own() -> None:
    applicant, application = await draft(ORIGINALS)
    stranger = await account()
    for day, slot, address, code in (
        (service.shanghai_today() - timedelta(days=1), "morning", None, "window"),
        (service.shanghai_today() + timedelta(days=30), "morning", None, "window"),
        (service.shanghai_today() + timedelta(days=1), "midnight", None, "window"),
        (service.shanghai_today() + timedelta(days=1), "morning", stranger, "no_address"),
    ):
        with pytest.raises(CourierError) as refused:
            await service.request_pickup(
                applicant,
                application,
                await items(),
                address_id=await address_of(address or applicant),
                day=day,
                slot=slot,
            )
        assert refused.value.code == code
    assert await service.shipments_of(int(application.id)) == []


async def test_a_pickup_from_assignment_to_the_centre_closes_the_obligation() -> None:
    applicant, application, shipment = await pickup()
    # The original is owed (as after acceptance with the material for later).
    await MaterialEntry.update(
        {MaterialEntry.obligation: Obligation.OWED, MaterialEntry.due_on: service.shanghai_today()}
    ).where(MaterialEntry.application == application.id, MaterialEntry.code == "damaged_licence")
    rider = await courier()
    await assigned(shipment, rider)
    code = await last_code(applicant.phone)
    done = await step(shipment, "pick_up", Actor.COURIER, rider, proof=Proof.CODE, code=code)
    assert done.shipment.status == Status.PICKED_UP
    sms = (
        await Notification.select(Notification.params)
        .where(Notification.id.is_in(done.notifications))
        .output(load_json=True)
    )
    assert sms and sms[0]["params"]["status"] == "已取件"
    await step(shipment, "depart", Actor.COURIER, rider, lat=31.2304, lng=121.4737)
    done = await step(shipment, "receive", Actor.STAFF, await staff())
    assert done.shipment.status == Status.RECEIVED
    entry = (
        await MaterialEntry.objects()
        .where(MaterialEntry.application == application.id, MaterialEntry.code == "damaged_licence")
        .first()
    )
    assert entry is not None and entry.obligation == Obligation.SUPPLIED
    assert await AuditEntry.exists().where(
        AuditEntry.subject_id == str(application.id), AuditEntry.action == "original_receive"
    )
    timeline = await applications.timeline(int(application.id))
    assert timeline[-1].action == "original_receive"
    depart = next(e for e in await events(shipment) if e.action == "depart")
    assert (depart.lat_e6, depart.lng_e6) == (31230400, 121473700)
    assert [e.to_status for e in await events(shipment)] == [
        "requested",
        "assigned",
        "picked_up",
        "in_transit",
        "received",
    ]


async def test_the_handover_code_takes_limited_guesses(settings: object) -> None:
    applicant, _application, shipment = await pickup()
    rider = await courier()
    await assigned(shipment, rider)
    right = await last_code(applicant.phone)
    wrong = "000000" if right != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(CourierError) as refused:
            await step(shipment, "pick_up", Actor.COURIER, rider, proof=Proof.CODE, code=wrong)
        assert refused.value.code == "wrong_code" and f"{left}" in refused.value.message
    with pytest.raises(CourierError) as refused:
        await step(shipment, "pick_up", Actor.COURIER, rider, proof=Proof.CODE, code=right)
    assert refused.value.code == "code_locked"
    # A photo still proves the handover.
    photo = await stored_file(rider)
    done = await step(
        shipment, "pick_up", Actor.COURIER, rider, proof=Proof.PHOTO, photo_id=int(photo.id)
    )
    assert done.shipment.status == Status.PICKED_UP
    assert (await events(shipment))[-1].photo == photo.id


async def test_a_photo_must_be_the_couriers_own() -> None:
    _applicant, _application, shipment = await pickup()
    rider = await courier()
    await assigned(shipment, rider)
    someone = await stored_file(await account())
    with pytest.raises(CourierError) as refused:
        await step(
            shipment, "pick_up", Actor.COURIER, rider, proof=Proof.PHOTO, photo_id=int(someone.id)
        )
    assert refused.value.code == "photo"


# ---------------------------------------------------------------- idempotency and conflicts


async def test_the_same_event_sent_three_times_is_recorded_once() -> None:
    applicant, _application, shipment = await pickup()
    rider = await courier()
    await assigned(shipment, rider)
    code, same = await last_code(applicant.phone), key()
    results = [
        await step(shipment, "pick_up", Actor.COURIER, rider, proof=Proof.CODE, code=code, key=same)
        for _ in range(3)
    ]
    assert [r.duplicate for r in results] == [False, True, True]
    assert len([e for e in await events(shipment) if e.action == "pick_up"]) == 1


async def test_concurrent_replays_record_one_event() -> None:
    applicant, _application, shipment = await pickup()
    rider = await courier()
    await assigned(shipment, rider)
    code, same = await last_code(applicant.phone), key()
    results = await asyncio.gather(
        *(
            step(shipment, "pick_up", Actor.COURIER, rider, proof=Proof.CODE, code=code, key=same)
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len([e for e in await events(shipment) if e.action == "pick_up"]) == 1


async def test_a_key_of_another_shipment_is_refused() -> None:
    _a, _b, first = await pickup()
    _c, _d, second = await pickup()
    boss = await staff()
    rider = await courier()
    same = key()
    await step(first, "assign", Actor.STAFF, boss, courier_id=int(rider.id), key=same)
    with pytest.raises(CourierError) as refused:
        await step(second, "assign", Actor.STAFF, boss, courier_id=int(rider.id), key=same)
    assert refused.value.code == "key_reused"


async def test_a_reassigned_or_cancelled_job_is_a_conflict_for_its_old_courier() -> None:
    applicant, _application, shipment = await pickup()
    first, second, stranger = await courier(), await courier(), await courier()
    await assigned(shipment, first)
    await assigned(shipment, second)
    with pytest.raises(CourierError) as refused:
        await step(shipment, "fail", Actor.COURIER, first, reason="无人")
    assert (refused.value.code, refused.value.status) == ("reassigned", 409)
    with pytest.raises(CourierError) as refused:
        await step(shipment, "fail", Actor.COURIER, stranger, reason="无人")
    assert (refused.value.code, refused.value.status) == ("not_found", 404)
    await step(shipment, "cancel", Actor.APPLICANT, applicant)
    with pytest.raises(CourierError) as refused:
        await step(shipment, "fail", Actor.COURIER, second, reason="无人")
    assert (refused.value.code, refused.value.status) == ("cancelled", 409)


async def test_a_citizen_cancels_only_their_own_pickup() -> None:
    _applicant, _application, shipment = await pickup()
    with pytest.raises(CourierError) as refused:
        await step(shipment, "cancel", Actor.APPLICANT, await account())
    assert refused.value.status == 404
    assert (await Shipment.objects().where(Shipment.id == shipment.id).first()).status == (  # type: ignore[union-attr]
        Status.REQUESTED
    )


async def test_only_couriers_and_known_companies_are_assigned() -> None:
    _applicant, _application, shipment = await pickup()
    boss = await staff()
    for values in ({"courier_id": int((await account(Role.CITIZEN)).id)}, {"company": "nobody"}):
        with pytest.raises(CourierError):
            await step(shipment, "assign", Actor.STAFF, boss, **values)
    done = await step(shipment, "assign", Actor.STAFF, boss, company="demo")
    assert done.shipment.company == "demo" and done.shipment.courier is None


# ---------------------------------------------------------------- deliveries


async def test_a_delivery_to_an_address_with_the_signed_receipt(client: PageClient) -> None:
    authenticator, account_id = await signing.citizen(client)
    me = await Account.objects().where(Account.id == account_id).first()
    assert me is not None
    _applicant, application, shipment = await delivery(applicant=me)
    assert not await service.can_deliver(application, await items())
    rider = await courier()
    await assigned(shipment, rider)
    for action in ("pick_up", "depart", "out_for_delivery"):
        await step(shipment, action, Actor.COURIER, rider)
    with pytest.raises(CourierError) as refused:
        await step(shipment, "deliver", Actor.COURIER, rider, proof=Proof.SIGNATURE)
    assert refused.value.code == "not_signed"
    row = await Shipment.objects().where(Shipment.id == shipment.id).first()
    assert row is not None and row.receipt_document is not None
    # The recipient signs the receipt on their own phone, with their passkey.
    challenge_id, options, csrf = await signing.start(client, int(row.receipt_document))
    signed = await signing.finish(
        client,
        int(row.receipt_document),
        challenge_id,
        authenticator.get(options, ORIGIN),
        csrf,
    )
    assert signed.status_code == 200, signed.text
    done = await step(shipment, "deliver", Actor.COURIER, rider, proof=Proof.SIGNATURE)
    assert done.shipment.status == Status.DELIVERED
    assert (await events(shipment))[-1].signature


async def test_a_failed_delivery_is_tried_again_then_delivered_with_the_code() -> None:
    applicant, _application, shipment = await delivery()
    rider = await courier()
    await assigned(shipment, rider)
    for action in ("pick_up", "depart", "out_for_delivery"):
        await step(shipment, action, Actor.COURIER, rider)
    with pytest.raises(CourierError):
        await step(shipment, "fail", Actor.COURIER, rider)  # no reason
    done = await step(shipment, "fail", Actor.COURIER, rider, reason="家中无人")
    assert done.shipment.status == Status.FAILED and done.shipment.attempts == 1
    await step(shipment, "reattempt", Actor.COURIER, rider)
    code = await last_code(applicant.phone)  # a new code with each attempt
    done = await step(shipment, "deliver", Actor.COURIER, rider, proof=Proof.CODE, code=code)
    assert done.shipment.status == Status.DELIVERED


async def test_a_locker_delivery_is_collected_with_the_code_sent_by_sms() -> None:
    applicant, _application, shipment = await delivery(locker="hp-yuyuan")
    rider = await courier()
    await assigned(shipment, rider)
    for action in ("pick_up", "depart", "stock_locker"):
        await step(shipment, action, Actor.COURIER, rider)
    code = await last_code(applicant.phone, "courier_locker")
    boss = await staff()
    with pytest.raises(CourierError):
        await step(shipment, "collect", Actor.STAFF, boss, proof=Proof.LOCKER_CODE, code="12345x")
    done = await step(shipment, "collect", Actor.STAFF, boss, proof=Proof.LOCKER_CODE, code=code)
    assert done.shipment.status == Status.COLLECTED


async def test_a_delivery_needs_an_approved_application() -> None:
    applicant, application = await draft(ORIGINALS)
    with pytest.raises(CourierError) as refused:
        await service.request_delivery(
            applicant, application, await items(), address_id=None, locker="hp-yuyuan"
        )
    assert refused.value.code == "no_delivery"


async def test_the_dispatch_board_flags_late_pickups_and_failures() -> None:
    _applicant, _application, shipment = await pickup()
    board = await service.board()
    assert shipment.id in [s.id for s in board.unassigned]
    assert shipment.id not in [s.id for s in board.late]
    later = (shipment.window_end or service.utcnow()) + timedelta(minutes=1)
    assert shipment.id in [s.id for s in (await service.board(later)).late]


async def test_a_replay_that_passed_the_key_check_before_the_first_committed_is_a_duplicate() -> (
    None
):
    # The page and the service worker send the same queued event at once: the second looked
    # the key up before the first committed, and now finds the shipment moved on.
    applicant, _application, shipment = await pickup()
    rider = await courier()
    await assigned(shipment, rider)
    code, same = await last_code(applicant.phone), key()
    event = Event(action="pick_up", key=same, proof=Proof.CODE, code=code)
    first = await service.record(int(shipment.id), event, Actor.COURIER, rider)
    second = await service.record(int(shipment.id), event, Actor.COURIER, rider, checked=True)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert len([e for e in await events(shipment) if e.action == "pick_up"]) == 1
