"""The Jinja environment: i18n, components, and the helpers every page uses."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)
from jinja2 import Template as JinjaTemplate
from jinja2.ext import Extension
from jinja2.lexer import (
    TOKEN_DOT,
    TOKEN_LPAREN,
    TOKEN_NAME,
    TOKEN_PIPE,
    TOKEN_RPAREN,
    TOKEN_STRING,
    Token,
    TokenStream,
)
from litestar.exceptions import TemplateNotFoundException
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


def localised(obj: Any, field: str = "name") -> Any:
    """``loc(item)``: the Chinese or English twin of a field (``name_zh`` / ``name_en``), for
    the page's language."""
    suffix = "_zh" if i18n.current_locale.get() == i18n.DEFAULT_LOCALE else "_en"
    return getattr(obj, field + suffix)


def lang_of(text: str) -> str:
    """``lang`` for text whose language we did not choose (what someone wrote or signed):
    zh-Hans when it holds Chinese characters, else en."""
    return "zh-Hans" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


class BakedTranslations(Extension):
    """Translates every literal ``_("...")`` while a template compiles, for the language of the
    environment it compiles in (``environment.baked_locale``): the compiled page then holds the
    text itself, as if it had been written in that language. Calls with variables, or with
    anything but one string literal, stay calls to ``translate`` at render time."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        locale = getattr(self.environment, "baked_locale", None)
        if locale is None:
            yield from stream
            return
        window: list[Token] = []
        previous: Token | None = None
        for token in stream:
            window.append(token)
            if not _may_continue(window, previous):
                previous = window[-1]
                yield from window
                window = []
            elif len(window) == 4:
                # name "_", "(", string, ")": the translated text, marked safe as gettext does.
                line = window[0].lineno
                yield Token(line, TOKEN_LPAREN, "(")
                yield Token(line, TOKEN_STRING, str(_formatted(locale, window[2].value)))
                yield Token(line, TOKEN_PIPE, "|")
                yield Token(line, TOKEN_NAME, "safe")
                yield Token(line, TOKEN_RPAREN, ")")
                previous, window = window[-1], []
        yield from window


def _may_continue(window: list[Token], previous: Token | None) -> bool:
    """Whether ``window`` is still a prefix of ``_("literal")`` (not an attribute ``x._``)."""
    expected = (TOKEN_NAME, TOKEN_LPAREN, TOKEN_STRING, TOKEN_RPAREN)
    if window[0].value != "_" or (previous is not None and previous.type == TOKEN_DOT):
        return False
    return all(token.type == kind for token, kind in zip(window, expected, strict=False))


class LocalisedTemplateEngine(JinjaTemplateEngine):
    """Litestar's Jinja engine with one compiled copy of each template per language (overlays
    of one environment: same globals, filters and loader; their own cache)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(engine_instance=environment)
        self.by_locale: dict[str, Environment] = {}
        for locale in i18n.LOCALES:
            overlay = environment.overlay(extensions=[BakedTranslations])
            overlay.baked_locale = locale  # type: ignore[attr-defined]
            self.by_locale[locale] = overlay

    def get_template(self, template_name: str) -> JinjaTemplate:
        environment = self.by_locale.get(i18n.current_locale.get(), self.engine)
        try:
            return environment.get_template(name=template_name)
        except TemplateNotFound as exc:
            raise TemplateNotFoundException(template_name=template_name) from exc


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
    env.filters.update(local_time=local_time, device_name=device_name, lang_of=lang_of)
    env.globals.update(
        ctx=current,
        loc=localised,
        locales=i18n.LOCALES,
        pop_flashes=pop_flashes,
    )
    return env


def template_config(settings: Settings | None = None) -> TemplateConfig[Any]:
    settings = settings or get_settings()
    environment = make_environment(auto_reload=settings.is_dev)
    # Where passkeys work: WebAuthn refuses IP addresses, so pages opened at one link here.
    environment.globals["public_url"] = settings.public_url
    return TemplateConfig(instance=LocalisedTemplateEngine(environment))
