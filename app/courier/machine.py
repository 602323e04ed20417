"""The state machine of a shipment, declared in one table (``TRANSITIONS``) and enforced in one
function (``transition``). docs/courier.md draws it.

    pickup:   requested ─assign→ assigned ─pick_up(code|photo)→ picked_up ─depart→ in_transit
              ─receive→ received (originals at the centre, the obligation closed)
              assigned ─fail(reason)→ failed ─reattempt→ assigned
              requested / assigned / failed ─cancel→ cancelled
    delivery: requested ─assign→ assigned ─pick_up→ picked_up ─depart→ in_transit
              in_transit ─out_for_delivery→ out_for_delivery ─deliver(code|photo|signature)→ delivered
              in_transit ─stock_locker→ in_locker ─collect(locker code)→ collected
              out_for_delivery ─fail(reason)→ failed ─reattempt→ out_for_delivery | ─return→ returned
              requested / assigned ─cancel→ cancelled

Nothing else may change a shipment's status: app/courier/service.py calls ``transition``
before every write and writes the status it returns. Who may act is the actor's kind here;
*which* courier may act (the assigned one) is checked by the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.i18n import N_, _
from app.courier.tables import Kind, Status


class Actor(StrEnum):
    COURIER = "courier"  # the courier the job is assigned to, in a passkey session
    STAFF = "staff"  # centre staff who dispatch (floor managers, admins)
    APPLICANT = "applicant"  # the citizen whose application it is
    COMPANY = "company"  # a courier company, through the signed webhook
    SYSTEM = "system"  # the platform itself


class Proof(StrEnum):
    NONE = ""
    CODE = "code"  # the one-time handover code the recipient tells the courier
    PHOTO = "photo"  # a photo of the handover, through the image check
    SIGNATURE = "signature"  # the recipient's passkey signature on the delivery receipt
    LOCKER_CODE = "locker_code"  # the pickup code sent by SMS, typed at the locker
    COMPANY = "company"  # a courier company's own proof of delivery (its reference kept)


class Requires(StrEnum):
    NOTHING = ""
    ADDRESS = "address"  # a delivery to an address
    LOCKER = "locker"  # a delivery to a licence locker


PICKUP, DELIVERY = frozenset({Kind.PICKUP}), frozenset({Kind.DELIVERY})
BOTH = PICKUP | DELIVERY
CARRIERS = frozenset({Actor.COURIER, Actor.COMPANY})


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    kinds: frozenset[Kind]
    sources: frozenset[Status]
    target: Status
    actors: frozenset[Actor]
    proofs: frozenset[Proof] = frozenset()  # one of these is needed; empty: none
    reason_required: bool = False
    requires: Requires = Requires.NOTHING


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        "assign",
        BOTH,
        frozenset({Status.REQUESTED, Status.ASSIGNED}),
        Status.ASSIGNED,
        frozenset({Actor.STAFF}),
    ),
    Transition(
        "pick_up",
        PICKUP,
        frozenset({Status.ASSIGNED}),
        Status.PICKED_UP,
        CARRIERS,
        proofs=frozenset({Proof.CODE, Proof.PHOTO}),
    ),
    Transition("pick_up", DELIVERY, frozenset({Status.ASSIGNED}), Status.PICKED_UP, CARRIERS),
    Transition("depart", BOTH, frozenset({Status.PICKED_UP}), Status.IN_TRANSIT, CARRIERS),
    Transition(
        "receive",
        PICKUP,
        frozenset({Status.PICKED_UP, Status.IN_TRANSIT}),
        Status.RECEIVED,
        frozenset({Actor.STAFF}),
    ),
    Transition(
        "out_for_delivery",
        DELIVERY,
        frozenset({Status.IN_TRANSIT}),
        Status.OUT_FOR_DELIVERY,
        CARRIERS,
        requires=Requires.ADDRESS,
    ),
    Transition(
        "deliver",
        DELIVERY,
        frozenset({Status.OUT_FOR_DELIVERY}),
        Status.DELIVERED,
        CARRIERS,
        proofs=frozenset({Proof.CODE, Proof.PHOTO, Proof.SIGNATURE}),
    ),
    Transition(
        "stock_locker",
        DELIVERY,
        frozenset({Status.IN_TRANSIT}),
        Status.IN_LOCKER,
        CARRIERS,
        requires=Requires.LOCKER,
    ),
    Transition(
        "collect",
        DELIVERY,
        frozenset({Status.IN_LOCKER}),
        Status.COLLECTED,
        frozenset({Actor.STAFF, Actor.COMPANY}),
        proofs=frozenset({Proof.LOCKER_CODE}),
        requires=Requires.LOCKER,
    ),
    Transition(
        "fail",
        PICKUP,
        frozenset({Status.ASSIGNED}),
        Status.FAILED,
        CARRIERS,
        reason_required=True,
    ),
    Transition(
        "fail",
        DELIVERY,
        frozenset({Status.OUT_FOR_DELIVERY}),
        Status.FAILED,
        CARRIERS,
        reason_required=True,
    ),
    Transition(
        "reattempt",
        PICKUP,
        frozenset({Status.FAILED}),
        Status.ASSIGNED,
        frozenset({Actor.STAFF, Actor.COURIER}),
    ),
    Transition(
        "reattempt",
        DELIVERY,
        frozenset({Status.FAILED}),
        Status.OUT_FOR_DELIVERY,
        frozenset({Actor.STAFF, Actor.COURIER}),
    ),
    Transition(
        "return",
        DELIVERY,
        frozenset({Status.FAILED}),
        Status.RETURNED,
        frozenset({Actor.STAFF, Actor.COMPANY}),
    ),
    Transition(
        "cancel",
        PICKUP,
        frozenset({Status.REQUESTED, Status.ASSIGNED, Status.FAILED}),
        Status.CANCELLED,
        frozenset({Actor.APPLICANT, Actor.STAFF}),
    ),
    Transition(
        "cancel",
        DELIVERY,
        frozenset({Status.REQUESTED, Status.ASSIGNED}),
        Status.CANCELLED,
        frozenset({Actor.APPLICANT, Actor.STAFF}),
    ),
)

TABLE: dict[tuple[Kind, str], Transition] = {
    (kind, t.action): t for t in TRANSITIONS for kind in t.kinds
}
ACTIONS = frozenset(t.action for t in TRANSITIONS)
FINAL = frozenset(
    {Status.DELIVERED, Status.RECEIVED, Status.COLLECTED, Status.RETURNED, Status.CANCELLED}
)
ACTIVE = frozenset(Status) - FINAL

STATUS_LABELS = {
    Status.REQUESTED: N_("Requested"),
    Status.ASSIGNED: N_("Courier assigned"),
    Status.PICKED_UP: N_("Picked up"),
    Status.IN_TRANSIT: N_("In transit"),
    Status.OUT_FOR_DELIVERY: N_("Out for delivery"),
    Status.DELIVERED: N_("Delivered"),
    Status.RECEIVED: N_("Received at the service centre"),
    Status.IN_LOCKER: N_("Ready in the licence locker"),
    Status.COLLECTED: N_("Collected from the locker"),
    Status.FAILED: N_("Attempt failed"),
    Status.RETURNED: N_("Returned to the service centre"),
    Status.CANCELLED: N_("Cancelled"),
}

ACTION_LABELS = {
    "request": N_("Requested"),
    "assign": N_("Courier assigned"),
    "pick_up": N_("Picked up"),
    "depart": N_("On the way"),
    "receive": N_("Received at the service centre"),
    "out_for_delivery": N_("Out for delivery"),
    "deliver": N_("Delivered"),
    "stock_locker": N_("Put in the licence locker"),
    "collect": N_("Collected from the locker"),
    "fail": N_("Attempt failed"),
    "reattempt": N_("New attempt"),
    "return": N_("Returned to the service centre"),
    "cancel": N_("Cancelled"),
}

# The courier's big button for each action, in the courier app.
BUTTON_LABELS = {
    "pick_up": N_("Picked up"),
    "depart": N_("On my way"),
    "out_for_delivery": N_("Out for delivery"),
    "deliver": N_("Delivered"),
    "stock_locker": N_("Put in the locker"),
    "fail": N_("Could not complete"),
    "reattempt": N_("Try again"),
}

PROOF_LABELS = {
    Proof.CODE: N_("Handover code"),
    Proof.PHOTO: N_("Photo"),
    Proof.SIGNATURE: N_("Signed receipt"),
    Proof.LOCKER_CODE: N_("Locker code"),
    Proof.COMPANY: N_("Courier company's proof"),
}

KIND_LABELS = {
    Kind.PICKUP: N_("Pickup of originals"),
    Kind.DELIVERY: N_("Delivery of the licence"),
}


class TransitionRefused(Exception):
    """The action is not allowed; ``message`` is a localised sentence for whoever tried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def transition(
    kind: Kind | str,
    action: str,
    status: Status | str,
    actor: Actor,
    *,
    to_locker: bool,
    proof: Proof = Proof.NONE,
    reason: str = "",
) -> Transition:
    """The one place that decides whether ``actor`` may take ``action`` on a shipment of
    ``kind`` in ``status`` with ``proof``; returns the transition or raises
    TransitionRefused."""
    try:
        found = TABLE.get((Kind(kind), action))
    except ValueError:
        found = None
    if found is None:
        raise TransitionRefused("unknown_action", _("That action does not exist."))
    if actor not in found.actors:
        raise TransitionRefused("wrong_actor", _("You cannot take this action on this shipment."))
    if status not in found.sources:
        raise TransitionRefused(
            "wrong_state",
            _(
                "This cannot be done while the shipment is “%(status)s”.",
                status=_(STATUS_LABELS[Status(status)]),
            ),
        )
    if found.requires is Requires.ADDRESS and to_locker:
        raise TransitionRefused("locker", _("This shipment goes to a licence locker."))
    if found.requires is Requires.LOCKER and not to_locker:
        raise TransitionRefused("address", _("This shipment goes to an address."))
    if found.proofs:
        accepted = found.proofs | ({Proof.COMPANY} if actor is Actor.COMPANY else set())
        if proof not in accepted:
            raise TransitionRefused(
                "proof_required",
                _(
                    "A proof is needed: %(proofs)s.",
                    proofs=" / ".join(_(PROOF_LABELS[p]) for p in sorted(found.proofs)),
                ),
            )
    elif proof is not Proof.NONE and proof is not Proof.PHOTO:
        raise TransitionRefused("no_proof", _("This step takes no proof."))
    if found.reason_required and not reason.strip():
        raise TransitionRefused("reason_required", _("Please give a reason."))
    return found


def allowed_actions(
    kind: Kind | str, status: Status | str, actor: Actor, *, to_locker: bool
) -> list[str]:
    """The actions ``actor`` could take now (proofs and reasons aside), in the table's order."""
    possible: list[str] = []
    for t in TRANSITIONS:
        if kind not in t.kinds or t.action in possible:
            continue
        try:
            transition(
                kind,
                t.action,
                status,
                actor,
                to_locker=to_locker,
                proof=next(iter(sorted(t.proofs)), Proof.NONE),
                reason="-",
            )
        except TransitionRefused:
            continue
        possible.append(t.action)
    return possible
