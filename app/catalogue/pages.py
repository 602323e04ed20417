"""Catalogue pages: browse and search, departments and life events, an item, a bundle, the
smart guide one question at a time, and the personal checklist as a page and as a PDF.

Everything here reads the catalogue through the ``catalogue`` cache (services.py, search.py).
Pages that are the same for every reader are served from the page cache; the checklist is
personal when someone is signed in (licences held, prefilled name) and is never stored.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.response import Redirect, Response, Template
from redis.asyncio import Redis

from app.accounts import services as accounts
from app.accounts.id_number import mask_id_number, unseal
from app.catalogue import guide as guides
from app.catalogue import pdf, services
from app.catalogue.schemas import ChecklistEntry, DepartmentSummary, Mark, ServiceItemDetail
from app.catalogue.search import search_index
from app.catalogue.tables import Delivery
from app.core.context import current as request_context
from app.core.display import mask_phone
from app.core.i18n import _
from app.core.page_cache import page_cache
from app.core.security import NO_STORE
from app.core.templates import localised
from app.licences.services import companies_of, held_licence_types
from app.signing import service as signing
from app.signing.tables import DocumentKind

RESULTS = 50  # search results shown on a page; the API pages through all of them
Query = Annotated[str, Parameter(required=False)]


def _redis(request: Request[Any, Any, Any]) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def zh() -> bool:
    return request_context().locale == "zh-Hans"


@dataclass(frozen=True, eq=False, slots=True)
class PageData:
    """A page's template and context, built once per catalogue version and kept in the
    catalogue cache. It keys the page cache by identity (cheap to hash; the page cache holds a
    reference, so the identity is never reused while its entry lives), and every catalogue
    change builds new ones."""

    template: str
    context: Mapping[str, Any]


async def _codes(redis: Redis) -> Mapping[str, frozenset[str]]:
    """The codes that exist, by kind: pages for anything else are 404 without touching the
    cache, so requests for made-up codes cannot fill it."""

    async def build() -> Mapping[str, frozenset[str]]:
        index = await search_index(redis)
        bundles = frozenset(b.code for b in await services.list_bundles(redis))
        return {
            "item": frozenset(index.by_code),
            "bundle": bundles,
            "guide": frozenset(index.by_code) | bundles,
            "department": frozenset(d.code for d in await services.list_departments(redis)),
            "life_event": frozenset(e.code for e in await services.list_life_events(redis)),
        }

    return await services.CACHE.get(redis, "codes", build)


async def _cached_page(
    request: Request[Any, Any, Any], kind: str, code: str, build: Callable[[], Awaitable[PageData]]
) -> Response[Any]:
    redis = _redis(request)
    if kind and code not in (await _codes(redis))[kind]:
        raise NotFoundException()
    data = await services.CACHE.get(redis, f"page:{kind}:{code}", build)
    return await page_cache(request).page(request, data.template, data.context, key=data)


async def _departments(redis: Redis) -> dict[str, DepartmentSummary]:
    return {d.code: d for d in await services.list_departments(redis)}


@get("/services", name="services")
async def services_page(request: Request[Any, Any, Any], q: Query = "") -> Response[Any]:
    redis = _redis(request)
    # Shown back in the search box: no control, format (bidi) or unpaired surrogate characters.
    query = "".join(ch for ch in q[:200] if unicodedata.category(ch)[0] != "C").strip()[:100]
    if query:
        # Everything on the page follows from the query and the catalogue version, which the
        # index stands for (a new one after every change; it hashes by identity).
        index = await search_index(redis)
        found = index.search(query)
        context = {
            "q": query,
            "results": found[:RESULTS],
            "total": len(found),
            "departments": await _departments(redis),
        }
        headers = {"Vary": "HX-Request"}  # the same address answers htmx with the results alone
        if request.headers.get("hx-request"):
            return Template(
                template_name="catalogue/_results.html", context=context, headers=headers
            )
        return await page_cache(request).page(
            request,
            "catalogue/services.html",
            context,
            key=(query, index),
            headers=headers,
            query_in_key=True,
        )

    async def build() -> PageData:
        index = await search_index(redis)
        counts = Counter(item.department for item in index.items)
        context = {
            "q": "",
            "departments": await services.list_departments(redis),
            "counts": counts,
            "events": await services.list_life_events(redis),
            "bundles": await services.list_bundles(redis),
            "total": len(index.items),
        }
        return PageData("catalogue/services.html", context)

    return await _cached_page(request, "", "services", build)


@get("/departments/{code:str}", name="department")
async def department_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    redis = _redis(request)

    async def build() -> PageData:
        department = (await _departments(redis))[code]
        index = await search_index(redis)
        context = {
            "title_zh": department.name_zh,
            "title_en": department.name_en,
            "items": [item for item in index.items if item.department == code],
            "bundles": (),
            "departments": None,
        }
        return PageData("catalogue/listing.html", context)

    return await _cached_page(request, "department", code, build)


@get("/life-events/{code:str}", name="life_event")
async def life_event_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    redis = _redis(request)

    async def build() -> PageData:
        event = next(e for e in await services.list_life_events(redis) if e.code == code)
        index = await search_index(redis)
        context = {
            "title_zh": event.name_zh,
            "title_en": event.name_en,
            "items": [item for item in index.items if code in item.life_events],
            "bundles": [b for b in await services.list_bundles(redis) if code in b.life_events],
            "departments": await _departments(redis),
        }
        return PageData("catalogue/listing.html", context)

    return await _cached_page(request, "life_event", code, build)


async def _item(redis: Redis, code: str) -> ServiceItemDetail:
    item = await services.get_item(redis, code)
    if item is None:
        raise NotFoundException()
    return item


@get("/services/{code:str}", name="service_item")
async def item_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    redis = _redis(request)

    async def build() -> PageData:
        item = await _item(redis, code)
        context = {
            "item": item,
            "department": (await _departments(redis)).get(item.department),
            "bundles": tuple(b for b in await services.list_bundles(redis) if code in b.items),
            "deliveries": [d for d in Delivery if d.value in item.delivery],
        }
        return PageData("catalogue/item.html", context)

    return await _cached_page(request, "item", code, build)


@get("/bundles/{code:str}", name="bundle")
async def bundle_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    redis = _redis(request)

    async def build() -> PageData:
        bundle = await services.get_bundle(redis, code)
        assert bundle is not None  # the code was checked
        items = tuple([await _item(redis, item_code) for item_code in bundle.items])
        context = {
            "bundle": bundle,
            "items": items,
            "departments": await _departments(redis),
            "shared": _shared_names(items, bundle.shared_materials),
        }
        return PageData("catalogue/bundle.html", context)

    return await _cached_page(request, "bundle", code, build)


def _shared_names(items: tuple[ServiceItemDetail, ...], codes: tuple[str, ...]) -> list[Any]:
    by_code = {m.code: m for item in reversed(items) for m in item.materials}
    return [by_code[code] for code in codes if code in by_code]


async def _guide(redis: Redis, code: str) -> guides.Guide:
    """The guide of the item or bundle with this code, built once per catalogue version."""
    if code not in (await _codes(redis))["guide"]:
        raise NotFoundException()

    async def build() -> guides.Guide:
        item = await services.get_item(redis, code)
        if item is not None:
            return guides.Guide.of(code, (item,))
        bundle = await services.get_bundle(redis, code)
        assert bundle is not None  # the code was checked
        items = tuple([await _item(redis, item_code) for item_code in bundle.items])
        return guides.Guide.of(code, items, bundle)

    return await services.CACHE.get(redis, "guide:" + code, build)


def _params(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    return {key: request.query_params.getall(key) for key in request.query_params}


def _bad_answer(guide: guides.Guide, error: guides.AnswerError) -> Template:
    question = error.step.question
    return Template(
        template_name="catalogue/guide_error.html",
        context={"guide": guide, "question": question},
        status_code=400,
    )


def _step_number(raw: list[str], count: int) -> int | None:
    """A 1-based step number within 1..count from the query, or None when it is missing or
    not one."""
    if len(raw) != 1 or not (raw[0].isascii() and raw[0].isdigit()) or len(raw[0]) > 4:
        return None
    number = int(raw[0])
    return number if 1 <= number <= count else None


@get("/guide/{code:str}", name="guide")
async def guide_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    """One question of the guide. ``answered=N`` says the form of question N was submitted:
    go on to the next (or to the checklist after the last); ``show=N`` shows question N."""
    redis = _redis(request)
    params = _params(request)
    if not params:  # the first question, the same for everyone
        guide = await _guide(redis, code)
        if not guide.steps:
            return Redirect(f"/guide/{code}/checklist", status_code=303)

        async def build() -> PageData:
            return PageData("catalogue/guide.html", _question(guide, {}, 1))

        return await _cached_page(request, "guide", code, build)
    guide = await _guide(redis, code)
    steps = guide.steps
    try:
        answers = guides.read_answers(guide, params)
    except guides.AnswerError as refused:
        return _bad_answer(guide, refused)
    checklist_url = f"/guide/{code}/checklist"
    if not steps:
        return Redirect(checklist_url, status_code=303)
    if "answered" in params:
        number = _step_number(params["answered"], len(steps))
        if number is None:
            return Redirect(f"/guide/{code}", status_code=303)
        step = steps[number - 1]
        if not (step.key in answers or step.question.multiple):
            context = _question(guide, answers, number, _("Choose one of the options."))
            return Template(template_name="catalogue/guide.html", context=context, status_code=400)
        if number == len(steps):
            return Redirect(f"{checklist_url}?{guides.query(answers)}", status_code=303)
        number += 1
    else:
        number = _step_number(params.get("show", []), len(steps)) or 1
    context = _question(guide, answers, number)
    return Template(template_name="catalogue/guide.html", context=context)


def _question(
    guide: guides.Guide, answers: guides.Answers, number: int, error: str | None = None
) -> dict[str, Any]:
    """The context of the guide page showing question ``number`` (1-based)."""
    step = guide.steps[number - 1]
    back = None
    if number > 1:
        back = f"/guide/{guide.code}?{guides.query(answers, show=number - 1)}"
    return {
        "guide": guide,
        "step": step,
        "number": number,
        "count": len(guide.steps),
        "hidden": [(k, v) for k in sorted(answers) if k != step.key for v in sorted(answers[k])],
        "chosen": answers.get(step.key, frozenset()),
        "back": back,
        "error": error,
    }


@dataclass(frozen=True, slots=True)
class Found:
    """A checklist and what made it."""

    guide: guides.Guide
    answers: dict[str, frozenset[str]]
    checklist: guides.Checklist
    account: Any  # the signed-in account, or None
    # Materials the licence library would fill (免于提交) once the data-use authorisation is
    # signed; 0 when it is signed, or when nobody is signed in.
    waiting: int = 0


async def personal_checklist(request: Request[Any, Any, Any], code: str) -> Found | Template:
    """The checklist for the answers in the query. Licences held count only once the person
    has signed the data-use authorisation (授权书): until then they are uploads like any other,
    and the page says how many would not be."""
    guide = await _guide(_redis(request), code)
    try:
        answers = guides.read_answers(guide, _params(request))
    except guides.AnswerError as error:
        return _bad_answer(guide, error)
    signed = await accounts.current(request)
    if signed is None:
        return Found(guide, answers, guides.checklist(guide, answers), None)
    account_id = int(signed.account.id)
    held = await held_licence_types(account_id)
    personal = guides.checklist(guide, answers, held)
    if not held or await signing.has_signed(account_id, DocumentKind.AUTHORISATION):
        return Found(guide, answers, personal, signed.account)
    waiting = sum(1 for entry in personal.entries if entry.mark == Mark.HELD)
    return Found(guide, answers, guides.checklist(guide, answers), signed.account, waiting)


def _answer_lines(guide: guides.Guide, answers: guides.Answers) -> list[tuple[str, str]]:
    lines = []
    for step in guide.steps:
        chosen = [o for o in step.question.options if o.code in answers.get(step.key, ())]
        text = localised(step.question, "text")
        names = "、".join(o.zh for o in chosen) if zh() else ", ".join(o.en for o in chosen)
        lines.append((text, names or _("Not answered")))
    return lines


@get("/guide/{code:str}/checklist", name="checklist")
async def checklist_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    found = await personal_checklist(request, code)
    if isinstance(found, Template):
        return found
    guide, answers, checklist, account = found.guide, found.answers, found.checklist, found.account
    here = f"/guide/{code}/checklist?{guides.query(answers)}"
    context = {
        "guide": guide,
        "waiting": found.waiting,
        "here": here,
        "checklist": checklist,
        "answer_lines": _answer_lines(guide, answers),
        "query": guides.query(answers),
        "signin": "/signin?" + urlencode({"next": here}),
        "how_to_provide": how_to_provide,
        "signed_in": account is not None,
        "applicant": await _applicant(account),
    }
    headers = NO_STORE if account is not None else {"Cache-Control": "private, max-age=0"}
    return Template(template_name="catalogue/checklist.html", context=context, headers=headers)


async def _applicant(account: Any) -> list[tuple[str, str]]:
    """What the account lets us fill in on a checklist: name, masked ID number and phone, and
    the companies the person represents."""
    if account is None:
        return []
    fields = []
    if account.name:
        fields.append((_("Name"), account.name))
    number = unseal(account.id_number_encrypted)
    if number:
        fields.append((_("ID number"), mask_id_number(number)))
    fields.append((_("Mobile number"), mask_phone(account.phone)))
    companies = await companies_of(int(account.id))
    if companies:
        fields.append((_("Company"), "、".join(companies.values())))
    return fields


def how_to_provide(entry: ChecklistEntry, today: date | None = None) -> str:
    """How one material is to be provided, as a sentence for the page and the PDF."""
    if entry.mark == Mark.HELD:
        return _("Exempt: the licence library already holds it")
    parts = [
        _("Bring the original to the counter or send it by courier")
        if entry.mark == Mark.ORIGINAL
        else _("Upload a scan or photo")
    ]
    if entry.pledge_allowed:
        parts.append(_("a signed pledge may replace it"))
    if entry.later_within_days:
        parts.append(_("may follow within %(days)s days", days=entry.later_within_days))
    if entry.tolerable:
        parts.append(_("may be missing at acceptance"))
    if not entry.material.required:
        parts.append(_("only if it applies to you"))
    return ("；" if zh() else "; ").join(parts)


def _title(guide: guides.Guide) -> str:
    named = guide.bundle or guide.items[0]
    return str(localised(named))


@get("/guide/{code:str}/checklist.pdf", name="checklist_pdf")
async def checklist_pdf(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    found = await personal_checklist(request, code)
    if isinstance(found, Template):
        return found
    guide, answers, checklist, account = found.guide, found.answers, found.checklist, found.account
    settings = request.app.state.settings
    departments = {d.code: d for d in await services.list_departments(_redis(request))}
    if guide.bundle is not None:
        subtitle = _("One application for several services")
        item = None
    else:
        item = guide.items[0]
        dept = departments.get(item.department)
        subtitle = localised(dept) if dept else ""
    facts = []
    if item is not None:
        facts = [
            (_("Promised time"), _("%(days)s working days", days=item.promised_days)),
            (_("Fee"), localised(item, "fee")),
        ]
    lines = [
        pdf.ChecklistLine(
            name=localised(e.material),
            how=how_to_provide(e),
            note=localised(e.material, "note"),
            held=e.mark == Mark.HELD,
        )
        for e in checklist.entries
    ]
    document = pdf.PrintableChecklist(
        locale=request_context().locale,
        title=_title(guide),
        subtitle=subtitle,
        reference=guide.code,
        generated_on=date.today(),
        applicant=tuple(await _applicant(account)),
        answers=tuple(_answer_lines(guide, answers)),
        facts=tuple(facts),
        lines=tuple(lines),
        label_applicant=_("Applicant"),
        label_answers=_("Your answers"),
        label_materials=_("Materials"),
        footer=_(
            "Made by Tongban's service guide as a help; the department's requirements prevail. %(url)s",
            url=f"{settings.public_url}/guide/{guide.code}/checklist",
        ),
    )
    # Laying out a PDF takes tens of milliseconds of CPU: not on the event loop.
    body = await anyio.to_thread.run_sync(pdf.checklist_pdf, document)
    headers = dict(NO_STORE) if account is not None else {"Cache-Control": "private, max-age=0"}
    headers["Content-Disposition"] = f'attachment; filename="checklist-{guide.code}.pdf"'
    return Response(body, media_type="application/pdf", headers=headers)


ROUTES = [
    services_page,
    department_page,
    life_event_page,
    item_page,
    bundle_page,
    guide_page,
    checklist_page,
    checklist_pdf,
]
