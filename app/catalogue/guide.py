"""The smart guide (智能导办) as plain functions: its questions, the answers read from a
request, and the personal checklist they lead to, for one item or a bundle (一件事).

A guide asks the questions of its item one screen at a time; a bundle's guide asks the
questions of each of its items in turn. Every question has a *key* that names it in the query
string: the question's code for an item, ``<item code>.<question code>`` in a bundle (two items
of a bundle may both ask "how large are the premises?" and mean different things).

Answers travel in the query string (``?business_type=supermarket&sales_mode=retail``), so a
guide works without JavaScript and without a session, and a checklist is a link that can be
bookmarked, printed or shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from urllib.parse import urlencode

import msgspec

from app.catalogue.checklist import build_checklist
from app.catalogue.schemas import (
    BundleDetail,
    ChecklistEntry,
    GuideOption,
    GuideQuestionSpec,
    ServiceItemDetail,
)

Answers = Mapping[str, frozenset[str]]
# Query parameters that steer the guide itself; no question may be keyed so.
CONTROL = frozenset({"show", "answered", "_csrf_token"})


class Step(msgspec.Struct, frozen=True):
    key: str
    question: GuideQuestionSpec
    item: ServiceItemDetail

    def option(self, code: str) -> GuideOption | None:
        return next((option for option in self.question.options if option.code == code), None)


class Guide(msgspec.Struct, frozen=True):
    code: str  # of the item or the bundle
    items: tuple[ServiceItemDetail, ...]
    bundle: BundleDetail | None
    steps: tuple[Step, ...]

    @classmethod
    def of(
        cls, code: str, items: tuple[ServiceItemDetail, ...], bundle: BundleDetail | None = None
    ) -> Guide:
        prefix = bundle is not None
        steps = tuple(
            Step(f"{item.code}.{question.code}" if prefix else question.code, question, item)
            for item in items
            for question in item.questions
        )
        return cls(code, items, bundle, steps)


class AnswerError(ValueError):
    """An answer that names an option its question does not have."""

    def __init__(self, step: Step, value: str) -> None:
        super().__init__(f"{step.key}: no option {value[:40]!r}")
        self.step = step


def read_answers(guide: Guide, params: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """The answers among ``params`` (each key with all its values). Parameters that are not a
    question of this guide are ignored; a value that is not one of the question's options, or
    several values for a one-choice question, raise AnswerError."""
    answers: dict[str, frozenset[str]] = {}
    for step in guide.steps:
        values = [value for value in params.get(step.key, ()) if value != ""]
        if not values:
            continue
        for value in values:
            if step.option(value) is None:
                raise AnswerError(step, value)
        if not step.question.multiple and len(set(values)) > 1:
            raise AnswerError(step, values[1])
        answers[step.key] = frozenset(values)
    return answers


def query(answers: Answers, **extra: str | int) -> str:
    """The query string carrying ``answers`` (in a stable order) and ``extra``."""
    pairs: list[tuple[str, str | int]] = [
        (key, value) for key in sorted(answers) for value in sorted(answers[key])
    ]
    pairs.extend(extra.items())
    return urlencode(pairs)


def item_answers(guide: Guide, item: ServiceItemDetail, answers: Answers) -> Answers:
    """One item's answers, keyed by its own question codes."""
    if guide.bundle is None:
        return answers
    prefix = item.code + "."
    return {key[len(prefix) :]: value for key, value in answers.items() if key.startswith(prefix)}


class Section(msgspec.Struct, frozen=True):
    """The materials one item of a checklist still needs beyond those shared."""

    item: ServiceItemDetail
    entries: tuple[ChecklistEntry, ...]


class Checklist(msgspec.Struct, frozen=True):
    """A personal checklist: for an item, one section; for a bundle, the shared materials
    (handed in once, for every item that asks for them) and then a section per item."""

    shared: tuple[ChecklistEntry, ...]
    sections: tuple[Section, ...]

    @property
    def entries(self) -> tuple[ChecklistEntry, ...]:
        return self.shared + tuple(entry for s in self.sections for entry in s.entries)


def checklist(guide: Guide, answers: Answers, held: Set[str] = frozenset()) -> Checklist:
    """The checklist these answers lead to, given the licence types the applicant holds."""
    shared_codes = set(guide.bundle.shared_materials) if guide.bundle else set()
    shared: dict[str, ChecklistEntry] = {}
    sections = []
    for item in guide.items:
        entries = build_checklist(
            item.materials, item.acceptance, item_answers(guide, item, answers), held
        )
        own = []
        for entry in entries:
            if entry.material.code in shared_codes:
                shared.setdefault(entry.material.code, entry)
            else:
                own.append(entry)
        sections.append(Section(item, tuple(own)))
    return Checklist(tuple(shared.values()), tuple(sections))
