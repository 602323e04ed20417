"""Rules of the courier service (docs/courier.md): the address book, asking for a pickup or a
delivery, and every event of a shipment.

Every change of a shipment's status goes through ``record``: it asks ``machine.transition``
first, checks who acts (the assigned courier, the assigned company, centre staff, the
applicant), checks the proof, then writes the status with a conditional update on the
shipment's ``version`` and inserts the event, in one ``write_transaction``. The event's ``key``
is unique: the same event sent again (a replay from the courier's phone, a company's retry)
finds the first one and changes nothing. Notifications are written in the same transaction
(the outbox); their ids are returned so the caller can ``send_soon`` after commit.

Ownership is part of every query: a citizen finds only their own addresses and shipments, a
courier only the jobs assigned to them; anything else is "not found".
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.accounts.phone import normalise_phone
from app.accounts.tables import Account, Role
from app.applications import service as applications
from app.applications.tables import Application, Case, MaterialEntry, Obligation, Provision, State
from app.config import get_settings
from app.core.crypto import keyed_hash
from app.core.display import as_utc
from app.core.i18n import N_, _, translations
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.courier.machine import (
    ACTIVE,
    STATUS_LABELS,
    Actor,
    Proof,
    Transition,
    TransitionRefused,
    transition,
)
from app.courier.tables import Address, Kind, Shipment, ShipmentEvent, Status
from app.files import service as files
from app.files.tables import StoredFile
from app.notifications.services import notify
from app.signing.service import prepare, signature_of
from app.signing.tables import DocumentKind

log = get_logger("courier")

SHANGHAI = ZoneInfo("Asia/Shanghai")
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MAX_ADDRESSES = 20
WINDOW_DAYS = 14  # a pickup may be booked up to this many days ahead
LATE_GRACE = timedelta(0)  # a pickup is late once its window has ended
FUTURE_SKEW = timedelta(minutes=5)  # a phone's clock may run this far ahead
OLDEST_EVENT = timedelta(days=7)  # an event queued offline longer than this is dated now

# Shanghai's 16 districts (上海市辖区), in the order of the official list.
DISTRICTS: dict[str, tuple[str, str]] = {
    "huangpu": ("黄浦区", "Huangpu"),
    "xuhui": ("徐汇区", "Xuhui"),
    "changning": ("长宁区", "Changning"),
    "jingan": ("静安区", "Jing'an"),
    "putuo": ("普陀区", "Putuo"),
    "hongkou": ("虹口区", "Hongkou"),
    "yangpu": ("杨浦区", "Yangpu"),
    "minhang": ("闵行区", "Minhang"),
    "baoshan": ("宝山区", "Baoshan"),
    "jiading": ("嘉定区", "Jiading"),
    "pudong": ("浦东新区", "Pudong New Area"),
    "jinshan": ("金山区", "Jinshan"),
    "songjiang": ("松江区", "Songjiang"),
    "qingpu": ("青浦区", "Qingpu"),
    "fengxian": ("奉贤区", "Fengxian"),
    "chongming": ("崇明区", "Chongming"),
}

# Huangpu's electronic licence lockers, one per sub-district (街道).
LOCKERS: dict[str, tuple[str, str]] = {
    "hp-nanjing-east": ("南京东路街道证照柜", "Nanjing East Road licence locker"),
    "hp-bund": ("外滩街道证照柜", "The Bund licence locker"),
    "hp-bansongyuan": ("半淞园路街道证照柜", "Bansongyuan Road licence locker"),
    "hp-xiaodongmen": ("小东门街道证照柜", "Xiaodongmen licence locker"),
    "hp-yuyuan": ("豫园街道证照柜", "Yuyuan licence locker"),
    "hp-laoximen": ("老西门街道证照柜", "Laoximen licence locker"),
    "hp-wuliqiao": ("五里桥街道证照柜", "Wuliqiao licence locker"),
    "hp-dapuqiao": ("打浦桥街道证照柜", "Dapuqiao licence locker"),
    "hp-huaihai": ("淮海中路街道证照柜", "Middle Huaihai Road licence locker"),
    "hp-ruijin": ("瑞金二路街道证照柜", "Ruijin No.2 Road licence locker"),
}

# Pickup windows, Beijing time: (start hour, end hour).
WINDOWS: dict[str, tuple[int, int]] = {
    "morning": (9, 12),
    "afternoon": (13, 17),
    "evening": (18, 20),
}
WINDOW_LABELS = {
    "morning": N_("Morning, 9:00–12:00"),
    "afternoon": N_("Afternoon, 13:00–17:00"),
    "evening": N_("Evening, 18:00–20:00"),
}

# Statuses the applicant hears about by SMS.
TOLD = frozenset(
    {
        Status.PICKED_UP,
        Status.OUT_FOR_DELIVERY,
        Status.DELIVERED,
        Status.FAILED,
        Status.IN_LOCKER,
        Status.RECEIVED,
    }
)


class CourierError(Exception):
    """A request the rules refuse; ``message`` is a localised sentence for the person.
    ``status`` is the HTTP status: 400 bad input, 404 not found, 409 a conflict (the job was
    reassigned or cancelled, or its status moved on)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def not_found() -> CourierError:
    return CourierError("not_found", _("No such shipment."), 404)


def utcnow() -> datetime:
    return datetime.now(UTC)


def district_name(code: str, locale: str) -> str:
    names = DISTRICTS.get(code)
    if names is None:
        return code
    return names[0] if locale == "zh-Hans" else names[1]


def locker_name(code: str, locale: str) -> str:
    names = LOCKERS.get(code)
    if names is None:
        return code
    return names[0] if locale == "zh-Hans" else names[1]


def place(shipment: Shipment, locale: str, *, street: bool = True) -> tuple[str, str]:
    """Where a shipment goes, for a page: (the district or locker, named in ``locale``; the
    street as typed, or "" when ``street`` is false)."""
    if shipment.locker and shipment.status != Status.OUT_FOR_DELIVERY:
        return locker_name(shipment.locker, locale), ""
    return district_name(shipment.district, locale), shipment.street if street else ""


# ---------------------------------------------------------------- the address book


@dataclass
class AddressInput:
    contact_name: str = ""
    phone: str = ""
    district: str = ""
    street: str = ""


def check_address(given: AddressInput) -> tuple[AddressInput, dict[str, str]]:
    """The address cleaned, and a localised message per field that is wrong."""
    errors: dict[str, str] = {}
    name = " ".join(given.contact_name.split())
    street = " ".join(given.street.split())
    if not 1 <= len(name) <= 40:
        errors["contact_name"] = _("Please give the contact's name (at most 40 characters).")
    phone = normalise_phone(given.phone)
    if phone is None:
        errors["phone"] = _(
            "Please enter a valid mainland mobile number, for example 138 0000 0000."
        )
    if given.district not in DISTRICTS:
        errors["district"] = _("Please choose a district of Shanghai.")
    if len(street) < 4 or len(street) > 200:
        errors["street"] = _(
            "Please give the street, number, building and room (4 to 200 characters)."
        )
    return AddressInput(name, phone or "", given.district, street), errors


async def addresses_of(account_id: int) -> list[Address]:
    return await Address.objects().where(Address.owner == account_id).order_by(Address.id)


async def add_address(account_id: int, given: AddressInput) -> Address:
    cleaned, errors = check_address(given)
    if errors:
        field_name, message = next(iter(errors.items()))
        raise CourierError(f"address_{field_name}", message)
    async with write_transaction(f"addresses:{account_id}"):
        if await Address.count().where(Address.owner == account_id) >= MAX_ADDRESSES:
            raise CourierError(
                "too_many",
                _("An address book holds at most %(count)s addresses.", count=MAX_ADDRESSES),
            )
        address = Address(
            owner=account_id,
            contact_name=cleaned.contact_name,
            phone=cleaned.phone,
            district=cleaned.district,
            street=cleaned.street,
        )
        await address.save()
    return address


async def delete_address(account_id: int, address_id: int) -> bool:
    deleted = (
        await Address.delete()
        .where(Address.id == address_id, Address.owner == account_id)
        .returning(Address.id)
    )
    return bool(deleted)


async def _address(account_id: int, address_id: int) -> Address:
    found = (
        await Address.objects().where(Address.id == address_id, Address.owner == account_id).first()
    )
    if found is None:
        raise CourierError("no_address", _("Please choose an address from your address book."))
    return found


# ---------------------------------------------------------------- asking for a shipment


@dataclass
class Done:
    """What a request or an event did: the shipment as it is now, the event, whether it was
    a replay of an event already recorded, and the notifications to send after commit."""

    shipment: Shipment
    event: ShipmentEvent | None = None
    duplicate: bool = False
    notifications: list[int] = field(default_factory=list)


def originals(entries: Sequence[MaterialEntry]) -> list[MaterialEntry]:
    """The materials a pickup carries: paper originals, unless already supplied."""
    return [
        e
        for e in entries
        if (e.kind == "original" or e.provision == Provision.ORIGINAL)
        and e.obligation not in (Obligation.SUPPLIED, Obligation.ENFORCED)
    ]


def _delivery_options(items: Sequence[Any]) -> frozenset[str]:
    """What every item of the application offers (双向寄递 ``courier``, ``locker``)."""
    offered: set[str] | None = None
    for item in items:
        options = set(item.delivery)
        offered = options if offered is None else offered & options
    return frozenset(offered or ())


def free_of_charge(items: Sequence[Any]) -> bool:
    """Free both ways when every item offers courier delivery (双向免费寄递)."""
    return bool(items) and "courier" in _delivery_options(items)


async def _unused_ref() -> str:
    while True:
        ref = "TB" + "".join(secrets.choice(ALPHABET) for _ in range(10))
        if not await Shipment.exists().where(Shipment.waybill == ref):
            return ref


def window_of(day: date, slot: str) -> tuple[datetime, datetime]:
    start_hour, end_hour = WINDOWS[slot]
    start = datetime.combine(day, time(start_hour), SHANGHAI).astimezone(UTC)
    end = datetime.combine(day, time(end_hour), SHANGHAI).astimezone(UTC)
    return start, end


def shanghai_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SHANGHAI).date()


async def shipments_of(application_id: int) -> list[Shipment]:
    return (
        await Shipment.objects().where(Shipment.application == application_id).order_by(Shipment.id)
    )


def _active(shipments: Sequence[Shipment], kind: Kind) -> Shipment | None:
    return next((s for s in shipments if s.kind == kind and s.status in ACTIVE), None)


def pickup_possible(
    application: Application,
    items: Sequence[Any],
    entries: Sequence[MaterialEntry],
    shipments: Sequence[Shipment],
) -> bool:
    """Originals to send, an item that offers courier, no pickup under way, and an
    application still running."""
    if application.state in (State.WITHDRAWN, State.REJECTED, State.ISSUED, State.APPROVED):
        return False
    if "courier" not in _delivery_options(items) or not originals(entries):
        return False
    return _active(shipments, Kind.PICKUP) is None


async def can_pickup(application: Application, items: Sequence[Any]) -> bool:
    return pickup_possible(
        application,
        items,
        await applications.entries_of(int(application.id)),
        await shipments_of(int(application.id)),
    )


async def approved(application: Application) -> bool:
    return await Case.exists().where(
        Case.application == application.id, Case.state.is_in([State.APPROVED, State.ISSUED])
    )


def delivery_options(items: Sequence[Any]) -> tuple[bool, bool]:
    """(to an address, to a locker) as the items allow."""
    offered = _delivery_options(items)
    return "courier" in offered, "locker" in offered


def delivery_possible(items: Sequence[Any], approved: bool, shipments: Sequence[Shipment]) -> bool:
    """A case approved, an item that delivers, and no delivery asked for yet."""
    if not approved or not any(delivery_options(items)):
        return False
    return not any(s.kind == Kind.DELIVERY and s.status != Status.CANCELLED for s in shipments)


async def can_deliver(application: Application, items: Sequence[Any]) -> bool:
    return delivery_possible(
        items, await approved(application), await shipments_of(int(application.id))
    )


def _snapshot(address: Address) -> dict[Any, Any]:
    return {
        Shipment.contact_name: address.contact_name,
        Shipment.phone: address.phone,
        Shipment.district: address.district,
        Shipment.street: address.street,
    }


async def _first_event(shipment: Shipment, applicant: Account, key: str) -> ShipmentEvent:
    event = ShipmentEvent(
        shipment=shipment.id,
        key=key,
        action="request",
        from_status="",
        to_status=Status.REQUESTED,
        actor_id=applicant.id,
        actor_kind=Actor.APPLICANT,
        at=utcnow(),
    )
    await event.save()
    await _timeline_grew(int(shipment.application))
    return event


async def _timeline_grew(application_id: int) -> None:
    """A shipment event is on the application's public tracking page, which is cached per
    application version (app/applications/tracking.py): the version moves on with it, as
    for the application's own timeline."""
    await Application.update({Application.version: Application.version + 1}).where(
        Application.id == application_id
    )


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(purpose: str, shipment_id: int, code: str) -> str:
    return keyed_hash(f"courier.{purpose}", str(shipment_id), code)


async def request_pickup(
    applicant: Account,
    application: Application,
    items: Sequence[Any],
    *,
    address_id: int,
    day: date,
    slot: str,
    now: datetime | None = None,
) -> Done:
    """Send the application's originals by courier: a pickup from one of the applicant's
    addresses in a window. The handover code goes to the applicant by SMS."""
    now = now or utcnow()
    address = await _address(int(applicant.id), address_id)
    if slot not in WINDOWS:
        raise CourierError("window", _("Please choose a pickup time."))
    start, end = window_of(day, slot)
    today = shanghai_today(now)
    if end <= now or day > today + timedelta(days=WINDOW_DAYS):
        raise CourierError(
            "window",
            _(
                "Please choose a pickup time from now to %(days)s days ahead.",
                days=WINDOW_DAYS,
            ),
        )
    async with write_transaction(f"application:{application.id}"):
        if not await can_pickup(application, items):
            raise CourierError(
                "no_pickup", _("There is nothing to pick up for this application now."), 409
            )
        codes = [e.code for e in originals(await applications.entries_of(int(application.id)))]
        shipment = Shipment(
            waybill=await _unused_ref(),
            application=application.id,
            applicant=applicant.id,
            kind=Kind.PICKUP,
            status=Status.REQUESTED,
            window_start=start,
            window_end=end,
            free=free_of_charge(items),
            materials=",".join(codes)[:400],
        )
        for column, value in _snapshot(address).items():
            setattr(shipment, column._meta.name, value)
        await shipment.save()
        code = new_code()
        await Shipment.update(
            {Shipment.handover_hash: code_hash("handover", shipment.id, code)}
        ).where(Shipment.id == shipment.id)
        event = await _first_event(shipment, applicant, f"request:{shipment.waybill}")
        sent = await notify(
            "courier_handover",
            applicant.phone,
            {"code": applications.display_code(application.code), "handover": code},
            locale=applicant.locale,
            user_id=int(applicant.id),
        )
    log.info("courier_pickup_request_success", shipment_id=shipment.id)
    return Done(shipment=shipment, event=event, notifications=[sent])


async def request_delivery(
    applicant: Account,
    application: Application,
    items: Sequence[Any],
    *,
    address_id: int | None,
    locker: str,
) -> Done:
    """Have the licence delivered to an address or put in a licence locker."""
    to_address, to_locker = delivery_options(items)
    address = None
    if locker:
        if locker not in LOCKERS or not to_locker:
            raise CourierError("locker", _("Please choose a licence locker from the list."))
    else:
        if not to_address:
            raise CourierError("no_courier", _("This service does not deliver to an address."))
        address = await _address(int(applicant.id), address_id or 0)
    async with write_transaction(f"application:{application.id}"):
        if not await can_deliver(application, items):
            raise CourierError(
                "no_delivery", _("A delivery cannot be asked for this application now."), 409
            )
        shipment = Shipment(
            waybill=await _unused_ref(),
            application=application.id,
            applicant=applicant.id,
            kind=Kind.DELIVERY,
            status=Status.REQUESTED,
            locker=locker,
            free=free_of_charge(items),
        )
        if address is not None:
            for column, value in _snapshot(address).items():
                setattr(shipment, column._meta.name, value)
        await shipment.save()
        event = await _first_event(shipment, applicant, f"request:{shipment.waybill}")
    log.info("courier_delivery_request_success", shipment_id=shipment.id)
    return Done(shipment=shipment, event=event)


# ---------------------------------------------------------------- events


@dataclass
class Event:
    """What someone reports about a shipment."""

    action: str
    key: str  # idempotency key: a UUID from the courier app, company:event-id from a webhook
    proof: Proof = Proof.NONE
    code: str = ""  # the handover or locker code, when that is the proof
    photo_id: int | None = None  # a stored file of the actor's, when that is the proof
    reason: str = ""
    at: datetime | None = None  # when it happened, by the reporter's clock
    lat: float | None = None
    lng: float | None = None
    courier_id: int | None = None  # assign: the courier
    company: str = ""  # assign: the company; a webhook event: the company reporting


KEY_RE = re.compile(r"^[A-Za-z0-9:_\-.]{8,100}$")


def _when(at: datetime | None, now: datetime) -> datetime:
    """The reporter's time, unless it is missing or out of bounds (then now)."""
    if at is None or at.tzinfo is None:
        return now
    if at > now + FUTURE_SKEW or at < now - OLDEST_EVENT:
        return now
    return at.astimezone(UTC)


def _e6(value: float | None, limit: float) -> int | None:
    if value is None or not -limit <= value <= limit:
        return None
    return round(value * 1_000_000)


async def _existing(key: str) -> ShipmentEvent | None:
    return await ShipmentEvent.objects().where(ShipmentEvent.key == key).first()


async def _shipment(shipment_id: int) -> Shipment | None:
    return await Shipment.objects().where(Shipment.id == shipment_id).first()


async def _ever_assigned(shipment_id: int, courier_id: int) -> bool:
    return await ShipmentEvent.exists().where(
        ShipmentEvent.shipment == shipment_id,
        ShipmentEvent.action == "assign",
        ShipmentEvent.assignee == courier_id,
    )


async def _authorise(
    shipment: Shipment, actor: Actor, account: Account | None, company: str
) -> None:
    """Who may report on this shipment. A courier who had the job once and lost it (or
    whose job was cancelled) is told so (409); anyone else finds nothing (404)."""
    if actor is Actor.COURIER:
        assert account is not None
        if shipment.courier == account.id and shipment.status != Status.CANCELLED:
            return
        if await _ever_assigned(int(shipment.id), int(account.id)):
            if shipment.status == Status.CANCELLED:
                raise CourierError(
                    "cancelled", _("This job was cancelled; nothing was recorded."), 409
                )
            raise CourierError(
                "reassigned",
                _("This job was given to another courier; nothing was recorded."),
                409,
            )
        raise not_found()
    if actor is Actor.COMPANY:
        if not company or shipment.company != company:
            raise not_found()
        return
    if actor is Actor.APPLICANT:
        assert account is not None
        if shipment.applicant != account.id:
            raise not_found()


async def _check_code(shipment: Shipment, purpose: str, code: str) -> None:
    """One guess at the handover or locker code, counted; a shipment takes a limited number
    of wrong guesses in all."""
    stored = shipment.handover_hash if purpose == "handover" else shipment.locker_hash
    limit = get_settings().courier_code_attempts
    if not stored:
        raise CourierError("no_code", _("This shipment has no code to check."), 409)
    if shipment.code_attempts >= limit:
        raise CourierError(
            "code_locked",
            _("Too many wrong codes: use a photo or the signed receipt as the proof instead."),
            409,
        )
    if re.fullmatch(r"\d{6}", code.strip()) and hmac.compare_digest(
        code_hash(purpose, int(shipment.id), code.strip()), stored
    ):
        return
    counted = (
        await Shipment.update({Shipment.code_attempts: Shipment.code_attempts + 1})
        .where(Shipment.id == shipment.id, Shipment.code_attempts < limit)
        .returning(Shipment.code_attempts)
    )
    left = limit - (counted[0]["code_attempts"] if counted else limit)
    raise CourierError(
        "wrong_code",
        _("That code is not right. %(left)s tries left.", left=max(left, 0)),
        409,
    )


def _local(msgid: str, locale: str) -> str:
    return translations(locale).gettext(msgid)


def _quiet(status: Status | str) -> bool:
    return status not in TOLD and status not in (Status.OUT_FOR_DELIVERY, Status.IN_LOCKER)


async def _audience(shipment: Shipment) -> tuple[Account, str] | None:
    """The applicant and the application's code, for the text messages (read before the
    write transaction: they do not change, and the write lock is held for less)."""
    applicant = await Account.objects().where(Account.id == shipment.applicant).first()
    application = (
        await Application.select(Application.code)
        .where(Application.id == shipment.application)
        .first()
    )
    if applicant is None or application is None:
        return None
    return applicant, applications.display_code(application["code"])


async def _tell(
    shipment: Shipment, status: Status, audience: tuple[Account, str] | None = None
) -> list[int]:
    """SMS to the applicant about the shipment's new status, in their language; a handover
    code or a locker code with it where one is made now."""
    if _quiet(status):
        return []
    audience = audience or await _audience(shipment)
    if audience is None:
        return []
    applicant, code = audience
    sent = []
    if status in TOLD:
        sent.append(
            await notify(
                "courier_status",
                applicant.phone,
                {"code": code, "status": _local(STATUS_LABELS[status], applicant.locale)},
                locale=applicant.locale,
                user_id=int(applicant.id),
            )
        )
    if status is Status.OUT_FOR_DELIVERY:
        handover = new_code()
        await Shipment.update(
            {
                Shipment.handover_hash: code_hash("handover", int(shipment.id), handover),
                Shipment.code_attempts: 0,
            }
        ).where(Shipment.id == shipment.id)
        sent.append(
            await notify(
                "courier_handover",
                applicant.phone,
                {"code": code, "handover": handover},
                locale=applicant.locale,
                user_id=int(applicant.id),
            )
        )
        if shipment.receipt_document is None:
            document = await prepare(
                applicant,
                DocumentKind.RECEIPT,
                f"签收单 Delivery receipt — {code}",
                f"本人已收到办件 {code} 的证照（运单号 {shipment.waybill}）。\n\n"
                f"I have received the licence of application {code} (waybill {shipment.waybill}).",
                references=[
                    {"type": "application", "id": code},
                    {"type": "shipment", "id": shipment.waybill},
                ],
            )
            await Shipment.update({Shipment.receipt_document: document.id}).where(
                Shipment.id == shipment.id
            )
    if status is Status.IN_LOCKER:
        pickup = new_code()
        await Shipment.update(
            {
                Shipment.locker_hash: code_hash("locker", int(shipment.id), pickup),
                Shipment.code_attempts: 0,
            }
        ).where(Shipment.id == shipment.id)
        sent.append(
            await notify(
                "courier_locker",
                applicant.phone,
                {
                    "code": code,
                    "locker": locker_name(shipment.locker, applicant.locale),
                    "pickup": pickup,
                },
                locale=applicant.locale,
                user_id=int(applicant.id),
            )
        )
    return sent


async def _decide(
    shipment: Shipment, event: Event, actor: Actor, account: Account | None
) -> Transition:
    """May this actor take this step on the shipment as it stands: the transition, or a 409
    that says why not (a 404 when the shipment is not the actor's to see)."""
    await _authorise(shipment, actor, account, event.company)
    try:
        return transition(
            shipment.kind,
            event.action,
            shipment.status,
            actor,
            to_locker=bool(shipment.locker),
            proof=event.proof,
            reason=event.reason,
        )
    except TransitionRefused as refused:
        raise CourierError(refused.code, refused.message, 409) from refused


async def _checked(
    shipment_id: int, event: Event, actor: Actor, account: Account | None
) -> tuple[Shipment, Transition, str, Account | None]:
    """Everything decided before the write: who, the transition, the proof."""
    shipment = await _shipment(shipment_id)
    if shipment is None:
        raise not_found()
    found = await _decide(shipment, event, actor, account)
    signature = ""
    if event.proof is Proof.CODE and not (actor is Actor.COMPANY and not event.code):
        await _check_code(shipment, "handover", event.code)
    elif event.proof is Proof.LOCKER_CODE:
        await _check_code(shipment, "locker", event.code)
    elif event.proof is Proof.SIGNATURE:
        signed = (
            await signature_of(int(shipment.receipt_document))
            if shipment.receipt_document is not None
            else None
        )
        if signed is None:
            raise CourierError(
                "not_signed",
                _("The recipient has not signed the delivery receipt yet."),
                409,
            )
        signature = signed
    if event.proof is Proof.PHOTO or event.photo_id is not None:
        photo = (
            await StoredFile.select(StoredFile.id)
            .where(
                StoredFile.id == (event.photo_id or 0),
                StoredFile.owner == (account.id if account is not None else 0),
            )
            .first()
        )
        if photo is None:
            raise CourierError("photo", _("Please take a photo of the handover."))
    assignee: Account | None = None
    if event.action == "assign":
        assignee = await _assignee(event)
    return shipment, found, signature, assignee


async def record(
    shipment_id: int,
    event: Event,
    actor: Actor,
    account: Account | None = None,
    *,
    now: datetime | None = None,
    checked: bool = False,
) -> Done:
    """Record one event of a shipment, once: the same ``key`` again returns the first
    event (``duplicate``) and changes nothing. Raises CourierError, never half-writes.
    ``checked``: the caller has just looked the key up (``record_if_known``)."""
    now = now or utcnow()
    if not KEY_RE.match(event.key):
        raise CourierError("key", _("This update has no valid idempotency key."))
    earlier = None if checked else await _existing(event.key)
    if earlier is not None:
        return await _replayed(earlier, shipment_id, account)
    try:
        shipment, found, signature, assignee = await _checked(shipment_id, event, actor, account)
    except CourierError:
        # A replay that raced the first send may find the shipment moved on already: it is
        # that same event, answered as a duplicate, not refused.
        earlier = await _existing(event.key)
        if earlier is not None:
            return await _replayed(earlier, shipment_id, account)
        raise
    audience = None if _quiet(found.target) else await _audience(shipment)
    async with write_transaction(f"shipment:{shipment_id}"):
        # Inside the lock: a replay that raced this one is found here.
        earlier = await _existing(event.key)
        if earlier is not None:
            return await _replayed(earlier, shipment_id, account)
        current = await _shipment(shipment_id)
        assert current is not None
        if current.version != shipment.version:
            # Something happened meanwhile: decide again on what is there now.
            shipment = current
            found = await _decide(shipment, event, actor, account)
        values: dict[Any, Any] = {
            Shipment.status: found.target,
            Shipment.version: shipment.version + 1,
            Shipment.updated_at: now,
        }
        if event.action == "assign":
            values[Shipment.courier] = assignee.id if assignee else None
            values[Shipment.company] = "" if assignee else event.company
        if event.action == "fail":
            values[Shipment.attempts] = Shipment.attempts + 1
        updated = (
            await Shipment.update(values)
            .where(Shipment.id == shipment_id, Shipment.version == shipment.version)
            .returning(Shipment.id)
        )
        if not updated:
            raise CourierError(
                "moved", _("This shipment changed meanwhile; nothing was recorded."), 409
            )
        row = ShipmentEvent(
            shipment=shipment_id,
            key=event.key,
            action=event.action,
            from_status=shipment.status,
            to_status=found.target,
            actor_id=account.id if account is not None else None,
            actor_kind=actor.value,
            company=event.company if actor is Actor.COMPANY else "",
            assignee=assignee.id if assignee else None,
            at=_when(event.at, now),
            recorded_at=now,
            lat_e6=_e6(event.lat, 90),
            lng_e6=_e6(event.lng, 180),
            reason=event.reason.strip()[:500],
            proof=event.proof.value,
            photo=event.photo_id,
            signature=signature,
        )
        await row.save()
        await _timeline_grew(int(shipment.application))
        shipment.status, shipment.version = found.target, shipment.version + 1
        sent = await _tell(shipment, Status(found.target), audience)
        if found.target == Status.RECEIVED:
            await applications.originals_received(
                int(shipment.application),
                [c for c in shipment.materials.split(",") if c],
                account.id if account is not None else None,
                reference=shipment.waybill,
            )
    log.info(
        "courier_event_success",
        shipment_id=shipment_id,
        action=event.action,
        actor=actor.value,
        event_id=row.id,
    )
    shipment.updated_at = now
    if event.action == "assign":
        shipment.courier = assignee.id if assignee else None
        shipment.company = "" if assignee else event.company
    if event.action == "fail":
        shipment.attempts += 1
    return Done(shipment=shipment, event=row, notifications=sent)


async def record_if_known(shipment_id: int, key: str, account: Account | None) -> Done | None:
    """The event already recorded under ``key`` (a replay), before any upload is stored."""
    if not KEY_RE.match(key):
        return None
    earlier = await _existing(key)
    return None if earlier is None else await _replayed(earlier, shipment_id, account)


async def _replayed(
    earlier: ShipmentEvent, shipment_id: int, account: Account | None = None
) -> Done:
    mine = account is None or earlier.actor_id == account.id
    if earlier.shipment != shipment_id or not mine:
        raise CourierError(
            "key_reused", _("This idempotency key belongs to another shipment."), 409
        )
    shipment = await _shipment(shipment_id)
    assert shipment is not None
    log.info("courier_event_replay", shipment_id=shipment_id, event_id=earlier.id)
    return Done(shipment=shipment, event=earlier, duplicate=True)


async def _assignee(event: Event) -> Account | None:
    if event.company:
        if get_settings().courier_secret(event.company) is None:
            raise CourierError("company", _("Please choose a courier or a courier company."))
        return None
    courier = (
        await Account.objects()
        .where(
            Account.id == (event.courier_id or 0),
            Account.role == Role.COURIER,
            Account.is_active.eq(True),
        )
        .first()
    )
    if courier is None:
        raise CourierError("courier", _("Please choose a courier or a courier company."))
    return courier


# ---------------------------------------------------------------- reading


async def events_of(shipment_ids: Sequence[int]) -> dict[int, list[ShipmentEvent]]:
    found: dict[int, list[ShipmentEvent]] = {i: [] for i in shipment_ids}
    if not shipment_ids:
        return found
    for event in (
        await ShipmentEvent.objects()
        .where(ShipmentEvent.shipment.is_in(list(shipment_ids)))
        .order_by(ShipmentEvent.id)
    ):
        found[int(event.shipment)].append(event)
    return found


async def jobs_of(courier_id: int) -> list[Shipment]:
    """A courier's open jobs: assigned to them and not finished, earliest window first."""
    rows = await Shipment.objects().where(
        Shipment.courier == courier_id,
        Shipment.status.is_in([s.value for s in ACTIVE if s != Status.REQUESTED]),
    )
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda s: (as_utc(s.window_start) if s.window_start else far, s.id))


async def job_for(courier_id: int, shipment_id: int) -> Shipment | None:
    return (
        await Shipment.objects()
        .where(Shipment.id == shipment_id, Shipment.courier == courier_id)
        .first()
    )


async def shipment_for_applicant(account_id: int, shipment_id: int) -> Shipment | None:
    return (
        await Shipment.objects()
        .where(Shipment.id == shipment_id, Shipment.applicant == account_id)
        .first()
    )


def is_late(shipment: Shipment, now: datetime | None = None) -> bool:
    return (
        shipment.kind == Kind.PICKUP
        and shipment.status in (Status.REQUESTED, Status.ASSIGNED)
        and shipment.window_end is not None
        and as_utc(shipment.window_end) + LATE_GRACE < (now or utcnow())
    )


@dataclass(frozen=True, slots=True)
class Board:
    unassigned: list[Shipment]
    late: list[Shipment]
    failed: list[Shipment]
    in_transit: list[Shipment]  # pickups on their way to the centre: to receive
    lockers: list[Shipment]  # in a locker: collected with the code


async def board(now: datetime | None = None) -> Board:
    """The dispatch board: what needs a person at the centre."""
    rows = (
        await Shipment.objects()
        .where(Shipment.status.is_in([s.value for s in ACTIVE]))
        .order_by(Shipment.id)
    )
    return Board(
        unassigned=[s for s in rows if s.status == Status.REQUESTED],
        late=[s for s in rows if is_late(s, now)],
        failed=[s for s in rows if s.status == Status.FAILED],
        in_transit=[
            s
            for s in rows
            if s.kind == Kind.PICKUP and s.status in (Status.PICKED_UP, Status.IN_TRANSIT)
        ],
        lockers=[s for s in rows if s.status == Status.IN_LOCKER],
    )


async def couriers() -> list[Account]:
    return (
        await Account.objects()
        .where(Account.role == Role.COURIER, Account.is_active.eq(True))
        .order_by(Account.id)
    )


async def may_read_photo(account: Any, stored: StoredFile) -> bool:
    """Who else may fetch a handover photo (the courier owns it): the applicant of its
    shipment, and centre staff who dispatch."""
    if not stored.purpose.startswith("courier:"):
        return False
    event = (
        await ShipmentEvent.select(ShipmentEvent.shipment.applicant.as_alias("applicant"))
        .where(ShipmentEvent.photo == stored.id)
        .first()
    )
    if event is None:
        return False
    if getattr(account, "role", None) in (Role.FLOOR_MANAGER, Role.ADMIN):
        return True
    return int(event["applicant"]) == int(account.id)


files.READERS.append(may_read_photo)
