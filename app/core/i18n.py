"""Languages: zh-Hans first, English second.

Message ids are English; ``app/locale/zh_Hans`` carries the Chinese. Catalogues are compiled
(``.po`` → ``.mo``) by ``make install`` and the Dockerfile; if a ``.mo`` is missing or stale the
``.po`` is compiled in memory so that a fresh checkout never shows a half-English page.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LOCALE = "zh-Hans"
LOCALES: dict[str, str] = {"zh-Hans": "简体中文", "en": "English"}
# BCP 47 tag (what HTML and the cookie carry) -> gettext catalogue folder.
_CATALOGUE = {"zh-Hans": "zh_Hans", "en": "en"}
LANG_COOKIE = "tongban_lang"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def _load(folder: str) -> NullTranslations:
    po = LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle)
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=folder)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


@lru_cache(maxsize=len(_CATALOGUE))
def translations(locale: str) -> NullTranslations:
    return _load(_CATALOGUE.get(locale, _CATALOGUE[DEFAULT_LOCALE]))


def gettext(message: str, **variables: object) -> str:
    text = translations(current_locale.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(current_locale.get()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now (module-level labels);
    translate it where it is shown, with ``_(label)``."""
    return message


def normalise(tag: str | None) -> str | None:
    """Map a language tag from a cookie or Accept-Language to a supported locale."""
    if not tag:
        return None
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        # zh, zh-CN, zh-Hans, zh-SG: simplified. Traditional readers still get zh-Hans, the
        # only Chinese catalogue we keep.
        return "zh-Hans"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(cookie_value: str | None, accept_language: str | None) -> str:
    chosen = normalise(cookie_value)
    if chosen:
        return chosen
    if accept_language:
        weighted: list[tuple[float, str]] = []
        for part in accept_language.split(",")[:20]:
            tag, _sep, params = part.partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            weighted.append((quality, tag))
        for _quality, tag in sorted(weighted, key=lambda item: -item[0]):
            found = normalise(tag)
            if found:
                return found
    return DEFAULT_LOCALE
