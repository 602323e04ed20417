"""The production files describe a configuration the app accepts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from app.config import ROOT, load_settings

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<rest>[^}]*))?\}")
# What an operator supplies for the ${NAME:?…} variables.
SUPPLIED = {
    "TONGBAN_SECRET_KEY": "x" * 64,
    "TONGBAN_SMS_HTTP_URL": "https://sms.example/send",
    "TONGBAN_SMS_HTTP_SECRET": "gateway-secret",
}


def _expand(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group("name"), match.group("op"), match.group("rest")
        if name in SUPPLIED:
            return SUPPLIED[name]
        if op == "-":
            return rest
        raise AssertionError(f"{name} is required by the compose file but not supplied here")

    return _VARIABLE.sub(one, value)


@pytest.mark.parametrize("service", ["migrate", "web", "worker"])
def test_the_compose_environment_is_a_valid_production_configuration(
    service: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"][service]["environment"]
    for name in list(os.environ):
        if name.startswith("TONGBAN_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, _expand(str(value)))
    monkeypatch.setenv("TONGBAN_VAR_DIR", str(tmp_path))  # the image's /var/lib/tongban
    settings = load_settings()
    assert settings.environment == "prod" and settings.is_https
    assert settings.sms_provider == "http" and not settings.is_sqlite
    assert settings.trusted_proxies == 1


def test_the_image_runs_in_production_mode_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "TONGBAN_ENV=prod" in dockerfile
    assert re.search(r"^USER tongban$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile
