"""The catalogue's JSON API under /api/v1, for kiosks and partners; documented by the OpenAPI
schema at /schema/openapi.json (only these routes are in it).

    GET /api/v1/services?q=&limit=&cursor=   the catalogue in order, or what ``q`` finds, paged
    GET /api/v1/services/{code}              one item with its questions and materials

Public, read-only and the same for everyone: no session, no CSRF cookie, any origin may read it
(``Access-Control-Allow-Origin: *``; plain GETs need no preflight), cacheable for a minute.
Errors are JSON ``{"status_code", "detail"}`` with a localised detail (``Accept-Language``).

The paging cursor is opaque to clients: the offset of the next page and an HMAC over it and the
query (app/core/crypto.py, its own purpose), so a cursor cannot be forged, edited or carried
over to another query; anything else is refused with a 400.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_404_NOT_FOUND
from redis.asyncio import Redis

from app.catalogue import services
from app.catalogue.schemas import (
    Acceptance,
    GuideQuestionSpec,
    MaterialSpec,
    ServiceItemDetail,
    ServiceItemSummary,
)
from app.catalogue.search import normalise, search_index
from app.core.crypto import keyed_hash
from app.core.errors import BadInput, api_error_response
from app.core.i18n import _

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CURSOR_PURPOSE = "api-cursor"
CURSOR_MAC_CHARS = 24  # hex characters of the HMAC kept: 96 bits
CURSOR_SHAPE = re.compile(r"[A-Za-z0-9_-]{4,64}")
OFFSET_SHAPE = re.compile(r"(0|[1-9][0-9]{0,6})")


class UnknownItem(NotFoundException):
    localised = True  # app/core/errors.py shows the detail as it is


class ApiError(msgspec.Struct, frozen=True):
    status_code: int
    detail: str  # localised: a sentence to show


class ServiceOut(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
    department: str  # department code
    promised_days: int  # working days promised (承诺时限)
    online: bool  # may be done entirely online (全程网办)
    url: str  # the item's page


class ServicePage(msgspec.Struct, frozen=True):
    items: list[ServiceOut]
    next_cursor: str | None  # pass as ``cursor`` for the next page; null on the last one
    total: int  # items found (or in the catalogue, without ``q``)


class MaterialOut(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
    kind: str  # upload, original or licence
    note_zh: str
    note_en: str
    licence_type: str  # for kind licence: the licence library's type code
    required: bool
    tolerable: bool  # 容缺: may be missing at acceptance
    pledgeable: bool  # 告知承诺: a signed pledge may replace it
    deferrable: bool  # 延期: may follow later
    conditional: bool  # asked for only after some answers to the guide questions


class ServiceDetailOut(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
    department: str
    description_zh: str
    description_en: str
    fee_zh: str
    fee_en: str
    legal_days: int
    promised_days: int
    approval_levels: int
    counter_visit: bool
    delivery: list[str]
    min_assurance: int
    acceptance: Acceptance
    life_events: list[str]
    questions: list[GuideQuestionSpec]
    materials: list[MaterialOut]
    result_licence: str  # licence type issued on approval; "" = a decision letter
    url: str


def _public_url(request: Request[Any, Any, Any]) -> str:
    url: str = request.app.state.settings.public_url
    return url


def _out(item: ServiceItemSummary, base: str) -> ServiceOut:
    fields = msgspec.structs.asdict(item)
    del fields["life_events"]
    return ServiceOut(**fields, url=f"{base}/services/{item.code}")


def _material_out(material: MaterialSpec) -> MaterialOut:
    fields = msgspec.structs.asdict(material)
    conditional = fields.pop("condition") is not None  # the condition itself stays inside
    return MaterialOut(**fields, conditional=conditional)


def _detail_out(item: ServiceItemDetail, base: str) -> ServiceDetailOut:
    fields = msgspec.structs.asdict(item)
    fields.update(
        delivery=list(item.delivery),
        life_events=list(item.life_events),
        questions=list(item.questions),
        materials=[_material_out(material) for material in item.materials],
    )
    return ServiceDetailOut(**fields, url=f"{base}/services/{item.code}")


def _mac(offset: int, query: str) -> str:
    return keyed_hash(CURSOR_PURPOSE, str(offset), query)[:CURSOR_MAC_CHARS]


def make_cursor(offset: int, query: str) -> str:
    """The cursor of the page starting at ``offset`` of the results of ``query`` (normalised)."""
    raw = f"{offset}.{_mac(offset, query)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str, query: str) -> int:
    """The offset a cursor made by ``make_cursor`` for this query holds; BadInput otherwise."""
    refused = BadInput(detail=_("The cursor is not valid. Start again from the first page."))
    if not CURSOR_SHAPE.fullmatch(cursor):
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise refused from None
    offset, _sep, mac = raw.partition(".")
    if not OFFSET_SHAPE.fullmatch(offset) or not hmac.compare_digest(
        mac.encode(), _mac(int(offset), query).encode()
    ):
        raise refused
    return int(offset)


Limit = Annotated[
    int,
    Parameter(
        ge=1,
        le=MAX_LIMIT,
        required=False,
        description=f"Items per page, 1 to {MAX_LIMIT}.",
    ),
]
Query = Annotated[
    str | None,
    Parameter(
        required=False,
        description="Search: Chinese, full pinyin, pinyin initials or English (first 100 "
        "characters). Without it, the whole catalogue in order.",
    ),
]
Cursor = Annotated[
    str | None,
    Parameter(
        required=False,
        description="next_cursor of the previous page, as it was given.",
    ),
]
ERRORS = {
    400: ResponseSpec(
        ApiError,
        description="A parameter is not valid (detail says which).",
        generate_examples=False,
    ),
}


class _Pages:
    """Encoded answers of /api/v1/services by (query, offset, limit, public URL), for the
    current search index only: kiosks and partners page through the same few queries again and
    again. A new index (every catalogue change) starts afresh; at most ``size`` are kept."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._index: object = None
        self._answers: dict[tuple[str, int, int, str], bytes] = {}

    def get(self, index: object, key: tuple[str, int, int, str]) -> bytes | None:
        if index is not self._index:
            self._index, self._answers = index, {}
            return None
        return self._answers.get(key)

    def put(self, key: tuple[str, int, int, str], body: bytes) -> None:
        if len(self._answers) >= self.size:
            del self._answers[next(iter(self._answers))]  # the oldest answer
        self._answers[key] = body


PAGES = _Pages()


@get(
    "/services",
    name="api_services",
    summary="List or search the service catalogue",
    responses={
        200: ResponseSpec(
            ServicePage,
            description="A page of the catalogue, or of what q finds, best first.",
            generate_examples=False,
        ),
        **ERRORS,
    },
)
async def list_services(
    request: Request[Any, Any, Any],
    q: Query = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response[bytes]:
    redis: Redis = request.app.state.redis
    index = await search_index(redis)
    query = normalise(q or "")
    offset = read_cursor(cursor, query) if cursor is not None else 0
    base = _public_url(request)  # in every item's url
    key = (query, offset, limit, base)
    body = PAGES.get(index, key)
    if body is None:
        found = index.search(query) if query else index.items
        end = offset + limit
        page = ServicePage(
            items=[_out(item, base) for item in found[offset:end]],
            next_cursor=make_cursor(end, query) if end < len(found) else None,
            total=len(found),
        )
        body = msgspec.json.encode(page)
        PAGES.put(key, body)
    return Response(body, media_type=MediaType.JSON)


@get(
    "/services/{code:str}",
    name="api_service",
    summary="One service item with its guide questions and materials",
    responses={
        404: ResponseSpec(ApiError, description="No item has this code.", generate_examples=False)
    },
)
async def get_service(request: Request[Any, Any, Any], code: FromPath[str]) -> ServiceDetailOut:
    item = await services.get_item(request.app.state.redis, code)
    if item is None:
        raise UnknownItem(detail=_("No service item has this code."))
    return _detail_out(item, _public_url(request))


def _invalid_parameter(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar refused a parameter before the handler ran: say which one, in words."""
    keys = {
        str(entry.get("key"))
        for entry in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(entry, dict)
    }
    if "limit" in keys:
        detail = _("limit must be a whole number from 1 to {max}.").format(max=MAX_LIMIT)
    else:
        detail = _("A parameter of the request is not valid: {names}.").format(
            names=", ".join(sorted(keys)) or "?"
        )
    return api_error_response(400, detail)


async def _missing_schema_file(response: Response[Any]) -> Response[Any]:
    # Litestar answers unknown paths under /schema with a bare HTML page of its own (no
    # language, no title the way ours have); ours says it in the reader's language.
    if response.status_code == HTTP_404_NOT_FOUND:
        raise NotFoundException()
    return response


def openapi_config() -> OpenAPIConfig:
    """The schema of the JSON API at /schema/openapi.json, and only that: no documentation UI
    (those pages load scripts from CDNs). Only the API router opts into the schema."""
    return OpenAPIConfig(
        title="Tongban API",
        version="1",
        description="The service catalogue of Tongban (通办), read-only and public.",
        render_plugins=[JsonRenderPlugin()],
        openapi_router=Router(
            "/schema",
            route_handlers=[],
            include_in_schema=False,
            after_request=_missing_schema_file,
        ),
    )


ROUTER = Router(
    path="/api/v1",
    route_handlers=[list_services, get_service],
    include_in_schema=True,
    tags=["catalogue"],
    cache_control=CacheControlHeader(public=True, max_age=60),
    response_headers=[ResponseHeader(name="Access-Control-Allow-Origin", value="*")],
    exception_handlers={ValidationException: _invalid_parameter},
)
ROUTES: list[Any] = [ROUTER]
