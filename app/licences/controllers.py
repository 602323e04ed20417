"""Licence library pages: my licences, one licence, 亮证 (share as a QR code), and the public
verify page a verifier's phone opens from the QR code."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import segno
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.accounts import services as accounts
from app.accounts.guards import requires_signed_in
from app.core.context import current as request_context
from app.core.forms import FORM_BODY
from app.core.i18n import _
from app.core.security import NO_STORE
from app.licences import services, tokens
from app.licences.schemas import ShareForm


def field_labels(licence: services.LicenceView) -> dict[str, str]:
    locale = request_context().locale
    labels = {
        "holder_name": _("Holder"),
        "number": _("Number"),
        "valid_until": _("Valid until"),
    }
    labels.update({item.key: item.label(locale) for item in licence.field_defs})
    return labels


def field_value(licence: services.LicenceView, key: str) -> str:
    if key == "holder_name":
        return licence.holder_name
    if key == "number":
        return licence.number
    if key == "valid_until":
        return licence.valid_until.isoformat() if licence.valid_until else _("No end date")
    return str(licence.data.get(key, ""))


async def _account_id(request: HTMXRequest) -> int:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return int(signed.account.id)


async def _licence(request: HTMXRequest, licence_id: int) -> services.LicenceView:
    # Ownership is part of the query: someone else's licence is simply not found.
    licence = await services.licence_of(await _account_id(request), licence_id)
    if licence is None:
        raise NotFoundException()
    return licence


@get("/licences", name="licences", guards=[requires_signed_in])
async def licence_list(request: HTMXRequest) -> Template:
    account_id = await _account_id(request)
    found = await services.licences_of(account_id)
    context = {
        "mine": [item for item in found if item.company_id is None],
        "companies": await services.companies_of(account_id),
        "company_licences": [item for item in found if item.company_id is not None],
        "locale": request_context().locale,
    }
    return Template(template_name="licences/list.html", context=context, headers=NO_STORE)


async def _detail_page(
    request: HTMXRequest, licence_id: int, error: str | None = None, status: int = 200
) -> Template:
    licence = await _licence(request, licence_id)
    context = {
        "licence": licence,
        "labels": field_labels(licence),
        "values": {key: field_value(licence, key) for key in licence.shareable()},
        "current": licence.current(),
        "locale": request_context().locale,
        "error": error,
    }
    return Template(
        template_name="licences/detail.html", context=context, status_code=status, headers=NO_STORE
    )


@get("/licences/{licence_id:int}", name="licence", guards=[requires_signed_in])
async def licence_detail(request: HTMXRequest, licence_id: FromPath[int]) -> Template:
    return await _detail_page(request, licence_id)


@post("/licences/{licence_id:int}/share", name="licence_share", guards=[requires_signed_in])
async def licence_share(
    request: HTMXRequest, licence_id: FromPath[int], data: Annotated[ShareForm, FORM_BODY]
) -> Template:
    now = int(time.time())
    try:
        shared = await services.share(await _account_id(request), licence_id, data.chosen(), now)
    except services.ShareRefused:
        return await _detail_page(
            request,
            licence_id,
            _("Choose at least one of the fields listed. Only a valid licence can be shown."),
            400,
        )
    if shared is None:
        raise NotFoundException()
    licence, token = shared
    url = f"{request.app.state.settings.public_url}/licences/verify/{token}"
    labels = field_labels(licence)
    context = {
        "licence": licence,
        "shared": [labels[key] for key in licence.shareable() if key in set(data.chosen())],
        "qr": segno.make(url, error="m").png_data_uri(scale=6, border=4),
        "url": url,
        "minutes": tokens.TTL_SECONDS // 60,
        "locale": request_context().locale,
    }
    return Template(template_name="licences/shared.html", context=context, headers=NO_STORE)


@get("/licences/verify/{token:str}", name="licence_verify")
async def licence_verify(token: FromPath[str]) -> Template:
    context: dict[str, Any] = {"locale": request_context().locale, "licence": None}
    try:
        verified = await services.verify(token, int(time.time()))
    except tokens.TokenError as exc:
        context["state"] = exc.kind
        status = 410 if exc.kind == "expired" else 400
        return Template(
            template_name="licences/verify.html",
            context=context,
            status_code=status,
            headers=NO_STORE,
        )
    licence = verified.licence
    labels = field_labels(licence)
    context.update(
        state="genuine" if verified.current else "not_current",
        licence=licence,
        # (label, value, printed on the licence: Chinese whatever the page language)
        shown=[
            (labels[key], field_value(licence, key), key != "valid_until")
            for key in licence.shareable()
            if key in verified.claim.fields
        ],
        expires=datetime.fromtimestamp(verified.claim.expires_at, UTC),
    )
    return Template(
        template_name="licences/verify.html",
        context=context,
        status_code=200 if verified.current else 410,
        headers=NO_STORE,
    )


ROUTES = [licence_list, licence_detail, licence_share, licence_verify]
