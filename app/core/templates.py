"""The Jinja environment: i18n, components, and the helpers every page uses."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from app.config import FRONTEND, Settings, get_settings
from app.core import i18n
from app.core.context import current
from app.core.display import device_name, local_time
from app.core.flash import pop_flashes


def _gettext(message: str) -> str:
    return i18n.translations(i18n.current_locale.get()).gettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current_locale.get()).ngettext(singular, plural, n)


@lru_cache(maxsize=4096)
def _translated(locale: str, message: str) -> Markup:
    # As Jinja's newstyle gettext does under autoescape: the catalogue's text is markup.
    return Markup(i18n.translations(locale).gettext(message))  # noqa: S704 (our catalogue)


@lru_cache(maxsize=4096)
def _formatted(locale: str, message: str) -> Markup:
    # A message is always a format string, even without variables ("%%" is a percent sign).
    text: Markup = _translated(locale, message) % {}
    return text


def translate(message: str, **variables: Any) -> Markup:
    """``_()`` in templates. Jinja's own newstyle ``_`` dispatches three calls deep and escapes
    afresh on every use; this is one call and, without variables, one dictionary lookup."""
    locale = i18n.current_locale.get()
    if variables:
        text: Markup = _translated(locale, message) % variables
        return text
    return _formatted(locale, message)


def make_environment(*, auto_reload: bool = True) -> Environment:
    """``auto_reload`` checks every template file's mtime on each render (a stat per template
    and include): for editing in dev only. Without it a template is compiled once per process
    and kept (Jinja's cache holds 400, more than we have)."""
    env = Environment(
        loader=FileSystemLoader(FRONTEND / "templates"),
        auto_reload=auto_reload,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = translate  # gettext, ngettext and {% trans %} stay Jinja's own
    env.filters.update(local_time=local_time, device_name=device_name)
    env.globals.update(
        ctx=current,
        locales=i18n.LOCALES,
        pop_flashes=pop_flashes,
    )
    return env


def template_config(settings: Settings | None = None) -> TemplateConfig[Any]:
    settings = settings or get_settings()
    environment = make_environment(auto_reload=settings.is_dev)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))
