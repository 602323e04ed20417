"""Message texts, params and the pure rules of the outbox: no database, no Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.display import mask_phone
from app.core.i18n import LOCALES
from app.notifications.services import (
    RenderError,
    backoff,
    job_id,
    render,
    scrub,
)
from app.notifications.templates import SECRET_PARAMS, TEMPLATES, param_names


def test_sms_code_reads_right_in_chinese_and_english() -> None:
    params = {"code": "246810", "minutes": 5}
    assert render("sms_code", "zh-Hans", params) == (
        "【通办】验证码 246810，5 分钟内有效。请勿告诉他人。"
    )
    assert render("sms_code", "en", params) == (
        "[Tongban] Your code is 246810, valid for 5 minutes. Do not share it."
    )


def test_passkey_added_exists_in_both_languages_and_takes_no_params() -> None:
    assert render("passkey_added", "zh-Hans", {}).startswith("【通办】")
    assert render("passkey_added", "en", {}).startswith("[Tongban]")
    assert param_names("passkey_added") == frozenset()


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_every_kind_has_every_language_with_the_same_params(kind: str) -> None:
    texts = TEMPLATES[kind]
    assert set(texts) == set(LOCALES)
    names = param_names(kind)
    for locale in LOCALES:
        # Rendering with exactly the kind's params works in every language.
        render(kind, locale, dict.fromkeys(names, "x"))
    assert SECRET_PARAMS.get(kind, frozenset()) <= names


def test_the_sign_in_code_is_a_secret_param() -> None:
    assert "code" in SECRET_PARAMS["sms_code"]


@pytest.mark.parametrize(
    ("kind", "locale", "params", "error"),
    [
        ("no_such_kind", "zh-Hans", {}, "unknown kind 'no_such_kind'"),
        ("sms_code", "fr", {"code": "1", "minutes": 5}, "no text in 'fr'"),
        ("sms_code", "en", {"minutes": 5}, "missing param 'code'"),
    ],
)
def test_a_message_that_cannot_be_rendered_says_why(
    kind: str, locale: str, params: dict[str, object], error: str
) -> None:
    with pytest.raises(RenderError, match=error):
        render(kind, locale, params)


def test_scrub_replaces_secret_params_and_keeps_the_rest() -> None:
    assert scrub("sms_code", {"code": "246810", "minutes": 5}) == {"code": "***", "minutes": 5}


def test_scrub_keeps_nothing_of_a_kind_it_does_not_know() -> None:
    assert scrub("retired_kind", {"token": "abc", "n": 1}) == {"token": "***", "n": "***"}


def test_backoff_doubles_from_ten_seconds_and_stops_at_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=10),
        timedelta(seconds=20),
        timedelta(seconds=40),
        timedelta(seconds=80),
    ]
    assert backoff(9) == timedelta(seconds=2560)
    assert backoff(10) == timedelta(hours=1)
    assert backoff(30) == timedelta(hours=1)


def test_job_ids_differ_per_attempt() -> None:
    assert job_id(42, 0) == "notify:42:0"
    assert job_id(42, 1) != job_id(42, 0)


def test_masked_numbers_hide_the_middle() -> None:
    assert mask_phone("+8613800000001") == "138****0001"
    assert "13800000001" not in mask_phone("+8613800000001")
