"""Templates are compiled once per process outside development: no file checks per render."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from litestar.plugins.jinja import JinjaTemplateEngine

from app.config import Settings
from app.core import i18n
from app.core.templates import LocalisedTemplateEngine, make_environment, template_config


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


SAMPLE = (
    '{{ _("Sign in") }}|{{ _("100%% sure") }}|{{ (_("Home"), _("Language"))|join("/") }}|'
    '{{ _("We sent a 6-digit code to %(number)s. It is valid for %(minutes)s minutes.", '
    'number=number, minutes=5) }}|{{ obj._("x") if false else "" }}'
)


@pytest.mark.parametrize("locale", ["zh-Hans", "en"])
def test_templates_compiled_per_language_render_as_the_plain_environment(locale: str) -> None:
    plain = make_environment(auto_reload=False)
    engine = LocalisedTemplateEngine(make_environment(auto_reload=False))
    token = i18n.current_locale.set(locale)
    try:
        expected = plain.from_string(SAMPLE).render(number="<b>1</b>", obj=None)
        baked = engine.by_locale[locale].from_string(SAMPLE).render(number="<b>1</b>", obj=None)
    finally:
        i18n.current_locale.reset(token)
    assert baked == expected
    # The literal messages are part of the compiled code; only the call with variables is left.
    compiled = engine.by_locale[locale].compile(SAMPLE, raw=True)
    assert ("登录" if locale == "zh-Hans" else "Sign in") in compiled
    call = "context.call((undefined(name='_')"
    assert compiled.count(call) == 1
    assert plain.compile(SAMPLE, raw=True).count(call) == 5


def test_the_engine_picks_the_template_compiled_for_the_request_language() -> None:
    engine = LocalisedTemplateEngine(make_environment(auto_reload=False))
    for locale, title in (("zh-Hans", "您已离线"), ("en", "You are offline")):
        token = i18n.current_locale.set(locale)
        try:
            template = engine.get_template("offline.html")
        finally:
            i18n.current_locale.reset(token)
        assert template.environment is engine.by_locale[locale]
        # Rendered in the other language's context, the title stays: it was compiled in.
        assert "".join(template.blocks["title"](template.new_context({}))) == title
