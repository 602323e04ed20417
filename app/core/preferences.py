"""Language and elderly-mode switches: plain forms that work without JavaScript.

The choice is remembered in a long-lived cookie so that it holds before sign-in and on
shared family phones; accounts will later store it too.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.response import Redirect, Response

from app.config import get_settings
from app.core import i18n
from app.core.context import ELDER_COOKIE
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import _
from app.core.text import has_control_characters

ONE_YEAR = 365 * 24 * 3600


class LanguageForm(Form):
    lang: str
    next: str = "/"


class ElderlyForm(Form):
    elder: str
    next: str = "/"


def safe_next(target: str) -> str:
    """Only same-site paths: never ``//host``, a scheme, a backslash, or a control character
    (open redirect). Browsers drop tab, CR and LF from URLs (URL Standard), so ``/\t/evil``
    would become ``//evil``; every character below 0x20 and DEL is refused for that reason."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if has_control_characters(target):
        return "/"
    return target


def remember(response: Response[Any], cookie: str, value: str) -> None:
    response.set_cookie(
        cookie,
        value,
        max_age=ONE_YEAR,
        httponly=True,
        samesite="lax",
        secure=get_settings().is_https,
    )


def _redirect(target: str, cookie: str, value: str) -> Redirect:
    response = Redirect(safe_next(target), status_code=303)
    remember(response, cookie, value)
    return response


async def _save_for_account(request: Request[Any, Any, Any], **changes: object) -> None:
    # Signed-in people keep their choice on the account too, so it follows them to a new
    # phone at sign-in (app/accounts). Imported here: accounts builds on core, not the reverse.
    from app.accounts.services import save_preferences

    await save_preferences(request, **changes)


@post("/preferences/language", name="set_language")
async def set_language(
    request: Request[Any, Any, Any],
    data: Annotated[LanguageForm, FORM_BODY],
) -> Redirect:
    locale = data.lang if data.lang in i18n.LOCALES else None
    if locale is None:
        raise BadInput(detail=_("This language is not available."))
    token = i18n.current_locale.set(locale)
    try:
        flash(request, _("Language changed to %(name)s.", name=i18n.LOCALES[locale]), "success")
    finally:
        i18n.current_locale.reset(token)
    await _save_for_account(request, locale=locale)
    return _redirect(data.next, i18n.LANG_COOKIE, locale)


@post("/preferences/elderly", name="set_elderly")
async def set_elderly(
    request: Request[Any, Any, Any],
    data: Annotated[ElderlyForm, FORM_BODY],
) -> Redirect:
    if data.elder not in ("0", "1"):
        raise BadInput(detail=_("Please choose on or off."))
    flash(
        request,
        _("Elderly mode is on: larger text and more space.")
        if data.elder == "1"
        else _("Elderly mode is off."),
        "success",
    )
    await _save_for_account(request, elderly=data.elder == "1")
    return _redirect(data.next, ELDER_COOKIE, data.elder)
