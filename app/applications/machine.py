"""The state machine of a case, declared in one table (``TRANSITIONS``) and enforced in one
function (``transition``). docs/applications.md draws it.

    draft ─submit→ submitted ─prereview→ pre_review ─accept(mode)→ accepted ─review→ in_review
                                          │   ▲                                     │
                               return ────┘   └─ prereview ── resubmitted ◄─resubmit─ correction
                                                                 └── review (when accepted)
    in_review ─approve→ approved ─issue→ issued;  in_review / pre_review ─reject→ rejected
    any state between submitted and in_review ─withdraw→ withdrawn
    in_review ─return→ correction (the deadline clock pauses until the applicant resubmits)
    in_review ─approve_level→ in_review (a level of a multi-level review, 1-3 per item)

Nothing else may change a case's state: app/applications/service.py calls ``transition``
before every write and writes the state it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.applications.tables import State
from app.core.i18n import N_, _


class Actor(StrEnum):
    APPLICANT = "applicant"  # the citizen who owns the application
    OFFICER = "officer"  # an officer of the case's department, in a passkey session
    SYSTEM = "system"  # the platform itself (licence issuance, jobs)


class Requires(StrEnum):
    """A condition on the case beyond its state."""

    NOTHING = ""
    UNACCEPTED = "unaccepted"  # not accepted yet (pre-review comes next)
    ACCEPTED = "accepted"  # accepted before (review resumes)


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[State]
    target: State
    actor: Actor
    reason_required: bool = False
    requires: Requires = Requires.NOTHING


UNDECIDED = frozenset(
    {
        State.SUBMITTED,
        State.PRE_REVIEW,
        State.CORRECTION,
        State.RESUBMITTED,
        State.ACCEPTED,
        State.IN_REVIEW,
    }
)
FINAL = frozenset({State.REJECTED, State.WITHDRAWN, State.ISSUED})
DECIDED = frozenset({State.APPROVED, State.REJECTED, State.ISSUED})

TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", frozenset({State.DRAFT}), State.SUBMITTED, Actor.APPLICANT),
    Transition(
        "prereview",
        frozenset({State.SUBMITTED, State.RESUBMITTED}),
        State.PRE_REVIEW,
        Actor.OFFICER,
        requires=Requires.UNACCEPTED,
    ),
    Transition(
        "return",
        frozenset({State.PRE_REVIEW, State.IN_REVIEW}),
        State.CORRECTION,
        Actor.OFFICER,
        reason_required=True,
    ),
    Transition("resubmit", frozenset({State.CORRECTION}), State.RESUBMITTED, Actor.APPLICANT),
    Transition("accept", frozenset({State.PRE_REVIEW}), State.ACCEPTED, Actor.OFFICER),
    Transition(
        "review",
        frozenset({State.ACCEPTED, State.RESUBMITTED}),
        State.IN_REVIEW,
        Actor.OFFICER,
        requires=Requires.ACCEPTED,
    ),
    Transition("approve_level", frozenset({State.IN_REVIEW}), State.IN_REVIEW, Actor.OFFICER),
    Transition("approve", frozenset({State.IN_REVIEW}), State.APPROVED, Actor.OFFICER),
    Transition(
        "reject",
        frozenset({State.PRE_REVIEW, State.IN_REVIEW}),
        State.REJECTED,
        Actor.OFFICER,
        reason_required=True,
    ),
    Transition("withdraw", UNDECIDED, State.WITHDRAWN, Actor.APPLICANT),
    Transition("issue", frozenset({State.APPROVED}), State.ISSUED, Actor.SYSTEM),
)

TABLE: dict[str, Transition] = {t.action: t for t in TRANSITIONS}

STATE_LABELS = {
    State.DRAFT: N_("Draft"),
    State.SUBMITTED: N_("Submitted"),
    State.PRE_REVIEW: N_("In pre-review"),
    State.CORRECTION: N_("Correction needed"),
    State.RESUBMITTED: N_("Corrected, waiting"),
    State.ACCEPTED: N_("Accepted"),
    State.IN_REVIEW: N_("In review"),
    State.APPROVED: N_("Approved"),
    State.REJECTED: N_("Rejected"),
    State.WITHDRAWN: N_("Withdrawn"),
    State.ISSUED: N_("Licence issued"),
}

ACTION_LABELS = {
    "submit": N_("Submitted by the applicant"),
    "prereview": N_("Pre-review started"),
    "return": N_("Returned for correction"),
    "resubmit": N_("Corrected materials submitted"),
    "accept": N_("Accepted"),
    "review": N_("Review started"),
    "approve_level": N_("Approved at one review level"),
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "withdraw": N_("Withdrawn by the applicant"),
    "issue": N_("Licence issued"),
}


class TransitionRefused(Exception):
    """The action is not allowed: unknown, wrong actor, wrong state, missing reason or a
    condition of the case. ``message`` is a localised sentence for the person who tried."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def transition(
    action: str, state: State | str, actor: Actor, *, accepted: bool, reason: str = ""
) -> Transition:
    """The one place that decides whether ``actor`` may take ``action`` on a case in
    ``state``; returns the transition (its target) or raises TransitionRefused."""
    found = TABLE.get(action)
    if found is None:
        raise TransitionRefused("unknown_action", _("That action does not exist."))
    if found.actor is not actor:
        raise TransitionRefused("wrong_actor", _("You cannot take this action on this case."))
    if state not in found.sources:
        raise TransitionRefused(
            "wrong_state",
            _(
                "This cannot be done while the case is “%(state)s”.",
                state=_(STATE_LABELS[State(state)]),
            ),
        )
    if found.requires is Requires.UNACCEPTED and accepted:
        raise TransitionRefused(
            "already_accepted", _("The case was accepted already; continue the review instead.")
        )
    if found.requires is Requires.ACCEPTED and not accepted:
        raise TransitionRefused(
            "not_accepted", _("The case has not been accepted yet; pre-review it first.")
        )
    if found.reason_required and not reason.strip():
        raise TransitionRefused("reason_required", _("Please give a reason."))
    return found


def allowed_actions(state: State | str, actor: Actor, *, accepted: bool) -> list[str]:
    """The actions ``actor`` could take now (reasons aside), in the table's order."""
    possible = []
    for t in TRANSITIONS:
        try:
            transition(t.action, state, actor, accepted=accepted, reason="-")
        except TransitionRefused:
            continue
        possible.append(t.action)
    return possible


ORDER = (
    State.DRAFT,
    State.CORRECTION,
    State.SUBMITTED,
    State.RESUBMITTED,
    State.PRE_REVIEW,
    State.ACCEPTED,
    State.IN_REVIEW,
    State.APPROVED,
    State.ISSUED,
    State.REJECTED,
    State.WITHDRAWN,
)


def overall(states: list[str]) -> State:
    """An application's state from its cases' (a bundle has one case per department): the
    state every case is in; otherwise the one that needs someone first — a correction the
    applicant owes, then the least advanced case still running; once all are done, issued
    if any licence was issued, else approved, rejected, withdrawn."""
    if not states:
        return State.DRAFT
    distinct = {State(s) for s in states}
    if len(distinct) == 1:
        return distinct.pop()
    running = distinct - FINAL - {State.APPROVED}
    if running:
        return min(running, key=ORDER.index)
    for state in (State.ISSUED, State.APPROVED, State.REJECTED, State.WITHDRAWN):
        if state in distinct:
            return state
    raise AssertionError("unreachable")  # pragma: no cover
