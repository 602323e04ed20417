"""Citizens, couriers, staff and shipments for the courier tests, made through the real rules."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from app.accounts.tables import Account, Role
from app.applications.tables import Application
from app.courier import service
from app.courier.machine import Actor, Proof
from app.courier.service import AddressInput, Done, Event
from app.courier.tables import Shipment
from app.notifications.tables import Notification
from tests.applications.people import (
    account,
    case_in,
    draft,
    fresh,
    guide_of,
    officer,
    submitted,
    to_review,
)
from tests.applications.people import act as officer_act

ORIGINALS = "business-licence-replacement"  # its damaged licence is a paper original
MARKET = "market-regulation"


async def courier() -> Account:
    return await account(Role.COURIER, name="孙快递")


async def staff() -> Account:
    return await account(Role.FLOOR_MANAGER, name="赵巡查")


async def address_of(person: Account, district: str = "huangpu") -> int:
    address = await service.add_address(
        int(person.id),
        AddressInput("张三", "13800000001", district, "中山东一路 12 号 3 楼 301 室"),
    )
    return int(address.id)


async def items(code: str = ORIGINALS) -> Any:
    return (await guide_of(code)).items


async def pickup(applicant: Account | None = None) -> tuple[Account, Application, Shipment]:
    """A draft with an original and a pickup asked for tomorrow morning."""
    applicant, application = await draft(ORIGINALS, applicant)
    done = await service.request_pickup(
        applicant,
        application,
        await items(),
        address_id=await address_of(applicant),
        day=service.shanghai_today() + timedelta(days=1),
        slot="morning",
    )
    return applicant, await fresh(application), done.shipment


async def approved_application(
    code: str = ORIGINALS, applicant: Account | None = None
) -> tuple[Account, Application]:
    applicant, application = await submitted(code, applicant)
    market = await officer(MARKET)
    case = await case_in(application, MARKET)
    await to_review(market, int(case.id))
    await officer_act(market, int(case.id), "approve")
    return applicant, await fresh(application)


async def delivery(
    locker: str = "", applicant: Account | None = None
) -> tuple[Account, Application, Shipment]:
    applicant, application = await approved_application(applicant=applicant)
    done = await service.request_delivery(
        applicant,
        application,
        await items(),
        address_id=None if locker else await address_of(applicant),
        locker=locker,
    )
    return applicant, application, done.shipment


def key() -> str:
    return str(uuid.uuid4())


async def step(
    shipment: Shipment,
    action: str,
    actor: Actor,
    who: Account | None,
    **values: Any,
) -> Done:
    return await service.record(
        int(shipment.id), Event(action=action, key=values.pop("key", key()), **values), actor, who
    )


async def assigned(shipment: Shipment, to: Account) -> Done:
    return await step(shipment, "assign", Actor.STAFF, await staff(), courier_id=int(to.id))


async def last_code(phone: str, kind: str = "courier_handover") -> str:
    row = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == phone, Notification.kind == kind)
        .order_by(Notification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert row is not None, f"no {kind} SMS queued"
    param = "pickup" if kind == "courier_locker" else "handover"
    code: str = row["params"][param]
    return code


CODE = Proof.CODE
