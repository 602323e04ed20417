"""A net under every route: junk in the path, the query and the body, with and without a
signed-in session and a CSRF token, never yields a 500 or an unhandled exception in the log.

Routes come from the Litestar app itself, so a route added tomorrow is covered the day it is
registered. Form and JSON fields are read from each handler's ``data`` struct, so the junk
lands in the fields the handler really reads. The fixed catalogue below holds what an outside
review sent; the hypothesis test adds generated text and bytes on top.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from app.asgi import create_app
from app.core.forms import Form
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FAILURE_IN_LOG = re.compile(r"request_failed_unhandled|Traceback \(most recent call last\)")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Litestar's template, e.g. /account/passkeys/{passkey_id:int}/rename
    fields: tuple[str, ...]  # fields of the handler's data struct, if any

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: Litestar) -> list[Endpoint]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, entry in route.route_handler_map.items():
            if method == "OPTIONS":
                continue
            handler = entry[0] if isinstance(entry, tuple) else entry
            data = handler.parsed_fn_signature.parameters.get("data")
            struct = data.annotation if data is not None else None
            fields = (
                tuple(struct.__struct_fields__)
                if isinstance(struct, type) and issubclass(struct, msgspec.Struct)
                else ()
            )
            found.append(Endpoint(method, route.path, fields))
    return sorted(found, key=lambda item: (item.path in ("/signout",), item.path, item.method))


ENDPOINTS = endpoints(create_app().app)

PATH_JUNK = {
    "int": ["0", "-1", "2147483648", "9" * 40, "abc", "%00", "1%00"],
    "str": ["%00", "a%00b", "%ff%fe", "..%2f..%2fapp%2fconfig.py", "x" * 3000, "%0d%0aX:1"],
}
PATH_JUNK["path"] = PATH_JUNK["str"]
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")


def concrete_paths(template: str) -> list[str]:
    """The template with every parameter filled by each junk value for its type, plus one
    ordinary value (so that the body junk reaches the handler)."""
    if not PARAMETER.search(template):
        return [template]
    ordinary = PARAMETER.sub(lambda m: "1" if m.group(2) == "int" else "css/app.css", template)
    paths = [ordinary]
    for match in PARAMETER.finditer(template):
        for value in PATH_JUNK.get(match.group(2), PATH_JUNK["str"]):
            paths.append(template.replace(match.group(0), value))
    return [PARAMETER.sub("1", path) for path in paths]


QUERY_JUNK = [
    "",
    "?next=%00&to=%ff&lang=%00&phone=%0a",
    "?next=%2F%2Fevil.example&to=%2B86%00",
    "?" + "&".join(f"a{index}=%ff" for index in range(2000)),
    "?%ff=%fe&=&&=x",
]
TEXT_JUNK = ["\x00", "a\x00b", "\u202e\u2066x", "\r\nX-Header: 1", "\x7f\x85", "x" * 5000, "１２３"]


def bodies(endpoint: Endpoint) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """(label, headers, body) for an unsafe request: every kind of malformed body."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    json_type = {"Content-Type": "application/json"}
    names = endpoint.fields or ("name", "phone", "code", "next")
    for text in TEXT_JUNK:
        yield (
            f"form {text[:6]!r}",
            form,
            "&".join(f"{name}={_quote(text)}" for name in names).encode(),
        )
        yield (f"json {text[:6]!r}", json_type, json.dumps(dict.fromkeys(names, text)).encode())
    yield "form raw invalid utf-8", form, b"phone=\xff\xfe&code=\xc3\x28&name=\xed\xa0\x80"
    yield "form percent invalid utf-8", form, b"phone=%ff%fe&name=%c3%28&next=%ed%a0%80"
    yield "form repeated", form, b"&".join(f"{n}=a&{n}=b".encode() for n in names)
    yield "form no equals", form, b"&&&=&phone&=%"
    yield "json invalid utf-8", json_type, b'{"a":"\xff"}'
    yield "json deep", json_type, b"[" * 5000 + b"]" * 5000
    yield "json deep object", json_type, b'{"a":' * 3000 + b"1" + b"}" * 3000
    for scalar in (b"[]", b'"text"', b"null", b"1e999999", b"-0", b"{", b"", b"\x00"):
        yield f"json {scalar[:8]!r}", json_type, scalar
    yield (
        "json wrong types",
        json_type,
        json.dumps(
            {"challenge_id": 12, "credential": {"id": 1, "rawId": [], "response": "x"}}
            | {name: {"nested": [1, 2]} for name in names}
        ).encode(),
    )
    yield "json huge int", json_type, json.dumps(dict.fromkeys(names, 10**300)).encode()
    yield "multipart without boundary", {"Content-Type": "multipart/form-data"}, b"--x\r\n"
    yield (
        "multipart junk",
        {"Content-Type": "multipart/form-data; boundary=b"},
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n\x00\xff\r\n--b--\r\n',
    )
    yield "xml", {"Content-Type": "text/xml"}, b"<?xml version='1.0'?><a>&x;</a>"
    yield "no content type", {}, bytes(range(256))
    yield "content type junk", {"Content-Type": b"\x01/\x02; charset=\xff"}, b"a=b"
    yield "oversized", form, b"name=" + b"x" * 200_000


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


# The readiness probe answers 503 by design while no worker beats (none runs in these tests);
# anywhere else a 503 would mean Redis failed, which in these tests is a bug too.
PROBE_503 = re.compile(r"^(GET|HEAD) /readyz\b")


def _assert_no_failure(status: int, label: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert status < 500 or (status == 503 and PROBE_503.match(label)), f"{label}: {status}"
    logged = capfd.readouterr().err
    assert not FAILURE_IN_LOG.search(logged), f"{label}: unhandled exception logged\n{logged}"


async def _is_signed_in(client: PageClient) -> bool:
    return (await client.get("/account", follow_redirects=False)).status_code == 200


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
async def test_no_route_answers_junk_with_a_500(
    client: PageClient, endpoint: Endpoint, signed_in: bool, capfd: pytest.CaptureFixture[str]
) -> None:
    if signed_in:
        typed, _phone = fresh_phone()
        await sign_in(client, typed)
        assert await _is_signed_in(client)
    token = csrf_from(await client.get("/signin" if not signed_in else "/account"))
    capfd.readouterr()
    sent = 0
    for path in concrete_paths(endpoint.path):
        for query in QUERY_JUNK:
            url = path + query
            if endpoint.method not in UNSAFE:
                response = await client.request(endpoint.method, url, follow_redirects=False)
                _assert_no_failure(response.status_code, f"{endpoint.method} {url[:80]}", capfd)
                sent += 1
                continue
            for label, headers, body in bodies(endpoint):
                for csrf in ({"x-csrftoken": token}, {}):
                    response = await client.request(
                        endpoint.method,
                        url,
                        content=body,
                        headers={**headers, **csrf},
                        follow_redirects=False,
                    )
                    what = f"{endpoint.method} {url[:80]} [{label}{'' if csrf else ', no CSRF'}]"
                    _assert_no_failure(response.status_code, what, capfd)
                    sent += 1
            if query:
                break  # one junk query with the full body catalogue is enough for unsafe routes
        # Methods the route does not take: 405, never a 500.
        for other in ("PUT", "PATCH", "DELETE", "TRACE"):
            response = await client.request(other, path, follow_redirects=False)
            _assert_no_failure(response.status_code, f"{other} {path[:80]}", capfd)
    assert sent > 0


def test_every_body_schema_checks_free_text() -> None:
    """Every handler that takes a struct takes a ``Form``, so its text is checked by default."""
    for route in create_app().app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            annotation = data.annotation
            assert isinstance(annotation, type) and issubclass(annotation, Form), (
                f"{route.path}: data is {annotation!r}, not an app.core.forms.Form"
            )


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[tuple[TestClient[Any], str]]:
    with TestClient(app=create_app(), base_url="http://tongban.local") as client:
        page = client.get("/signin")
        yield client, csrf_from(page)


UNSAFE_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.method in UNSAFE]
junk_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=200
) | st.sampled_from(TEXT_JUNK)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(UNSAFE_ENDPOINTS),
    values=st.dictionaries(st.sampled_from(["name", "phone", "code", "next", "x"]), junk_text),
    encoding=st.sampled_from(["form", "json", "bytes"]),
    raw=st.binary(max_size=300),
)
def test_generated_junk_never_yields_a_500(
    fuzz_client: tuple[TestClient[Any], str],
    capfd: pytest.CaptureFixture[str],
    endpoint: Endpoint,
    values: dict[str, str],
    encoding: str,
    raw: bytes,
) -> None:
    client, token = fuzz_client
    fields = {**{name: "" for name in endpoint.fields}, **values}
    if encoding == "form":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = "&".join(f"{name}={_quote(value)}" for name, value in fields.items()).encode()
    elif encoding == "json":
        headers = {"Content-Type": "application/json"}
        body = json.dumps(fields).encode()
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = raw
    path = concrete_paths(endpoint.path)[0]
    response = client.request(
        endpoint.method,
        path,
        content=body,
        headers={**headers, "x-csrftoken": token},
        follow_redirects=False,
    )
    _assert_no_failure(response.status_code, f"{endpoint} {encoding} {body[:80]!r}", capfd)


def test_every_api_route_is_in_the_openapi_schema() -> None:
    """The JSON API (/api/) is fuzzed from its OpenAPI schema by schemathesis
    (tests/catalogue/test_api_schema.py): a route the schema leaves out would escape that run."""
    schema = create_app().app.openapi_schema.to_schema()
    documented = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    api = {
        (endpoint.method, PARAMETER.sub(r"{\1}", endpoint.path))
        for endpoint in ENDPOINTS
        if endpoint.path.startswith("/api/")
    }
    assert api, "no /api/ route found: has the API moved?"
    assert api <= documented, f"API routes missing from the OpenAPI schema: {api - documented}"


@pytest.mark.parametrize(
    "endpoint",
    [item for item in ENDPOINTS if item.method == "GET" and not PARAMETER.search(item.path)],
    ids=str,
)
async def test_every_page_answers_head_like_get_without_a_body(
    client: PageClient, endpoint: Endpoint
) -> None:
    got = await client.get(endpoint.path, follow_redirects=False)
    head = await client.head(endpoint.path, follow_redirects=False)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")


@pytest.mark.parametrize("path", ["/static/%00", "/static/css/app.css%00", "/%00", "/signin%0a"])
async def test_a_path_with_a_control_character_is_not_found(client: PageClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "页面不存在" in response.text or "找不到" in response.text
