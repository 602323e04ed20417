from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_settings
from app.core import i18n


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "PUBLIC_URL",
        "RP_ID",
        "ENV",
        "SMS_PROVIDER",
        "SMS_HTTP_URL",
        "SMS_HTTP_SECRET",
    ):
        monkeypatch.delenv(f"TONGBAN_{name}", raising=False)
    monkeypatch.setenv("TONGBAN_VAR_DIR", str(tmp_path))
    return monkeypatch


def test_dev_defaults_are_embedded_and_the_secret_is_generated_once(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = load_settings()
    assert first.is_dev
    assert first.database_url == f"sqlite:///{tmp_path / 'tongban.sqlite3'}"
    assert first.redis_url is None
    assert first.rp_id == "localhost"
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_settings().secret_key == first.secret_key


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENV": "staging"}, "TONGBAN_ENV"),
        ({"DATABASE_URL": "mysql://x"}, "TONGBAN_DATABASE_URL"),
        ({"PORT": "eighty"}, "TONGBAN_PORT"),
        ({"SECRET_KEY": "short"}, "at least 32"),
        ({"PUBLIC_URL": "ftp://x"}, "TONGBAN_PUBLIC_URL"),
        (
            {"ENV": "prod", "REDIS_URL": "redis://r:6379/0", "PUBLIC_URL": "https://a.example"},
            "SECRET_KEY",
        ),
        ({"ENV": "prod", "SECRET_KEY": "k" * 40, "PUBLIC_URL": "https://a.example"}, "REDIS_URL"),
        (
            {
                "ENV": "prod",
                "SECRET_KEY": "k" * 40,
                "REDIS_URL": "redis://r/0",
                "PUBLIC_URL": "http://a.example",
            },
            "https",
        ),
    ],
)
def test_bad_configuration_is_refused_with_the_variable_named(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(f"TONGBAN_{name}", value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_production_settings_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TONGBAN_ENV", "prod")
    clean_env.setenv("TONGBAN_SECRET_KEY", "k" * 40)
    clean_env.setenv("TONGBAN_REDIS_URL", "redis://redis:6379/0")
    clean_env.setenv("TONGBAN_DATABASE_URL", "postgresql://tongban@db/tongban")
    clean_env.setenv("TONGBAN_PUBLIC_URL", "https://tongban.example.gov.cn/")
    clean_env.setenv("TONGBAN_SMS_PROVIDER", "http")
    clean_env.setenv("TONGBAN_SMS_HTTP_URL", "https://sms.example/send")
    clean_env.setenv("TONGBAN_SMS_HTTP_SECRET", "gateway-shared-secret")
    settings = load_settings()
    assert settings.is_https and not settings.is_dev
    assert settings.rp_id == "tongban.example.gov.cn"
    assert settings.public_url == "https://tongban.example.gov.cn"
    assert settings.log_format == "json"
    assert "k" * 40 not in repr(settings)
    assert "gateway-shared-secret" not in repr(settings)


def test_settings_with_every_kind_of_value_stay_hashable(clean_env: pytest.MonkeyPatch) -> None:
    # Functions cached per settings (the PDF seal's signer) take them as their key: a dict or
    # list among the fields would make every such call a TypeError, hence a 500.
    clean_env.setenv("TONGBAN_COURIER_WEBHOOK_SECRETS", f"sf={'s' * 32},jd={'j' * 32}")
    settings = load_settings()
    assert hash(settings) == hash(load_settings())
    assert settings.courier_secret("jd") == "j" * 32 and settings.courier_secret("ems") is None
    assert settings.courier_companies == ["jd", "sf"]
    assert "s" * 32 not in repr(settings)


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, None, "zh-Hans"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, zh-CN;q=0.8", "zh-Hans"),
        (None, "de, fr", "zh-Hans"),
        ("en", "zh-CN", "en"),
        ("klingon", "en", "en"),
        (None, "en;q=bogus, zh", "zh-Hans"),
    ],
)
def test_language_negotiation(cookie: str | None, accept: str | None, expected: str) -> None:
    assert i18n.negotiate(cookie, accept) == expected


def test_every_message_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    with (i18n.LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [message.id for message in catalog if message.id and not message.string]
    assert untranslated == []
