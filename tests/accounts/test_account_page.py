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
        ({"name": "名" * 61, "id_number": ""}, "不超过 60 个字符"),
        ({"name": "<script>", "id_number": ""}, "不超过 60 个字符"),
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
