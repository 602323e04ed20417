"""The outermost middleware (app/core/context.py): language and elderly mode from cookies,
the request id on every log line, and which requests write an access log line."""

from __future__ import annotations

from typing import Any

import pytest

from app.core import context
from app.core.context import RequestContextMiddleware, add_request_id
from tests.conftest import PageClient


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def debug(self, event: str, **fields: Any) -> None:
        self.lines.append(("debug", {"event": event, **fields}))

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", {"event": event, **fields}))


async def test_language_and_elderly_mode_come_from_their_cookies(client: PageClient) -> None:
    response = await client.get(
        "/", headers={"Cookie": "other=1; tongban_lang=en; tongban_elder=1"}
    )
    assert '<html lang="en" class="elder"' in response.text


async def _serve(app: Any, settings: Any, headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Call the middleware around ``app`` with one GET; return the response headers."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    await RequestContextMiddleware(app, settings)(scope, None, send)
    return dict(sent[0]["headers"])


async def _no_content(send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_cookies_split_over_several_header_fields_are_all_read(settings: Any) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["ctx"] = context.current()
        await _no_content(send)

    cookies = [(b"cookie", b"tongban_lang=en"), (b"cookie", b"tongban_elder=1")]
    headers = await _serve(app, settings, cookies)
    assert seen["ctx"].locale == "en"
    assert seen["ctx"].elder is True
    assert headers[b"content-language"] == b"en"


async def test_log_lines_written_during_a_request_carry_its_id(settings: Any) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["event"] = add_request_id(None, "info", {"event": "something_happened"})
        await _no_content(send)

    headers = await _serve(app, settings, [])
    assert seen["event"]["request_id"].encode() == headers[b"x-request-id"]
    assert "request_id" not in add_request_id(None, "info", {"event": "outside"})


@pytest.mark.parametrize(
    ("method", "path", "level"),
    [
        ("GET", "/", "debug"),  # a successful page view: the TLS proxy logs it already
        ("GET", "/no/such/page", "info"),
        ("POST", "/preferences/language", "info"),  # writes are always logged (here: 403)
    ],
)
async def test_access_log_level(
    client: PageClient, monkeypatch: pytest.MonkeyPatch, method: str, path: str, level: str
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(context, "log", recorder)
    await client.request(method, path)
    assert [(lvl, line["path"]) for lvl, line in recorder.lines] == [(level, path)]
