"""One-shot messages kept in the server-side session and shown on the next page.

Because the session lives in Redis, a message flashed by one replica is shown by any other.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar.connection import ASGIConnection

Category = Literal["info", "success", "error"]
_KEY = "_flashes"


def flash(
    request: ASGIConnection[Any, Any, Any, Any], message: str, category: Category = "info"
) -> None:
    session = dict(request.session)
    session[_KEY] = [*session.get(_KEY, []), {"message": message, "category": category}]
    request.set_session(session)


def pop_flashes(request: ASGIConnection[Any, Any, Any, Any]) -> list[dict[str, str]]:
    session = request.scope.get("session")
    if not isinstance(session, dict) or _KEY not in session:
        return []
    flashes: list[dict[str, str]] = session.pop(_KEY)
    return flashes
