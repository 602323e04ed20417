"""Demo data for ``make run``, safe to run again: the demo citizens' address books and a few
shipments in several states, assigned to the demo courier 钱快递 (+8613800000021), so the
courier app and the dispatch board have something to show.

Everything goes through the rules (app/courier/service.py, app/applications/service.py): the
shipments have their real events and text messages. Nothing happens when any shipment exists.
"""

from __future__ import annotations

from datetime import timedelta

from app.accounts.tables import Account
from app.applications import service as applications
from app.applications.seed import LI_SI, OFFICER, ZHANG_SAN, _chunks, _guide, page_png
from app.applications.tables import Application, Provision
from app.config import get_settings
from app.core.logging import get_logger
from app.courier import service
from app.courier.machine import Actor
from app.courier.service import AddressInput, Event
from app.courier.tables import Shipment
from app.files import service as files
from app.files.storage import storage_from_settings

log = get_logger("courier")

COURIER = "+8613800000021"  # 钱快递
FLOOR = "+8613800000012"  # 赵巡查, who dispatches
REPLACEMENT = "business-licence-replacement"  # a paper original; courier and locker delivery
RENEWAL = "food-business-licence-renewal"  # delivered to the door once approved
HK_MACAO = "hk-macao-permit"  # photos handed in as originals


async def _latest(account: Account, item: str) -> Application | None:
    return (
        await Application.objects()
        .where(Application.applicant == account.id, Application.item_code == item)
        .order_by(Application.id, ascending=False)
        .first()
    )


async def _approved_renewal(applicant: Account, officer: Account) -> Application:
    """A new renewal application of 李四's, approved by the demo officer: its licence waits
    for delivery."""
    guide = await _guide(RENEWAL)
    application = await applications.start(applicant, guide, {}, {})
    storage = storage_from_settings(get_settings())
    for entry in await applications.entries_of(int(application.id)):
        if Provision.UPLOAD in applications.provisions_for(entry) and entry.provision in (
            Provision.NONE,
            Provision.UPLOAD,
        ):
            stored = await files.receive(
                storage,
                int(applicant.id),
                f"{entry.code}.png",
                _chunks(page_png(entry.code)),
                max_bytes=get_settings().max_upload_mb * files.MIB,
                purpose="application",
            )
            current = await applications.application_of(int(applicant.id), int(application.id))
            assert current is not None
            await applications.attach(current, int(entry.id), stored)
    current = await applications.application_of(int(applicant.id), int(application.id))
    assert current is not None
    await applications.submit(
        applicant, current, version=current.version, assurance=2, items=guide.items
    )
    for action, mode in (
        ("prereview", ""),
        ("accept", "complete"),
        ("review", ""),
        ("approve", ""),
    ):
        case = (await applications.cases_of(int(application.id)))[0]
        await applications.act(officer, int(case.id), action, version=case.version, mode=mode)
    found = await applications.application_of(int(applicant.id), int(application.id))
    assert found is not None
    return found


async def seed_courier() -> int:
    """Address books and shipments for the demo, unless shipments exist; returns how many."""
    if await Shipment.exists():
        return 0
    phones = (ZHANG_SAN, LI_SI, OFFICER, COURIER, FLOOR)
    people = {
        person.phone: person
        for person in await Account.objects().where(Account.phone.is_in(list(phones)))
    }
    if set(people) != set(phones):
        return 0
    zhang, li, courier, floor = people[ZHANG_SAN], people[LI_SI], people[COURIER], people[FLOOR]
    zhang_home = await service.add_address(
        int(zhang.id),
        AddressInput("张三", "13800000001", "huangpu", "中山东一路 12 号 3 楼 301 室"),
    )
    li_home = await service.add_address(
        int(li.id), AddressInput("李四", "13800000002", "pudong", "世纪大道 100 号 2 号楼 1201 室")
    )
    tomorrow = service.shanghai_today() + timedelta(days=1)
    made = 0

    async def step(
        shipment: Shipment, action: str, actor: Actor, who: Account, courier_id: int | None = None
    ) -> None:
        event = Event(action=action, key=f"seed:{shipment.waybill}:{action}", courier_id=courier_id)
        await service.record(int(shipment.id), event, actor, who)

    # 张三's replacement (returned for correction) sends the damaged licence: assigned.
    replacement = await _latest(zhang, REPLACEMENT)
    if replacement is not None:
        done = await service.request_pickup(
            zhang,
            replacement,
            (await _guide(REPLACEMENT)).items,
            address_id=int(zhang_home.id),
            day=tomorrow,
            slot="morning",
        )
        await step(done.shipment, "assign", Actor.STAFF, floor, courier_id=int(courier.id))
        made += 1
    # 李四's Hong Kong and Macao permit sends the photos: waiting for dispatch.
    permit = await _latest(li, HK_MACAO)
    if permit is not None:
        await service.request_pickup(
            li,
            permit,
            (await _guide(HK_MACAO)).items,
            address_id=int(li_home.id),
            day=tomorrow,
            slot="afternoon",
        )
        made += 1
    # 李四's approved renewal: the licence is on its way to the door.
    approved = await _approved_renewal(li, people[OFFICER])
    done = await service.request_delivery(
        li, approved, (await _guide(RENEWAL)).items, address_id=int(li_home.id), locker=""
    )
    await step(done.shipment, "assign", Actor.STAFF, floor, courier_id=int(courier.id))
    await step(done.shipment, "pick_up", Actor.COURIER, courier)
    await step(done.shipment, "depart", Actor.COURIER, courier)
    made += 1
    log.info("courier_seed_success", count=made)
    return made
