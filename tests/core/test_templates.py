"""Templates are compiled once per process outside development: no file checks per render."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from litestar.plugins.jinja import JinjaTemplateEngine

from app.config import Settings
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
