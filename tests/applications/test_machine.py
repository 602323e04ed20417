"""The state machine of a case (app/applications/machine.py): every action, in every state, by
every actor, accepted or not, with and without a reason, is allowed exactly when the rules
below say so, and refused with the right code and a sentence otherwise."""

from __future__ import annotations

import itertools

import pytest

from app.applications.machine import (
    STATE_LABELS,
    TRANSITIONS,
    Actor,
    TransitionRefused,
    allowed_actions,
    overall,
    transition,
)
from app.applications.tables import State
from app.core.i18n import _

# The rules, written out by hand from docs/applications.md and the diagram in machine.py, not
# read from TRANSITIONS: the table is what is under test.
# action: (who, from which states, to which state, reason required, accepted: True/False/None)
# where the last is True when the case must have been accepted before, False when it must not,
# None when it does not matter.
RULES: dict[str, tuple[Actor, set[State], State, bool, bool | None]] = {
    "submit": (Actor.APPLICANT, {State.DRAFT}, State.SUBMITTED, False, None),
    "prereview": (
        Actor.OFFICER,
        {State.SUBMITTED, State.RESUBMITTED},
        State.PRE_REVIEW,
        False,
        False,
    ),
    "return": (
        Actor.OFFICER,
        {State.PRE_REVIEW, State.IN_REVIEW},
        State.CORRECTION,
        True,
        None,
    ),
    "resubmit": (Actor.APPLICANT, {State.CORRECTION}, State.RESUBMITTED, False, None),
    "accept": (Actor.OFFICER, {State.PRE_REVIEW}, State.ACCEPTED, False, None),
    "review": (
        Actor.OFFICER,
        {State.ACCEPTED, State.RESUBMITTED},
        State.IN_REVIEW,
        False,
        True,
    ),
    "approve_level": (Actor.OFFICER, {State.IN_REVIEW}, State.IN_REVIEW, False, None),
    "approve": (Actor.OFFICER, {State.IN_REVIEW}, State.APPROVED, False, None),
    "reject": (
        Actor.OFFICER,
        {State.PRE_REVIEW, State.IN_REVIEW},
        State.REJECTED,
        True,
        None,
    ),
    "withdraw": (
        Actor.APPLICANT,
        {
            State.SUBMITTED,
            State.PRE_REVIEW,
            State.CORRECTION,
            State.RESUBMITTED,
            State.ACCEPTED,
            State.IN_REVIEW,
        },
        State.WITHDRAWN,
        False,
        None,
    ),
    "issue": (Actor.SYSTEM, {State.APPROVED}, State.ISSUED, False, None),
}

COMBINATIONS = list(
    itertools.product(
        [*RULES, "approve_all", ""], list(State), list(Actor), [False, True], ["", "  ", "材料不全"]
    )
)


def expected_refusal(
    action: str, state: State, actor: Actor, accepted: bool, reason: str
) -> str | None:
    """The code a refusal should carry (checks in this order), None when allowed."""
    if action not in RULES:
        return "unknown_action"
    who, sources, _target, needs_reason, needs_accepted = RULES[action]
    if actor is not who:
        return "wrong_actor"
    if state not in sources:
        return "wrong_state"
    if needs_accepted is False and accepted:
        return "already_accepted"
    if needs_accepted is True and not accepted:
        return "not_accepted"
    if needs_reason and not reason.strip():
        return "reason_required"
    return None


def test_the_table_has_one_row_per_action_of_the_rules() -> None:
    assert [t.action for t in TRANSITIONS] == list(RULES)


@pytest.mark.parametrize(
    ("action", "state", "actor", "accepted", "reason"),
    COMBINATIONS,
    ids=[
        f"{a or 'empty'}-{s.value}-{r.value}-{'acc' if c else 'new'}-{len(w)}"
        for a, s, r, c, w in COMBINATIONS
    ],
)
def test_every_action_state_and_actor_is_allowed_exactly_by_the_rules(
    action: str, state: State, actor: Actor, accepted: bool, reason: str
) -> None:
    refusal = expected_refusal(action, state, actor, accepted, reason)
    if refusal is None:
        found = transition(action, state, actor, accepted=accepted, reason=reason)
        assert found.action == action
        assert found.target is RULES[action][2]
        # The state may come from the database as plain text.
        assert transition(action, state.value, actor, accepted=accepted, reason=reason) is found
        return
    with pytest.raises(TransitionRefused) as refused:
        transition(action, state, actor, accepted=accepted, reason=reason)
    assert refused.value.code == refusal
    assert refused.value.message.strip()
    if refusal == "wrong_state":
        assert _(STATE_LABELS[state]) in refused.value.message


def test_each_refusal_says_something_different() -> None:
    messages = {}
    for code, call in {
        "unknown_action": ("close", State.DRAFT, Actor.OFFICER, False, ""),
        "wrong_actor": ("approve", State.IN_REVIEW, Actor.APPLICANT, True, ""),
        "wrong_state": ("approve", State.SUBMITTED, Actor.OFFICER, False, ""),
        "already_accepted": ("prereview", State.RESUBMITTED, Actor.OFFICER, True, ""),
        "not_accepted": ("review", State.RESUBMITTED, Actor.OFFICER, False, ""),
        "reason_required": ("reject", State.IN_REVIEW, Actor.OFFICER, True, " \n"),
    }.items():
        action, state, actor, accepted, reason = call
        with pytest.raises(TransitionRefused) as refused:
            transition(action, state, actor, accepted=accepted, reason=reason)
        assert refused.value.code == code
        messages[code] = refused.value.message
    assert len(set(messages.values())) == len(messages)


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("actor", list(Actor))
@pytest.mark.parametrize("accepted", [False, True])
def test_allowed_actions_are_those_the_rules_allow_with_a_reason(
    state: State, actor: Actor, accepted: bool
) -> None:
    wanted = [
        action
        for action in RULES
        if expected_refusal(action, state, actor, accepted, "a reason") is None
    ]
    assert allowed_actions(state, actor, accepted=accepted) == wanted


def test_allowed_actions_of_typical_moments() -> None:
    assert allowed_actions(State.DRAFT, Actor.APPLICANT, accepted=False) == ["submit"]
    assert allowed_actions(State.SUBMITTED, Actor.OFFICER, accepted=False) == ["prereview"]
    assert allowed_actions(State.PRE_REVIEW, Actor.OFFICER, accepted=False) == [
        "return",
        "accept",
        "reject",
    ]
    assert allowed_actions(State.IN_REVIEW, Actor.OFFICER, accepted=True) == [
        "return",
        "approve_level",
        "approve",
        "reject",
    ]
    # A correction after acceptance goes straight back to review, before it to pre-review.
    assert allowed_actions(State.RESUBMITTED, Actor.OFFICER, accepted=True) == ["review"]
    assert allowed_actions(State.RESUBMITTED, Actor.OFFICER, accepted=False) == ["prereview"]
    assert allowed_actions(State.CORRECTION, Actor.APPLICANT, accepted=True) == [
        "resubmit",
        "withdraw",
    ]
    assert allowed_actions(State.APPROVED, Actor.SYSTEM, accepted=True) == ["issue"]
    for final in (State.ISSUED, State.REJECTED, State.WITHDRAWN):
        for actor in Actor:
            assert allowed_actions(final, actor, accepted=True) == []


@pytest.mark.parametrize("state", list(State))
def test_overall_of_one_case_or_of_cases_all_alike_is_their_state(state: State) -> None:
    assert overall([state.value]) is state
    assert overall([state.value] * 3) is state


def test_overall_of_no_cases_is_a_draft() -> None:
    assert overall([]) is State.DRAFT


@pytest.mark.parametrize(
    ("states", "wanted"),
    [
        # A correction the applicant owes comes first, whatever else is running or done.
        (["in_review", "correction"], State.CORRECTION),
        (["correction", "issued", "accepted"], State.CORRECTION),
        (["approved", "correction", "rejected"], State.CORRECTION),
        # Otherwise the least advanced case still running.
        (["in_review", "submitted"], State.SUBMITTED),
        (["accepted", "pre_review", "in_review"], State.PRE_REVIEW),
        (["in_review", "resubmitted"], State.RESUBMITTED),
        (["issued", "in_review"], State.IN_REVIEW),
        (["approved", "accepted"], State.ACCEPTED),
        (["withdrawn", "pre_review"], State.PRE_REVIEW),
        (["rejected", "submitted", "issued"], State.SUBMITTED),
        # Once all are done: issued if any licence was, then approved, rejected, withdrawn.
        (["issued", "rejected"], State.ISSUED),
        (["rejected", "withdrawn", "issued"], State.ISSUED),
        (["approved", "rejected"], State.APPROVED),
        (["approved", "issued"], State.ISSUED),
        (["rejected", "withdrawn"], State.REJECTED),
        (["withdrawn", "withdrawn", "rejected"], State.REJECTED),
    ],
)
def test_overall_of_mixed_cases(states: list[str], wanted: State) -> None:
    assert overall(states) is wanted
    assert overall(list(reversed(states))) is wanted
