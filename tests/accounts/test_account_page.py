"""The account page: profile with an encrypted, masked ID number; roles, seeds and guards."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from app.accounts.guards import requires_assurance
from app.accounts.id_number import mask_id_number, normalise_id_number
from app.accounts.services import assurance_level
from app.accounts.tables import Account, Passkey
from app.asgi import create_app
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from

VALID_ID = "11010519491231002X"  # the GB 11643 standard's own example


def test_id_numbers_are_checked_by_check_digit_and_birth_date() -> None:
    assert normalise_id_number(" 11010519491231002x ") == VALID_ID
    assert normalise_id_number("110105194912310021") is None  # wrong check digit
    assert normalise_id_number("110105194913310028") is None  # month 13
    assert normalise_id_number("12345") is None
    assert mask_id_number(VALID_ID) == "110***********002X"


async def test_profile_keeps_the_id_number_encrypted_and_shows_it_masked(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    saved = await client.post(
        "/account/profile",
        data={"name": "王小明", "id_number": VALID_ID, "_csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = await client.get("/account")
    assert "110***********002X" in page.text and VALID_ID not in page.text and "王小明" in page.text
    row = await Account.select(Account.id_number_encrypted).where(Account.phone == phone).first()
    assert (
        row is not None
        and row["id_number_encrypted"]
        and VALID_ID not in row["id_number_encrypted"]
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x", "id_number": "110105194912310021"}, "有效的 18 位居民身份证号码"),
        ({"name": "名" * 61, "id_number": ""}, "不超过 60 个字符的姓名"),
        ({"name": "张\x07三", "id_number": ""}, "不要换行"),
    ],
)
async def test_bad_profile_input_is_shown_next_to_the_field_and_saves_nothing(
    client: PageClient, fields: dict[str, str], message: str
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    response = await client.post("/account/profile", data={**fields, "_csrf_token": token})
    assert response.status_code == 400
    assert message in response.text and 'aria-invalid="true"' in response.text
    row = (
        await Account.select(Account.name, Account.id_number_encrypted)
        .where(Account.phone == phone)
        .first()
    )
    assert row == {"name": "", "id_number_encrypted": None}


async def test_account_page_needs_a_signed_in_user(client: PageClient) -> None:
    response = await client.get("/account", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=%2Faccount"
    htmx = await client.get(
        "/account", headers={"Accept": "text/html", "HX-Request": "true"}, follow_redirects=False
    )
    assert htmx.headers["hx-redirect"] == "/signin?next=%2Faccount"
    api = await client.get("/account", headers={"Accept": "application/json"})
    assert api.status_code == 401


async def test_assurance_levels_are_derived_from_identity_and_passkeys() -> None:
    account = Account(phone="+8613900000000", webauthn_user_id="x")
    assert assurance_level(account, passkey=True) == 1
    account.identity_verified_at = datetime.now(UTC)
    assert assurance_level(account, passkey=False) == 2
    assert assurance_level(account, passkey=True) == 3


async def test_requires_assurance_guard(client: PageClient) -> None:
    @get("/needs-l2", guards=[requires_assurance(2)])
    async def needs_l2() -> str:
        return "ok"

    typed, phone = fresh_phone()
    await sign_in(client, typed)
    session_cookie = client.cookies["tongban_session"]
    base = create_app()
    inner: Litestar = base.app
    inner.register(needs_l2)
    async with AsyncTestClient(app=base, base_url="http://tongban.local") as other:
        other.cookies.set("tongban_session", session_cookie)
        refused = await other.get("/needs-l2")
        assert refused.status_code == 403 and "身份认证等级 2" in refused.text
        await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
            Account.phone == phone
        )
        assert (await other.get("/needs-l2")).text == "ok"


async def test_demo_accounts_are_seeded_with_their_roles() -> None:
    rows = {
        row["phone"]: row
        for row in await Account.select(Account.phone, Account.role, Account.department.code).where(
            Account.phone.like("+86138000000%")
        )
    }
    assert rows["+8613800000001"]["role"] == rows["+8613800000002"]["role"] == "citizen"
    assert rows["+8613800000011"]["role"] == "officer"
    assert rows["+8613800000011"]["department.code"] == "market-regulation"
    assert rows["+8613800000012"]["role"] == "floor_manager"
    assert rows["+8613800000021"]["role"] == "courier"
    assert rows["+8613800000099"]["role"] == "admin"
    assert not await Passkey.exists().where(Passkey.account.phone.like("+86138000000%"))


def _createuser(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "createuser", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_createuser_makes_staff_and_refuses_bad_input() -> None:
    made = _createuser(
        "--phone", "139 1111 2222", "--role", "officer", "--department", "tax", "--name", "税务窗口"
    )
    assert made.returncode == 0, made.stderr
    assert "139****2222" in made.stdout and "13911112222" not in made.stdout
    account: Any = await Account.objects().where(Account.phone == "+8613911112222").first()
    assert account.role == "officer" and account.name == "税务窗口"
    for args, message in (
        (("--phone", "139 1111 2222", "--role", "courier"), "exists already"),
        (("--phone", "12345", "--role", "courier"), "not a valid"),
        (("--phone", "139 1111 3333", "--role", "officer"), "needs a department"),
        (
            ("--phone", "139 1111 3333", "--role", "officer", "--department", "nope"),
            "no department",
        ),
        (("--phone", "139 1111 3333", "--role", "courier", "--department", "tax"), "only officers"),
    ):
        refused = _createuser(*args)
        assert refused.returncode != 0 and message in refused.stderr
    assert not await Account.exists().where(Account.phone == "+8613911113333")


async def test_a_verified_identity_cannot_be_edited_online(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    await client.post(
        "/account/profile", data={"name": "王小明", "id_number": VALID_ID, "_csrf_token": token}
    )
    await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
        Account.phone == phone
    )
    before = (
        await Account.select(Account.name, Account.id_number_encrypted)
        .where(Account.phone == phone)
        .first()
    )
    for fields in (
        {"name": "别人", "id_number": ""},
        {"name": "王小明", "id_number": "110105194912310029"},
    ):
        response = await client.post("/account/profile", data={**fields, "_csrf_token": token})
        assert response.status_code == 400 and "只能到服务窗口更改" in response.text
    after = (
        await Account.select(Account.name, Account.id_number_encrypted)
        .where(Account.phone == phone)
        .first()
    )
    assert after == before
    # Saving without changes is still fine.
    unchanged = await client.post(
        "/account/profile", data={"name": "王小明", "_csrf_token": token}, follow_redirects=False
    )
    assert unchanged.status_code == 303


async def test_a_disabled_account_cannot_sign_in(client: PageClient) -> None:
    from app.accounts.tables import LoginSession

    typed, phone = fresh_phone()
    await sign_in(client, typed)
    client.cookies.clear()
    await Account.update({Account.is_active: False}).where(Account.phone == phone)
    response = await sign_in(client, typed)
    assert response.status_code == 403 and "账号已停用" in response.text
    assert (
        await LoginSession.count().where(LoginSession.account.phone == phone) == 1
    )  # the first one only
    assert "tongban_session" not in response.cookies


async def test_passkey_ids_out_of_range_are_not_found(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    for path in (
        "/account/passkeys/99999999999999999999/rename",
        "/account/passkeys/99999999999999999999/delete",
        "/account/passkeys/0/delete",
    ):
        assert (
            await client.post(path, data={"name": "x", "_csrf_token": token})
        ).status_code == 404


def test_demo_data_is_refused_in_production(tmp_path: Any) -> None:
    import os

    env = {
        **os.environ,
        "TONGBAN_ENV": "prod",
        "TONGBAN_PUBLIC_URL": "https://tongban.example",
        "TONGBAN_SMS_PROVIDER": "http",
        "TONGBAN_SMS_HTTP_URL": "https://sms.example/send",
        "TONGBAN_SMS_HTTP_SECRET": "s" * 32,
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "seed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "development only" in result.stderr


async def test_a_name_with_markup_is_kept_as_text(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    await client.post("/account/profile", data={"name": "<b>王</b>", "_csrf_token": token})
    page = await client.get("/account")
    assert "&lt;b&gt;王&lt;/b&gt;" in page.text and "<b>王</b>" not in page.text
