"""Pages that are the same for everyone, rendered once and served with this request's nonce
and CSRF token.

Some pages (home, sign-in, offline) depend on the visitor only through the language, elderly
mode and whether someone is signed in (the top bar's link); otherwise they differ from one
request to the next only in the CSP nonce and the CSRF token. ``PageCache.page`` renders such a
page once per (template, path, language, elderly mode, signed in, data key) with two markers in
place of the nonce and the token, keeps the text split at the markers, and answers each later
request by joining the pieces around its own nonce and token — no template work at all.

Only a handler whose page follows that rule may use it. Everything else goes through the normal
``Template``:

- a session with a flash message waiting (the page shows it, once);
- a query string (``/signin?next=…``) — it is part of the page, and would make the keys
  unbounded — unless the handler says ``query_in_key=True``: then ``key`` holds everything
  the page takes from the query (the search page passes its normalised query and the
  remembered results), and the least-recently-served eviction bounds the entries;
- htmx requests (they get a partial), and any status but 200.

The handler passes ``key``: whatever the page's data depends on, hashable; the data itself
may be a coroutine function, called only on a miss, so a hit costs only what building the key
costs (for the home page
the departments tuple from the catalogue cache, which is a new object after every change).
Templates do not change while a production process runs (no auto-reload); in development the
cache is off so template edits show at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any

from litestar import Request
from litestar.enums import MediaType
from litestar.response import Response, Template
from litestar.utils.scope.state import ScopeState

from app.core import context as request_context
from app.core.flash import FLASHES

_NONCE = "tbnonce" + secrets.token_hex(12)
_TOKEN = "tbcsrf" + secrets.token_hex(12)
_MARKERS = re.compile(f"({_NONCE}|{_TOKEN})")
# Pages × languages × modes: every catalogue item has its page, so the least recently served
# page makes room for a new one (a few hundred KB of text per hundred pages).
MAX_ENTRIES = 1024


class PageCache:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._pages: dict[Hashable, tuple[list[str], list[bool]]] = {}

    def clear(self) -> None:
        self._pages.clear()

    async def page(
        self,
        request: Request[Any, Any, Any],
        template_name: str,
        context: Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]],
        *,
        key: Hashable = None,
        headers: dict[str, str] | None = None,
        query_in_key: bool = False,
    ) -> Response[Any]:
        session = request.scope.get("session")
        if not isinstance(session, dict):
            session = {}
        token = ScopeState.from_scope(request.scope).csrf_token
        if (
            not self.enabled
            or FLASHES in session
            or (request.scope["query_string"] and not query_in_key)
            or request.headers.get("hx-request")
            or not isinstance(token, str)
        ):
            return Template(
                template_name=template_name, context=dict(await _built(context)), headers=headers
            )
        ctx = request_context.current()
        signed_in = bool(session.get("account_id"))
        cache_key = (template_name, request.scope["path"], ctx.locale, ctx.elder, signed_in, key)
        pieces = self._pages.pop(cache_key, None)
        if pieces is None:
            pieces = self._render(request, template_name, await _built(context))
            if len(self._pages) >= MAX_ENTRIES:
                del self._pages[next(iter(self._pages))]  # the least recently served
        self._pages[cache_key] = pieces  # (re)inserted last: dicts keep insertion order
        texts, is_nonce = pieces
        body = [texts[0]]
        for index, nonce in enumerate(is_nonce):
            body.append(ctx.nonce if nonce else token)
            body.append(texts[index + 1])
        return Response("".join(body), media_type=MediaType.HTML, headers=headers)

    def _render(
        self, request: Request[Any, Any, Any], template_name: str, context: Mapping[str, Any]
    ) -> tuple[list[str], list[bool]]:
        state = ScopeState.from_scope(request.scope)
        token = state.csrf_token
        marked = replace(request_context.current(), nonce=_NONCE)
        reset = request_context.use(marked)
        state.csrf_token = _TOKEN
        try:
            template = request.app.template_engine.get_template(template_name)  # type: ignore[union-attr]
            html = template.render(
                **context,
                request=request,
                csrf_input=f'<input type="hidden" name="_csrf_token" value="{_TOKEN}" />',
            )
        finally:
            state.csrf_token = token
            reset()
        parts = _MARKERS.split(html)
        return parts[0::2], [part == _NONCE for part in parts[1::2]]


async def _built(
    context: Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]],
) -> Mapping[str, Any]:
    """The page's data; a callable is called only when the page is not cached (its queries
    are then saved on every hit)."""
    return await context() if callable(context) else context


def page_cache(request: Request[Any, Any, Any]) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache
