"""Centres, slots and people for the appointments tests, made directly with explicit values."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from app.accounts.tables import Account, Role
from app.appointments import slots
from app.appointments.service import Purpose
from app.appointments.slots import DAY_KINDS
from app.appointments.tables import Centre, Counter, Slot
from app.core.redis import make_client
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import REDIS_URL

ALL_DAY = {kind: ["00:00-24:00"] for kind in DAY_KINDS}
OFFICE = {"workday": ["09:00-12:00", "13:30-17:00"], "saturday": ["09:00-12:00"]}
PURPOSE = Purpose(
    item_code="food-business-licence",
    application_id=None,
    title_zh="食品经营许可",
    title_en="Food business licence",
    materials=[{"zh": "身份证", "en": "ID card"}],
)


async def person(role: Role = Role.CITIZEN, name: str = "张三") -> Account:
    _typed, phone = fresh_phone()
    account = Account(
        phone=phone, role=role.value, name=name, webauthn_user_id=secrets.token_urlsafe(16)
    )
    await account.save()
    return account


async def centre(
    hours: dict[str, list[str]] | None = None,
    counters: tuple[tuple[str, ...], ...] = (("market",), ("market", "tax")),
    per_counter: int = 1,
) -> Centre:
    code = f"test-{secrets.token_hex(4)}"
    place = Centre(
        code=code,
        name_zh="测试中心",
        name_en="Test centre",
        district_zh="浦东新区",
        district_en="Pudong",
        address_zh="测试路1号",
        address_en="1 Test Road",
        hours=ALL_DAY if hours is None else hours,
        slot_minutes=30,
        per_counter=per_counter,
    )
    await place.save()
    for number, groups in enumerate(counters, start=1):
        await Counter(
            centre=place.id, number=number, groups=list(groups), key=f"{place.id}:{number}"
        ).save()
    await centres_changed()
    found = await slots.centre(int(place.id))
    assert found is not None
    return found


async def centres_changed() -> None:
    """What whoever changes a centre does: the public pages' copy of the centres is renewed."""
    client = make_client(REDIS_URL)
    try:
        await slots.centres_changed(client)
    finally:
        await client.aclose()


async def slot(
    place: Centre, capacity: int, starts_at: datetime | None = None, group: str = "market"
) -> Slot:
    """A slot of ``capacity`` places, by default tomorrow at the next whole half hour."""
    start = starts_at or (datetime.now(UTC) + timedelta(days=1)).replace(
        minute=0, second=0, microsecond=0
    )
    row = Slot(
        centre=place.id,
        group=group,
        day=slots.today(start),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        capacity=capacity,
        taken=0,
        key=f"{place.id}:{group}:{secrets.token_hex(6)}",
    )
    await row.save()
    return row


async def taken(slot_id: int) -> int:
    row = await Slot.select(Slot.taken).where(Slot.id == slot_id).first()
    assert row is not None
    return int(row["taken"])


def tomorrow() -> date:
    return slots.today() + timedelta(days=1)
