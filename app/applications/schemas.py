"""What the tracking API answers and what the feedback pages accept (hand-written structs)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from app.core.forms import Form

# ---------------------------------------------------------------- the tracking API (一码通)


class TrackedCase(msgspec.Struct, frozen=True):
    title_zh: str
    title_en: str
    state: str  # a case state: submitted, pre_review, … issued
    promised_due: date | None  # the promised due date; null before acceptance or while paused


class TrackedEvent(msgspec.Struct, frozen=True):
    at: datetime  # UTC
    action: str  # e.g. case_accept
    label_zh: str
    label_en: str
    to_state: str  # "" when the event changed no state


class Tracked(msgspec.Struct, frozen=True):
    """An application as anyone holding its code may see it: no names, no reasons."""

    code: str  # the tracking code, 12 characters without dashes
    title_zh: str
    title_en: str
    state: str
    state_label_zh: str
    state_label_en: str
    cases: list[TrackedCase]
    events: list[TrackedEvent]


# ---------------------------------------------------------------- feedback forms


def as_list(value: list[str] | str) -> list[str]:
    """A form sends one value per ticked box: a single one arrives as a string."""
    return [value] if isinstance(value, str) else list(value)


class RatingForm(Form):
    """好差评 of one decided case."""

    __inline_errors__ = True
    __multiline__ = frozenset({"comment"})

    case: str = ""
    score: str = ""
    reasons: list[str] | str = msgspec.field(default_factory=list)
    comment: str = ""


class ComplaintForm(Form):
    """找茬: a complaint, suggestion, praise or correction for a department."""

    __inline_errors__ = True
    __multiline__ = frozenset({"body"})

    category: str = ""
    department: str = ""
    application: str = ""
    body: str = ""


class ReplyForm(Form):
    """An officer's reply to a complaint."""

    __inline_errors__ = True
    __multiline__ = frozenset({"reply"})

    reply: str = ""
