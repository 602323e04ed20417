"""The shipment state machine: every action each role may take in each status, written out
here by hand (not derived from the table), and every refusal with its reason."""

from __future__ import annotations

import pytest

from app.courier.machine import (
    ACTION_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Actor,
    Proof,
    TransitionRefused,
    allowed_actions,
    transition,
)
from app.courier.tables import Kind, Status

S, A, P, D = Status, Actor, Kind.PICKUP, Kind.DELIVERY

# (kind, status, to a locker) -> {actor: actions allowed}; anything not listed: none.
EXPECTED: dict[tuple[Kind, Status, bool], dict[Actor, list[str]]] = {
    (P, S.REQUESTED, False): {A.STAFF: ["assign", "cancel"], A.APPLICANT: ["cancel"]},
    (P, S.ASSIGNED, False): {
        A.STAFF: ["assign", "cancel"],
        A.APPLICANT: ["cancel"],
        A.COURIER: ["pick_up", "fail"],
        A.COMPANY: ["pick_up", "fail"],
    },
    (P, S.PICKED_UP, False): {
        A.COURIER: ["depart"],
        A.COMPANY: ["depart"],
        A.STAFF: ["receive"],
    },
    (P, S.IN_TRANSIT, False): {A.STAFF: ["receive"]},
    (P, S.FAILED, False): {
        A.STAFF: ["reattempt", "cancel"],
        A.COURIER: ["reattempt"],
        A.APPLICANT: ["cancel"],
    },
    (D, S.REQUESTED, False): {A.STAFF: ["assign", "cancel"], A.APPLICANT: ["cancel"]},
    (D, S.ASSIGNED, False): {
        A.STAFF: ["assign", "cancel"],
        A.APPLICANT: ["cancel"],
        A.COURIER: ["pick_up"],
        A.COMPANY: ["pick_up"],
    },
    (D, S.PICKED_UP, False): {A.COURIER: ["depart"], A.COMPANY: ["depart"]},
    (D, S.IN_TRANSIT, False): {A.COURIER: ["out_for_delivery"], A.COMPANY: ["out_for_delivery"]},
    (D, S.IN_TRANSIT, True): {A.COURIER: ["stock_locker"], A.COMPANY: ["stock_locker"]},
    (D, S.OUT_FOR_DELIVERY, False): {
        A.COURIER: ["deliver", "fail"],
        A.COMPANY: ["deliver", "fail"],
    },
    (D, S.IN_LOCKER, True): {A.STAFF: ["collect"], A.COMPANY: ["collect"]},
    (D, S.FAILED, False): {
        A.STAFF: ["reattempt", "return"],
        A.COURIER: ["reattempt"],
        A.COMPANY: ["return"],
    },
}


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("to_locker", [False, True])
@pytest.mark.parametrize("actor", list(Actor))
def test_every_role_may_take_exactly_the_listed_actions(
    kind: Kind, status: Status, to_locker: bool, actor: Actor
) -> None:
    expected = EXPECTED.get((kind, status, to_locker))
    if expected is None and to_locker and (kind, status) != (D, S.IN_TRANSIT):
        # A locker changes only what follows in_transit; elsewhere it is as for an address.
        expected = EXPECTED.get((kind, status, False))
    wanted = (expected or {}).get(actor, [])
    got = allowed_actions(kind, status, actor, to_locker=to_locker)
    assert sorted(got) == sorted(wanted), (kind, status, to_locker, actor)


def test_refused_transitions_say_why() -> None:
    def code_of(*args: object, **kwargs: object) -> str:
        with pytest.raises(TransitionRefused) as refused:
            transition(*args, **kwargs)  # type: ignore[arg-type]
        assert refused.value.message
        return refused.value.code

    assert code_of(P, "fly", S.ASSIGNED, A.COURIER, to_locker=False) == "unknown_action"
    assert code_of("parcel", "assign", S.REQUESTED, A.STAFF, to_locker=False) == "unknown_action"
    assert code_of(P, "deliver", S.ASSIGNED, A.COURIER, to_locker=False) == "unknown_action"
    assert code_of(P, "assign", S.REQUESTED, A.COURIER, to_locker=False) == "wrong_actor"
    assert code_of(P, "pick_up", S.REQUESTED, A.COURIER, to_locker=False) == "wrong_state"
    assert code_of(P, "pick_up", S.ASSIGNED, A.COURIER, to_locker=False) == "proof_required"
    assert (
        code_of(D, "deliver", S.OUT_FOR_DELIVERY, A.COURIER, to_locker=False, proof=Proof.COMPANY)
        == "proof_required"
    )
    assert code_of(D, "stock_locker", S.IN_TRANSIT, A.COURIER, to_locker=False) == "address"
    assert code_of(D, "out_for_delivery", S.IN_TRANSIT, A.COURIER, to_locker=True) == "locker"
    assert code_of(P, "fail", S.ASSIGNED, A.COURIER, to_locker=False) == "reason_required"
    assert (
        code_of(P, "depart", S.PICKED_UP, A.COURIER, to_locker=False, proof=Proof.CODE)
        == "no_proof"
    )


def test_proofs_accepted() -> None:
    for proof in (Proof.CODE, Proof.PHOTO):
        assert transition(P, "pick_up", S.ASSIGNED, A.COURIER, to_locker=False, proof=proof)
    for proof in (Proof.CODE, Proof.PHOTO, Proof.SIGNATURE):
        found = transition(
            D, "deliver", S.OUT_FOR_DELIVERY, A.COURIER, to_locker=False, proof=proof
        )
        assert found.target is S.DELIVERED
    # A company's own proof of delivery, from the company only.
    assert transition(
        D, "deliver", S.OUT_FOR_DELIVERY, A.COMPANY, to_locker=False, proof=Proof.COMPANY
    )
    # An optional photo goes with any step.
    assert transition(P, "depart", S.PICKED_UP, A.COURIER, to_locker=False, proof=Proof.PHOTO)


def test_every_status_and_action_has_a_label() -> None:
    assert set(STATUS_LABELS) == set(Status)
    assert {t.action for t in TRANSITIONS} <= set(ACTION_LABELS)
