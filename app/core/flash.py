"""One-shot messages kept in the server-side session and shown on the next page.

Because the session lives in Redis, a message flashed by one replica is shown by any other.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar.connection import ASGIConnection

Category = Literal["info", "success", "error"]
FLASHES = "_flashes"  # the session key that holds them


def flash(
    request: ASGIConnection[Any, Any, Any, Any], message: str, category: Category = "info"
) -> None:
    session = dict(request.session)
    session[FLASHES] = [*session.get(FLASHES, []), {"message": message, "category": category}]
    request.set_session(session)


def pop_flashes(request: ASGIConnection[Any, Any, Any, Any]) -> list[dict[str, str]]:
    session = request.scope.get("session")
    if not isinstance(session, dict) or FLASHES not in session:
        return []
    flashes: list[dict[str, str]] = session.pop(FLASHES)
    return flashes
