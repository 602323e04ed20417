"""The request class of the app: Litestar's htmx request, with bodies that fail safely.

msgspec raises ``UnicodeDecodeError`` for a JSON body that is not UTF-8 (RFC 8259 §8.1
requires it) and ``RecursionError`` for nesting deeper than it will follow; the multipart
parser raises ``UnicodeDecodeError`` for a part that is not UTF-8. Litestar maps none of them
to a client error, so each became a 500. Here they are a localised 400, like any malformed body.
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import FormMultiDict
from litestar.plugins.htmx import HTMXRequest
from litestar.serialization import decode_json
from litestar.types import Empty

from app.core.errors import BadInput
from app.core.i18n import _


class AppRequest(HTMXRequest):
    async def json(self) -> Any:
        state = self._connection_state
        if state.json is Empty:
            body = await self.body()
            try:
                state.json = decode_json(
                    body or b"null", type_decoders=self.route_handler.resolve_type_decoders()
                )
            except (UnicodeDecodeError, RecursionError) as exc:
                raise BadInput(detail=_("The request body is not valid JSON.")) from exc
        self._json = state.json
        return self._json

    async def form(self) -> FormMultiDict:
        try:
            return await super().form()
        except UnicodeDecodeError as exc:
            raise BadInput(detail=_("The form could not be read. Please try again.")) from exc
