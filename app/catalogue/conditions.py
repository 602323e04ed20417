"""The condition language of guide answers: when does a material apply?

A condition is plain data (JSON in the database, an inline table in the TOML file), never code:

    {"all": [c, …]}                        every one holds (an empty list holds)
    {"any": [c, …]}                        at least one holds (an empty list does not)
    {"not": c}                             c does not hold
    {"answer": "question", "is": "opt"}    the option was chosen for that question
    {"answer": "question", "in": [o, …]}   at least one of these options was chosen

``parse`` turns the data into frozen structs and refuses anything else with a
``ConditionError`` that says where the fault is; it runs when the catalogue is loaded, so a bad
condition never reaches a page. ``evaluate`` is then a pure function of the parsed condition and
the answers. Answers map a question code to the chosen option codes (a set, since a question
may allow several); a question left unanswered chose nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec


class ConditionError(ValueError):
    """A condition that is not one of the forms above, or names an unknown question or option."""


class All(msgspec.Struct, frozen=True, tag="all"):
    conditions: tuple[Condition, ...]


class Any_(msgspec.Struct, frozen=True, tag="any"):
    conditions: tuple[Condition, ...]


class Not(msgspec.Struct, frozen=True, tag="not"):
    condition: Condition


class Answer(msgspec.Struct, frozen=True, tag="answer"):
    question: str
    options: frozenset[str]  # "is" is the one-option case of "in"


Condition = All | Any_ | Not | Answer

Answers = Mapping[str, frozenset[str]]
# Question code -> its option codes; None skips the check that names exist.
Questions = Mapping[str, frozenset[str]]


def parse(data: Any, questions: Questions | None = None, *, where: str = "condition") -> Condition:
    """The condition that ``data`` describes; raises ConditionError naming the faulty part."""
    if not isinstance(data, Mapping):
        raise ConditionError(f"{where}: expected a table, got {type(data).__name__}")
    keys = set(data)
    if keys == {"all"} or keys == {"any"}:
        (key,) = keys
        parts = data[key]
        if not isinstance(parts, list):
            raise ConditionError(f"{where}.{key}: expected a list")
        parsed = tuple(
            parse(part, questions, where=f"{where}.{key}[{index}]")
            for index, part in enumerate(parts)
        )
        return All(parsed) if key == "all" else Any_(parsed)
    if keys == {"not"}:
        return Not(parse(data["not"], questions, where=f"{where}.not"))
    if keys == {"answer", "is"} or keys == {"answer", "in"}:
        question = data["answer"]
        if not isinstance(question, str) or not question:
            raise ConditionError(f"{where}.answer: expected a question code")
        if "is" in data:
            if not isinstance(data["is"], str):
                raise ConditionError(f"{where}.is: expected an option code")
            options = frozenset([data["is"]])
        else:
            listed = data["in"]
            if (
                not isinstance(listed, list)
                or not listed
                or not all(isinstance(option, str) for option in listed)
            ):
                raise ConditionError(f"{where}.in: expected a non-empty list of option codes")
            options = frozenset(listed)
        if questions is not None:
            if question not in questions:
                raise ConditionError(f"{where}: no question {question!r}")
            unknown = sorted(options - questions[question])
            if unknown:
                raise ConditionError(f"{where}: question {question!r} has no option {unknown}")
        return Answer(question, options)
    raise ConditionError(
        f"{where}: expected exactly one of all, any, not, or answer with is/in; got {sorted(keys)}"
    )


def to_data(condition: Condition) -> dict[str, Any]:
    """The plain data of a parsed condition (``parse(to_data(c)) == c``)."""
    match condition:
        case All(parts):
            return {"all": [to_data(part) for part in parts]}
        case Any_(parts):
            return {"any": [to_data(part) for part in parts]}
        case Not(inner):
            return {"not": to_data(inner)}
        case Answer(question, options):
            if len(options) == 1:
                return {"answer": question, "is": next(iter(options))}
            return {"answer": question, "in": sorted(options)}
    raise TypeError(condition)  # pragma: no cover - the match is exhaustive


def evaluate(condition: Condition | None, answers: Answers) -> bool:
    """Whether the condition holds for these answers; no condition always holds."""
    match condition:
        case None:
            return True
        case All(parts):
            return all(evaluate(part, answers) for part in parts)
        case Any_(parts):
            return any(evaluate(part, answers) for part in parts)
        case Not(inner):
            return not evaluate(inner, answers)
        case Answer(question, options):
            return not options.isdisjoint(answers.get(question, frozenset()))
    raise TypeError(condition)  # pragma: no cover - the match is exhaustive


def normalise_answers(raw: Mapping[str, str | Iterable[str]]) -> dict[str, frozenset[str]]:
    """Answers as evaluate wants them, from one option code or several per question."""
    return {
        question: frozenset([value]) if isinstance(value, str) else frozenset(value)
        for question, value in raw.items()
    }
