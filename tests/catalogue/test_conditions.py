"""The condition language: parsing refuses what is not a condition, evaluation obeys logic."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalogue.conditions import (
    All,
    Answer,
    Any_,
    Condition,
    ConditionError,
    Not,
    evaluate,
    normalise_answers,
    parse,
    to_data,
)

QUESTIONS = {"q1": frozenset({"a", "b", "c"}), "q2": frozenset({"yes", "no"})}

answers_strategy = st.fixed_dictionaries(
    {},
    optional={
        "q1": st.frozensets(st.sampled_from(sorted(QUESTIONS["q1"]))),
        "q2": st.frozensets(st.sampled_from(sorted(QUESTIONS["q2"])), max_size=1),
    },
)

leaves = st.sampled_from(sorted(QUESTIONS)).flatmap(
    lambda question: st.frozensets(st.sampled_from(sorted(QUESTIONS[question])), min_size=1).map(
        lambda options: Answer(question, options)
    )
)
conditions: st.SearchStrategy[Condition] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda parts: All(tuple(parts))),
        st.lists(inner, max_size=4).map(lambda parts: Any_(tuple(parts))),
        inner.map(Not),
    ),
    max_leaves=12,
)


@given(conditions, answers_strategy)
def test_double_negation_is_the_condition(condition: Condition, answers: Any) -> None:
    assert evaluate(Not(Not(condition)), answers) == evaluate(condition, answers)


@given(answers_strategy)
def test_all_of_nothing_holds_and_any_of_nothing_does_not(answers: Any) -> None:
    assert evaluate(All(()), answers) is True
    assert evaluate(Any_(()), answers) is False


@given(st.lists(conditions, max_size=4), answers_strategy)
def test_de_morgan(parts: list[Condition], answers: Any) -> None:
    negated = tuple(Not(part) for part in parts)
    assert evaluate(Not(All(tuple(parts))), answers) == evaluate(Any_(negated), answers)
    assert evaluate(Not(Any_(tuple(parts))), answers) == evaluate(All(negated), answers)


@given(conditions)
def test_data_round_trips_through_parse(condition: Condition) -> None:
    assert parse(to_data(condition), QUESTIONS) == condition


def test_answer_is_and_in() -> None:
    answers = normalise_answers({"q1": ["a", "b"], "q2": "no"})
    assert evaluate(parse({"answer": "q1", "is": "a"}), answers)
    assert not evaluate(parse({"answer": "q1", "is": "c"}), answers)
    assert evaluate(parse({"answer": "q1", "in": ["c", "b"]}), answers)
    assert not evaluate(parse({"answer": "q2", "in": ["yes"]}), answers)


def test_an_unanswered_question_chose_nothing() -> None:
    assert not evaluate(parse({"answer": "q1", "is": "a"}), {})
    assert evaluate(parse({"not": {"answer": "q1", "is": "a"}}), {})


def test_no_condition_always_holds() -> None:
    assert evaluate(None, {})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("q1 == 'a'", "expected a table"),
        ({}, "expected exactly one of"),
        ({"all": [], "any": []}, "expected exactly one of"),
        ({"all": {"answer": "q1", "is": "a"}}, "expected a list"),
        ({"answer": "q1"}, "expected exactly one of"),
        ({"answer": "q1", "is": "a", "in": ["b"]}, "expected exactly one of"),
        ({"answer": "", "is": "a"}, "expected a question code"),
        ({"answer": "q1", "is": 1}, "expected an option code"),
        ({"answer": "q1", "in": []}, "non-empty list"),
        ({"answer": "q1", "in": "a"}, "non-empty list"),
        ({"answer": "q9", "is": "a"}, "no question 'q9'"),
        ({"answer": "q1", "is": "z"}, "has no option ['z']"),
        ({"not": {"all": [{"any": [{"answer": "q2", "is": "maybe"}]}]}}, "condition.not.all[0]"),
        ({"__import__": "os"}, "expected exactly one of"),
    ],
)
def test_parse_refuses_what_is_not_a_condition(data: Any, message: str) -> None:
    with pytest.raises(ConditionError) as raised:
        parse(data, QUESTIONS)
    assert message in str(raised.value)
