"""Catalogue administration (piccolo-admin at /admin) behind Tongban's own sign-in: who gets
in, what it offers, and that a change made there reaches every replica's cached catalogue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.accounts.services import create_account
from app.accounts.tables import Role
from app.asgi import create_app
from app.catalogue import services as catalogue
from app.catalogue.seed import seed_catalogue, seed_departments
from app.catalogue.tables import Department, GuideQuestion, Material, ServiceItem
from app.core.cache import VersionedCache
from tests.accounts.helpers import (
    latest_code,
    let_a_minute_pass,
    request_code,
    sign_in,
    submit_code,
)
from tests.accounts.test_passkeys import register
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient
from tests.fixtures.soft_authenticator import SoftAuthenticator
from tests.people import passkey_session

OUR_TABLES = [
    "catalogue_bundle",
    "catalogue_department",
    "catalogue_guide_question",
    "catalogue_item",
    "catalogue_life_event",
    "catalogue_material",
    "licences_type",
]


@pytest.fixture(autouse=True)
async def seeded_catalogue_afterwards(redis: Any) -> AsyncIterator[None]:
    """Edits made here are undone the way a reseed would, so later tests find the data file's
    catalogue (the seeder upserts it and drops materials the file does not name)."""
    yield
    await seed_departments()
    await seed_catalogue()
    await Department.delete().where(Department.code == "junk-target")
    await catalogue.catalogue_changed(redis)


# Sessions of each kind -------------------------------------------------------------------


async def staff_signed_in_by_sms(client: PageClient, role: Role) -> tuple[str, str]:
    """A new staff account signed in by SMS (its first sign-in): (as typed, E.164)."""
    typed, phone = fresh_phone()
    department = "market-regulation" if role is Role.OFFICER else None
    await create_account(phone, role, department_code=department, name="测试管理员")
    first = await sign_in(client, typed)
    assert first.status_code == 303
    return typed, phone


async def admin_with_passkey(client: PageClient) -> None:
    """A new admin who added a passkey, then signed in again with it."""
    _typed, _phone = await staff_signed_in_by_sms(client, Role.ADMIN)
    await passkey_session(client)


async def admin_csrf(client: PageClient) -> str:
    """The token the admin's single-page app sends back: its ``csrftoken`` cookie."""
    page = await client.get("/admin/")
    assert page.status_code == 200
    token = client.cookies.get("csrftoken", path="/admin")
    assert token
    return str(token)


async def admin_write(client: PageClient, method: str, path: str, data: Any = None) -> Any:
    token = await admin_csrf(client)
    return await client.request(
        method, "/admin/api" + path, json=data, headers={"X-CSRFToken": token}
    )


async def row_id(table: Any, **where: Any) -> int:
    query = table.select(table.id)
    for name, value in where.items():
        query = query.where(getattr(table, name) == value)
    row = await query.first()
    assert row is not None
    return int(row["id"])


# Who gets in -----------------------------------------------------------------------------


async def test_anonymous_visitors_are_sent_to_sign_in(client: PageClient) -> None:
    for path in ("/admin", "/admin/", "/admin/api/tables/"):
        response = await client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=%2Fadmin")


async def test_anonymous_api_calls_get_401_not_data(client: PageClient) -> None:
    response = await client.get("/admin/api/tables/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "catalogue_item" not in response.text


async def test_citizens_are_refused(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    response = await client.get("/admin/")
    assert response.status_code == 403
    assert "您的账号无权访问此页面" in response.text or "access" in response.text


@pytest.mark.parametrize("role", [Role.OFFICER, Role.ADMIN], ids=["officer", "admin"])
async def test_staff_signed_in_by_sms_are_refused_with_the_passkey_message(
    client: PageClient, role: Role
) -> None:
    await staff_signed_in_by_sms(client, role)
    response = await client.get("/admin/")
    assert response.status_code == 403
    if role is Role.ADMIN:
        assert "通行密钥" in response.text
    api = await client.get("/admin/api/tables/", headers={"Accept": "application/json"})
    assert api.status_code == 403 and "catalogue_item" not in api.text


async def test_an_admin_who_signs_in_by_sms_after_adding_a_passkey_is_refused(
    client: PageClient,
) -> None:
    typed, phone = await staff_signed_in_by_sms(client, Role.ADMIN)
    assert (await register(client, SoftAuthenticator())).status_code == 201
    client.cookies.clear()
    await let_a_minute_pass(phone)
    await request_code(client, typed)
    refused = await submit_code(client, phone, await latest_code(phone))
    assert refused.status_code == 403  # no session is opened by SMS for this admin any more
    admin = await client.get("/admin/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert admin.status_code == 303
    api = await client.get("/admin/api/tables/", headers={"Accept": "application/json"})
    assert api.status_code == 401


async def test_an_admin_with_a_passkey_session_gets_the_admin_and_only_our_tables(
    client: PageClient,
) -> None:
    await admin_with_passkey(client)
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert '<div id="app">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    asset = page.text.split('src="./assets/', 1)[1].split('"', 1)[0]
    script = await client.get("/admin/assets/" + asset)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]

    tables = await client.get("/admin/api/tables/")
    assert tables.status_code == 200
    assert tables.json() == OUR_TABLES
    user = (await client.get("/admin/api/user/")).json()
    assert user["username"] == "测试管理员"
    items = await client.get(
        "/admin/api/tables/catalogue_item/", params={"code": "drainage-permit"}
    )
    assert items.status_code == 200 and items.json()["rows"][0]["code"] == "drainage-permit"


async def test_piccolo_admins_own_entrances_are_closed(client: PageClient) -> None:
    await admin_with_passkey(client)
    token = await admin_csrf(client)
    for path in ("/admin/public/login/", "/admin/api/change-password/", "/admin/api/docs/"):
        assert (await client.get(path)).status_code == 404, path
    login = await client.post(
        "/admin/public/login/",
        json={"username": "admin", "password": "admin"},
        headers={"X-CSRFToken": token},
    )
    assert login.status_code == 404
    logout = await client.post("/admin/public/logout/", headers={"X-CSRFToken": token})
    assert logout.status_code == 404


# Writes ----------------------------------------------------------------------------------


async def test_a_write_needs_the_csrf_token(client: PageClient) -> None:
    await admin_with_passkey(client)
    await admin_csrf(client)
    department = await row_id(Department, code="tax")
    refused = await client.patch(
        f"/admin/api/tables/catalogue_department/{department}/", json={"name_en": "Taxes"}
    )
    assert refused.status_code == 403
    forged = await client.patch(
        f"/admin/api/tables/catalogue_department/{department}/",
        json={"name_en": "Taxes"},
        headers={"X-CSRFToken": "0" * 128},
    )
    assert forged.status_code == 403
    row = await Department.select(Department.name_en).where(Department.id == department).first()
    assert row is not None and row["name_en"] != "Taxes"


async def test_a_department_renamed_in_the_admin_shows_on_another_replica(
    client: PageClient, redis: Any
) -> None:
    await admin_with_passkey(client)
    # Another replica: its own app, and its own catalogue cache (the cache lives in each
    # process; what replicas share is the version key in Redis). It has the old names.
    replica_cache = VersionedCache("catalogue", check_every=0)
    loaded = await replica_cache.get(redis, "departments", catalogue._load_departments)
    assert next(d for d in loaded if d.code == "tax").name_zh != "税务局（管理台改名）"
    async with PageClient(app=create_app(), base_url="http://tongban.local") as replica:
        before = await replica.get("/departments/tax")
        assert before.status_code == 200 and "税务局（管理台改名）" not in before.text

        department = await row_id(Department, code="tax")
        changed = await admin_write(
            client,
            "PATCH",
            f"/tables/catalogue_department/{department}/",
            {"name_zh": "税务局（管理台改名）"},
        )
        assert changed.status_code == 200, changed.text

        again = await replica_cache.get(redis, "departments", catalogue._load_departments)
        assert next(d for d in again if d.code == "tax").name_zh == "税务局（管理台改名）"
        catalogue.CACHE._next_check = 0.0  # this process checks once a second; do not wait
        after = await replica.get("/departments/tax")
        assert "税务局（管理台改名）" in after.text


async def test_an_item_renamed_in_the_admin_shows_in_the_cached_item(
    client: PageClient, redis: Any
) -> None:
    await admin_with_passkey(client)
    cached = await catalogue.get_item(redis, "drainage-permit")
    assert cached is not None
    item = await row_id(ServiceItem, code="drainage-permit")
    changed = await admin_write(
        client, "PATCH", f"/tables/catalogue_item/{item}/", {"name_en": "Drainage permit (edited)"}
    )
    assert changed.status_code == 200, changed.text
    catalogue.CACHE._next_check = 0.0
    fresh = await catalogue.get_item(redis, "drainage-permit")
    assert fresh is not None and fresh.name_en == "Drainage permit (edited)"


async def test_a_material_with_an_invalid_condition_is_refused(client: PageClient) -> None:
    await admin_with_passkey(client)
    item = await row_id(ServiceItem, code="drainage-permit")
    material = await row_id(Material, item=item, code="grease_trap")
    for bad in (
        {"answer": "discharger", "is": "no-such-option"},
        {"answer": "no-such-question", "is": "catering"},
        {"every": []},
        ["not", "a", "table"],
    ):
        refused = await admin_write(
            client,
            "PATCH",
            f"/tables/catalogue_material/{material}/",
            {"condition": json.dumps(bad)},
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["detail"]
    row = await Material.select(Material.condition).where(Material.id == material).first()
    assert row is not None and json.loads(row["condition"])["is"] == "catering"

    good = await admin_write(
        client,
        "PATCH",
        f"/tables/catalogue_material/{material}/",
        {"condition": json.dumps({"answer": "discharger", "in": ["catering", "industrial"]})},
    )
    assert good.status_code == 200, good.text
    detail = await catalogue.read_item("drainage-permit")
    assert detail is not None


async def test_a_new_material_is_checked_too(client: PageClient) -> None:
    await admin_with_passkey(client)
    item = await row_id(ServiceItem, code="drainage-permit")
    # As the admin's form does: start from the defaults of a new row.
    defaults = (await client.get("/admin/api/tables/catalogue_material/new/")).json()
    fields = {
        **defaults,
        "item": item,
        "code": "admin_added",
        "name_zh": "管理台添加的材料",
        "name_en": "Added in the admin",
        "kind": "upload",
    }
    refused = await admin_write(
        client,
        "POST",
        "/tables/catalogue_material/",
        {**fields, "condition": json.dumps({"answer": "discharger", "is": "nope"})},
    )
    assert refused.status_code == 422, refused.text
    created = await admin_write(
        client,
        "POST",
        "/tables/catalogue_material/",
        {**fields, "condition": json.dumps({"answer": "discharger", "is": "industrial"})},
    )
    assert created.status_code == 201, created.text
    detail = await catalogue.read_item("drainage-permit")
    assert detail is not None and any(m.code == "admin_added" for m in detail.materials)


async def test_a_question_that_conditions_rely_on_cannot_lose_an_option_or_go(
    client: PageClient,
) -> None:
    await admin_with_passkey(client)
    item = await row_id(ServiceItem, code="drainage-permit")
    question = await row_id(GuideQuestion, item=item, code="discharger")
    narrowed = await admin_write(
        client,
        "PATCH",
        f"/tables/catalogue_guide_question/{question}/",
        {"options": json.dumps([{"code": "other", "zh": "其他", "en": "Other"}])},
    )
    assert narrowed.status_code == 422, narrowed.text
    malformed = await admin_write(
        client,
        "PATCH",
        f"/tables/catalogue_guide_question/{question}/",
        {"options": json.dumps(["catering"])},
    )
    assert malformed.status_code == 422, malformed.text
    deleted = await admin_write(client, "DELETE", f"/tables/catalogue_guide_question/{question}/")
    assert deleted.status_code == 422, deleted.text
    assert await GuideQuestion.exists().where(GuideQuestion.id == question)
    assert await catalogue.read_item("drainage-permit") is not None


async def test_put_and_bulk_delete_are_refused(client: PageClient) -> None:
    await admin_with_passkey(client)
    department = await row_id(Department, code="tax")
    put = await admin_write(
        client, "PUT", f"/tables/catalogue_department/{department}/", {"name_en": "x"}
    )
    assert put.status_code == 405
    bulk = await admin_write(client, "DELETE", "/tables/catalogue_guide_question/")
    assert bulk.status_code == 405
    assert await GuideQuestion.count() > 0


async def test_unknown_codes_in_lists_are_refused(client: PageClient) -> None:
    await admin_with_passkey(client)
    item = await row_id(ServiceItem, code="drainage-permit")
    for bad in (["online", "teleport"], "online", [1, 2]):
        refused = await admin_write(
            client, "PATCH", f"/tables/catalogue_item/{item}/", {"delivery": json.dumps(bad)}
        )
        assert refused.status_code == 422, (bad, refused.text)


async def test_junk_sent_to_the_admin_api_never_yields_a_500(client: PageClient) -> None:
    await admin_with_passkey(client)
    token = await admin_csrf(client)
    # Junk aimed at a row of its own: a DELETE with an ignored body does delete it.
    target = Department(code="junk-target", name_zh="垃圾输入靶子", name_en="Junk target")
    await target.save()
    paths = [
        "/admin/api/tables/catalogue_item/",
        f"/admin/api/tables/catalogue_department/{target.id}/",
        f"/admin/api/tables/catalogue_item/{await row_id(ServiceItem, code='drainage-permit')}/",
        "/admin/api/tables/catalogue_item/abc/",
        "/admin/api/tables/catalogue_item/99999999999999999999/",
        "/admin/api/tables/catalogue_material/",
        "/admin/api/tables/no_such_table/",
        "/admin/api/forms/x/",
        "/admin/api/media/",
        "/admin/%00",
    ]
    bodies: list[bytes] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'{"code": null}',
        b'{"item": "x", "condition": "{"}',
        b'{"condition": "[1]"}',
        b'{"department": 99999999}',
        b'{"legal_days": 99999999999}',
        b'{"department": 100000000000000000000000}',
        b'{"min_assurance": "high", "delivery": "[\\"teleport\\"]"}',
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"\xff\xfe",
    ]
    queries = [
        "?__page=-1&__order=%00",
        "?department=99999999999999999999&__page_size=abc",
        "?id=abc&__visible_fields=nope&__readable=maybe",
        "?code__operator=nope&legal_days=%ff",
    ]
    for path in paths:
        for query in queries:
            response = await client.get(path + query)
            assert response.status_code < 500, (path, query, response.text)
        for method in ("POST", "PATCH", "DELETE"):
            for body in bodies:
                response = await client.request(
                    method,
                    path,
                    content=body,
                    headers={"X-CSRFToken": token, "Content-Type": "application/json"},
                )
                assert response.status_code < 500, (method, path, body[:40], response.text)


@pytest.mark.parametrize("who", ["anonymous", "citizen", "admin-by-sms"])
async def test_junk_from_anyone_who_may_not_enter_never_yields_a_500(
    client: PageClient, who: str
) -> None:
    # The route net (tests/core/test_routes_junk.py) walks HTTP routes; the mount is ASGI.
    if who == "citizen":
        await sign_in(client, fresh_phone()[0])
    elif who == "admin-by-sms":
        await staff_signed_in_by_sms(client, Role.ADMIN)
    page = await client.get("/")
    token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    for path in (
        "/admin",
        "/admin/",
        "/admin/api/tables/catalogue_item/1/",
        "/admin/public/login/",
        "/admin/assets/..%2f..%2fendpoints.py",
        "/admin/%00",
        "/admin/" + "x" * 3000,
    ):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"):
            for headers in ({"x-csrftoken": token}, {}):
                response = await client.request(
                    method,
                    path,
                    content=b'{"code": "\x00"}',
                    headers={**headers, "Content-Type": "application/json"},
                    follow_redirects=False,
                )
                status = response.status_code
                assert status < 500, (who, method, path, status)
                assert not 200 <= status < 300, (who, method, path, status)  # nobody gets in
