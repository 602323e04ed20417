"""Tables of the courier service (快递办, docs/courier.md): each citizen's address book, the
shipments of an application (pickups of originals, deliveries of licences) and the events that
moved them, one row per event, never changed.

States and transitions are declared in app/courier/machine.py; every write to a shipment's
state goes through app/courier/service.py.
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account
from app.applications.tables import Application
from app.files.tables import StoredFile


class Kind(StrEnum):
    PICKUP = "pickup"  # the applicant's address → the service centre (paper originals)
    DELIVERY = "delivery"  # the service centre → an address or a licence locker (licences)


class Status(StrEnum):
    """Where a shipment stands (after Karrio's tracking statuses, plus the centre's own)."""

    REQUESTED = "requested"  # asked for, nobody assigned yet
    ASSIGNED = "assigned"  # a courier (or a courier company) has the job
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"  # handed to the recipient at the address
    RECEIVED = "received"  # originals received at the service centre
    IN_LOCKER = "in_locker"  # ready for pickup in a licence locker
    COLLECTED = "collected"  # taken out of the locker with its code
    FAILED = "failed"  # an attempt failed (with a reason): re-attempt or return
    RETURNED = "returned"  # given up, back at the centre
    CANCELLED = "cancelled"  # before pickup


class Address(Table, tablename="courier_address"):
    """One address of a citizen's address book; a shipment copies it when it is made."""

    id = Serial(primary_key=True)

    owner = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    contact_name = Varchar(length=40)
    phone = Varchar(length=20, help_text="E.164, checked with phonenumbers.")
    district = Varchar(length=20, help_text="One of Shanghai's 16 districts (machine.DISTRICTS).")
    street = Varchar(length=200, help_text="Street, number, building and room.")
    created_at = Timestamptz(default=TimestamptzNow())


class Shipment(Table, tablename="courier_shipment"):
    """One parcel between an applicant and the service centre, for one application."""

    id = Serial(primary_key=True)

    waybill = Varchar(length=12, unique=True, help_text="Waybill number courier companies quote.")
    application = ForeignKey(Application, on_delete=OnDelete.cascade, index=True)
    applicant = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=10, choices=Kind)
    status = Varchar(length=20, choices=Status, default=Status.REQUESTED, index=True)
    version = Integer(default=0, help_text="Raised by every event; a stale form loses.")
    courier = ForeignKey(
        Account,
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        index=True,
        help_text="The courier assigned, if an in-house one.",
    )
    company = Varchar(length=40, default="", help_text="The courier company assigned, if one.")
    # The address as it was when the shipment was made (editing the book changes nothing).
    contact_name = Varchar(length=40, default="")
    phone = Varchar(length=20, default="")
    district = Varchar(length=20, default="")
    street = Varchar(length=200, default="")
    locker = Varchar(length=40, default="", help_text="Licence locker code (delivery to one).")
    window_start = Timestamptz(null=True, default=None, help_text="Pickup window, UTC.")
    window_end = Timestamptz(null=True, default=None)
    free = Boolean(default=True, help_text="Free of charge (the item offers 双向免费寄递).")
    materials = Varchar(length=400, default="", help_text="Codes of the originals, comma-joined.")
    handover_hash = Varchar(length=64, default="", help_text="HMAC of the handover code.")
    locker_hash = Varchar(length=64, default="", help_text="HMAC of the locker pickup code.")
    code_attempts = SmallInt(default=0, help_text="Wrong handover or locker codes given.")
    receipt_document = Integer(
        null=True, default=None, help_text="signing_document id of the delivery receipt."
    )
    attempts = SmallInt(default=0, help_text="Failed attempts so far.")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ShipmentEvent(Table, tablename="courier_event"):
    """One event of a shipment: who, when, where, with what proof. ``key`` makes it
    idempotent: the courier app's UUID per event, or ``company:event id`` from a webhook."""

    id = Serial(primary_key=True)

    shipment = ForeignKey(Shipment, on_delete=OnDelete.cascade, index=True)
    key = Varchar(length=100, unique=True, help_text="Idempotency key.")
    action = Varchar(length=20)
    from_status = Varchar(length=20, default="")
    to_status = Varchar(length=20)
    actor_id = Integer(null=True, default=None, help_text="Account that acted; NULL otherwise.")
    actor_kind = Varchar(length=12, help_text="courier, staff, applicant, company or system.")
    company = Varchar(length=40, default="")
    assignee = Integer(
        null=True, default=None, help_text="assign: the courier account the job went to."
    )
    at = Timestamptz(help_text="When it happened (the phone's clock, within bounds), UTC.")
    recorded_at = Timestamptz(default=TimestamptzNow())
    lat_e6 = Integer(null=True, default=None, help_text="Latitude × 10^6, if given.")
    lng_e6 = Integer(null=True, default=None, help_text="Longitude × 10^6, if given.")
    reason = Text(default="")
    proof = Varchar(length=12, default="", help_text="code, photo, signature or locker_code.")
    photo = ForeignKey(StoredFile, null=True, default=None, on_delete=OnDelete.set_null)
    signature = Varchar(length=32, default="", help_text="Signature id of the receipt.")
