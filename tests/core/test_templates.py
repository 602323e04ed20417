"""Templates are compiled once per process outside development: no file checks per render."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from litestar.plugins.jinja import JinjaTemplateEngine

from app.config import Settings
from app.core import i18n
from app.core.templates import make_environment, template_config


def _environment(settings: Settings) -> Environment:
    engine = template_config(settings).instance
    assert isinstance(engine, JinjaTemplateEngine)
    return engine.engine


def test_templates_reload_from_disk_only_in_development(settings: Settings) -> None:
    assert _environment(replace(settings, environment="dev")).auto_reload is True
    assert _environment(replace(settings, environment="prod")).auto_reload is False


def test_without_auto_reload_an_edited_template_is_not_read_again(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("first", encoding="utf-8")
    environment = make_environment(auto_reload=False)
    environment.loader = FileSystemLoader(tmp_path)
    assert environment.get_template("page.html").render() == "first"
    page.write_text("second", encoding="utf-8")
    later = page.stat().st_mtime + 10
    os.utime(page, (later, later))
    assert environment.get_template("page.html").render() == "first"

    reloading = make_environment(auto_reload=True)
    reloading.loader = FileSystemLoader(tmp_path)
    assert reloading.get_template("page.html").render() == "second"


def test_translations_follow_the_locale_and_escape_their_variables() -> None:
    environment = make_environment(auto_reload=False)
    page = environment.from_string(
        '{{ _("Sign in") }} | {{ _("We sent a 6-digit code to %(number)s. It is valid for '
        '%(minutes)s minutes.", number=number, minutes=5) }} | {{ _("100%% sure") }}'
    )
    token = i18n.current_locale.set("en")
    try:
        english = page.render(number="<b>138</b>")
    finally:
        i18n.current_locale.reset(token)
    assert english.startswith("Sign in | We sent a 6-digit code to &lt;b&gt;138&lt;/b&gt;.")
    assert english.endswith("| 100% sure")
    token = i18n.current_locale.set("zh-Hans")
    try:
        chinese = page.render(number="138")
    finally:
        i18n.current_locale.reset(token)
    assert chinese.startswith("登录 | ")
    assert "138" in chinese
