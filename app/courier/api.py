"""The courier companies' webhook: ``POST /api/v1/courier/events`` (docs/courier.md).

A company reports a step of a shipment assigned to it. The request is signed:

    X-Courier-Company:   the company's name, as in TONGBAN_COURIER_WEBHOOK_SECRETS
    X-Courier-Timestamp: seconds since 1970 (UTC) when it was sent
    X-Courier-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

Refused: an unknown company or a wrong signature (401), a timestamp further than the allowed
skew from our clock (401: stale), the very same signature seen before within that window (409:
a replay; a company resending an event signs it again with a new timestamp). Events are
idempotent by ``event_id``: the same id again answers ``duplicate`` and changes nothing.

No session, no CSRF (``/api/`` paths): the signature is the only authority.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, post
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody

from app.catalogue.api import ApiError
from app.core.forms import Form
from app.core.i18n import _
from app.core.logging import get_logger
from app.courier import service
from app.courier.machine import Actor, Proof
from app.courier.service import CourierError, Event
from app.courier.tables import Shipment
from app.notifications.services import send_soon

log = get_logger("courier")

EVENT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,60}$")
REPLAY_PREFIX = "courier:webhook:sig:"


class CourierEventIn(Form, forbid_unknown_fields=True):
    """One step of a shipment, reported by the courier company it is assigned to."""

    event_id: str  # unique per company: the event is recorded once
    waybill: str  # our waybill number, e.g. TB7K2M9QX4PA
    action: str  # pick_up, depart, out_for_delivery, deliver, stock_locker, collect, fail, return
    at: datetime | None = None  # when it happened (ISO 8601 with offset); now if missing
    proof: str = ""  # "code" (handover_code checked here) or "company" (your own proof)
    handover_code: str = ""  # the code the recipient told the courier, with proof "code"
    proof_reference: str = ""  # your proof-of-delivery reference, with proof "company"
    reason: str = ""  # why an attempt failed
    lat: float | None = None
    lng: float | None = None


class CourierEventOut(msgspec.Struct, frozen=True):
    status: str  # recorded or duplicate
    waybill: str
    shipment_status: str


class Refused(HTTPException):
    localised = True


class Unauthorised(NotAuthorizedException):
    localised = True


class Conflict(HTTPException):
    status_code = 409
    localised = True


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a company sends (and tests and the bench make)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


async def _verify(
    request: Request[Any, Any, Any], company: str, timestamp: str, signature: str
) -> None:
    settings = request.app.state.settings
    secret = settings.courier_secret(company)
    body = await request.body()
    if secret is None or not hmac.compare_digest(
        sign(secret, timestamp, body).encode(), signature.encode()
    ):
        log.info("courier_webhook_refused", reason="signature", company=company[:40])
        raise Unauthorised(detail=_("The signature is not valid."))
    try:
        sent = int(timestamp)
    except ValueError:
        sent = 0
    if abs(time.time() - sent) > settings.courier_webhook_skew:
        log.info("courier_webhook_refused", reason="stale", company=company)
        raise Unauthorised(detail=_("The timestamp is too old or in the future."))
    # Each signature is accepted once while its timestamp is fresh (twice the skew covers both
    # sides of our clock).
    fresh = await request.app.state.redis.set(
        REPLAY_PREFIX + signature[-64:], "1", nx=True, ex=2 * settings.courier_webhook_skew
    )
    if not fresh:
        log.info("courier_webhook_refused", reason="replay", company=company)
        raise Conflict(detail=_("This request was sent before: sign each request anew."))


@post(
    "/courier/events",
    name="courier_webhook",
    summary="Report a step of a shipment (courier companies)",
    description=(
        "Signed with HMAC-SHA256: X-Courier-Signature is sha256= followed by the hex HMAC of "
        "the X-Courier-Timestamp (Unix seconds), a dot and the raw body, under the company's "
        "secret. Timestamps further than 300 s (TONGBAN_COURIER_WEBHOOK_SKEW) from the server's "
        "clock and signatures already seen are refused. Idempotent by event_id."
    ),
    status_code=200,
    responses={
        400: ResponseSpec(ApiError, description="The body is not valid.", generate_examples=False),
        401: ResponseSpec(
            ApiError,
            description="Unknown company, wrong signature or stale timestamp.",
            generate_examples=False,
        ),
        404: ResponseSpec(
            ApiError,
            description="No shipment with this waybill is assigned to the company.",
            generate_examples=False,
        ),
        409: ResponseSpec(
            ApiError,
            description="A replayed signature, or a step the shipment's state does not allow.",
            generate_examples=False,
        ),
    },
)
async def courier_events(
    request: Request[Any, Any, Any],
    data: JSONBody[CourierEventIn],
    company: Annotated[str, HeaderParameter(name="X-Courier-Company", max_length=40)],
    timestamp: Annotated[str, HeaderParameter(name="X-Courier-Timestamp", max_length=20)],
    signature: Annotated[str, HeaderParameter(name="X-Courier-Signature", max_length=100)],
) -> CourierEventOut:
    await _verify(request, company, timestamp, signature)
    if not EVENT_ID.match(data.event_id):
        raise Refused(
            status_code=400,
            detail=_("event_id must be 1 to 60 letters, digits, dots, dashes or underscores."),
        )
    row = (
        await Shipment.select(Shipment.id)
        .where(Shipment.waybill == data.waybill[:12], Shipment.company == company)
        .first()
    )
    if row is None:
        raise Refused(status_code=404, detail=_("No such shipment."))
    try:
        proof = Proof(data.proof) if data.proof in ("code", "company") else Proof.NONE
    except ValueError:
        proof = Proof.NONE
    event = Event(
        action=data.action[:40],
        key=f"{company}:{data.event_id}",
        proof=proof,
        code=data.handover_code[:12],
        reason=(data.reason or data.proof_reference)[:500],
        at=data.at,
        lat=data.lat,
        lng=data.lng,
        company=company,
    )
    try:
        done = await service.record(int(row["id"]), event, Actor.COMPANY)
    except CourierError as error:
        if error.status == 404:
            raise Refused(status_code=404, detail=error.message) from error
        if error.status == 400:
            raise Refused(status_code=400, detail=error.message) from error
        raise Conflict(detail=error.message) from error
    await send_soon(done.notifications, request.app.state.redis)
    return CourierEventOut(
        status="duplicate" if done.duplicate else "recorded",
        waybill=done.shipment.waybill,
        shipment_status=done.shipment.status,
    )


API = Router(
    path="/api/v1",
    route_handlers=[courier_events],
    include_in_schema=True,
    tags=["courier"],
)

ROUTES: list[Any] = [API]
