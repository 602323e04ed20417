"""The licence library and 亮证: tokens, the verify page, who may see and share what, seeding."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.accounts.id_number import normalise_id_number
from app.accounts.tables import Account
from app.asgi import create_app
from app.core.i18n import LANG_COOKIE
from app.licences import services, tokens
from app.licences.seed import DEMO_LICENCES, seed_licences
from app.licences.tables import Company, Licence, Representative
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from

NOW = 1_800_000_000


# Factories: explicit defaults, one row each.


async def signed_in_person(client: PageClient) -> int:
    typed, e164 = fresh_phone()
    await sign_in(client, typed)
    row = await Account.select(Account.id).where(Account.phone == e164).first()
    assert row is not None
    return int(row["id"])


async def add_licence(
    *,
    account: int | None = None,
    company: int | None = None,
    code: str = "id_card",
    number: str = "310101199003071230",
    holder: str = "王五",
    valid_from: date = date(2020, 1, 1),
    valid_until: date | None = date(2040, 1, 1),
    data: dict[str, str] | None = None,
) -> int:
    types = await services.licence_type_ids()
    licence = Licence(
        licence_type=types[code],
        holder_account=account,
        holder_company=company,
        holder_name=holder,
        number_encrypted=services.seal_number(number),
        issuer="上海市公安局黄浦分局",
        valid_from=valid_from,
        valid_until=valid_until,
        data=data if data is not None else {"sex": "男", "address": "上海市黄浦区秘密路1号"},
    )
    await licence.save()
    return int(licence.id)


async def add_company(representative: int | None, code: str) -> int:
    company = Company(name="上海测试商贸有限公司", credit_code=code)
    await company.save()
    if representative is not None:
        await Representative.insert(Representative(company=company.id, account=representative))
    return int(company.id)


async def share(client: PageClient, licence_id: int, fields: list[str]) -> Any:
    token = csrf_from(await client.get("/account"))
    return await client.post(
        f"/licences/{licence_id}/share",
        data={"_csrf_token": token, "fields": fields},
    )


def token_in(page: str) -> str:
    found = re.search(r"/licences/verify/([A-Za-z0-9_.-]+)", page)
    assert found, "no verification link on the page"
    return found.group(1)


# The token on its own.


def test_a_token_names_its_licence_and_fields_until_it_expires() -> None:
    token = tokens.issue(42, ["number", "holder_name"], NOW)
    claim = tokens.read(token, NOW + 299)
    assert claim.licence_id == 42
    assert claim.fields == ("holder_name", "number")
    assert claim.expires_at == NOW + 300
    assert len(token) < 120


def test_an_expired_token_is_refused_as_expired() -> None:
    token = tokens.issue(42, ["number"], NOW)
    with pytest.raises(tokens.TokenError) as caught:
        tokens.read(token, NOW + 300)
    assert caught.value.kind == "expired"


def test_a_tampered_token_is_refused() -> None:
    token = tokens.issue(42, ["holder_name"], NOW)
    payload, mac = token.split(".")
    # Another field set, a later expiry, another licence: each changes the payload.
    for forged in (
        tokens.issue(42, ["holder_name", "number"], NOW).split(".")[0],
        tokens.issue(42, ["holder_name"], NOW + 3600).split(".")[0],
        tokens.issue(43, ["holder_name"], NOW).split(".")[0],
    ):
        with pytest.raises(tokens.TokenError) as caught:
            tokens.read(f"{forged}.{mac}", NOW)
        assert caught.value.kind == "invalid"
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    with pytest.raises(tokens.TokenError):
        tokens.read(f"{payload}.{flipped}", NOW)


@pytest.mark.parametrize(
    "junk",
    ["", ".", "abc", "a.b.c", "!!!.???", "x" * 5000, "djE6MTox.", "\u202e.abc", "=" * 8 + ".AA"],
)
def test_junk_is_refused_as_invalid(junk: str) -> None:
    with pytest.raises(tokens.TokenError) as caught:
        tokens.read(junk, NOW)
    assert caught.value.kind == "invalid"


def test_a_token_needs_at_least_one_well_formed_field() -> None:
    with pytest.raises(ValueError):
        tokens.issue(1, [], NOW)
    with pytest.raises(ValueError):
        tokens.issue(1, ["Bad-Field"], NOW)


async def test_a_token_naming_a_field_the_licence_does_not_have_is_refused() -> None:
    licence_id = await add_licence()
    token = tokens.issue(licence_id, ["holder_name", "vehicle_class"], int(time.time()))
    with pytest.raises(tokens.TokenError) as caught:
        await services.verify(token, int(time.time()))
    assert caught.value.kind == "invalid"


# Pages.


async def test_the_verify_page_shows_only_the_shared_fields(client: PageClient) -> None:
    me = await signed_in_person(client)
    licence_id = await add_licence(account=me, holder="赵六")
    shown = await share(client, licence_id, ["holder_name"])
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    assert "data:image/png;base64," in shown.text
    async with PageClient(app=create_app(), base_url="http://tongban.local") as verifier:
        page = await verifier.get(f"/licences/verify/{token_in(shown.text)}")
    assert page.status_code == 200
    assert "赵六" in page.text
    assert "当前有效" in page.text
    assert "秘密路" not in page.text  # the address was not shared
    assert "3101011990" not in page.text and "0307" not in page.text  # nor the number
    assert page.headers["cache-control"] == "no-store"


async def test_a_single_shared_field_and_several_fields_both_work(client: PageClient) -> None:
    me = await signed_in_person(client)
    licence_id = await add_licence(account=me, holder="孙七")
    shown = await share(client, licence_id, ["number", "address"])
    async with PageClient(app=create_app(), base_url="http://tongban.local") as verifier:
        page = await verifier.get(f"/licences/verify/{token_in(shown.text)}")
    assert "310101199003071230" in page.text and "秘密路" in page.text
    assert "孙七" not in page.text


async def test_sharing_nothing_or_an_unknown_field_is_refused(client: PageClient) -> None:
    me = await signed_in_person(client)
    licence_id = await add_licence(account=me)
    assert (await share(client, licence_id, [])).status_code == 400
    assert (await share(client, licence_id, ["password"])).status_code == 400


async def test_a_revoked_licence_no_longer_verifies(client: PageClient) -> None:
    me = await signed_in_person(client)
    licence_id = await add_licence(account=me)
    shown = await share(client, licence_id, ["holder_name"])
    await Licence.update({Licence.revoked_at: datetime.now(UTC)}).where(Licence.id == licence_id)
    async with PageClient(app=create_app(), base_url="http://tongban.local") as verifier:
        page = await verifier.get(f"/licences/verify/{token_in(shown.text)}")
    assert page.status_code == 410
    assert "不是现行有效" in page.text or "not valid now" in page.text


async def test_expired_tampered_junk_and_oversized_tokens_get_a_clear_page(
    client: PageClient,
) -> None:
    licence_id = await add_licence()
    expired = tokens.issue(licence_id, ["holder_name"], int(time.time()) - 600)
    page = await client.get(f"/licences/verify/{expired}")
    assert page.status_code == 410
    assert "已过期" in page.text
    valid = tokens.issue(licence_id, ["holder_name"], int(time.time()))
    for token in (valid[:-3] + "AAA", "junk", "%00", "x" * 3000):
        page = await client.get(f"/licences/verify/{token}")
        assert page.status_code in (400, 404), token
    page = await client.get(
        f"/licences/verify/{valid[:-3]}AAA", headers={"cookie": f"{LANG_COOKIE}=en"}
    )
    assert page.status_code == 400
    assert "not one we issued" in page.text


async def test_another_person_can_neither_see_nor_share_my_licence(client: PageClient) -> None:
    me = await signed_in_person(client)
    licence_id = await add_licence(account=me, holder="周八")
    async with PageClient(app=create_app(), base_url="http://tongban.local") as other:
        await signed_in_person(other)
        assert (await other.get(f"/licences/{licence_id}")).status_code == 404
        assert (await share(other, licence_id, ["holder_name"])).status_code == 404
        listing = await other.get("/licences")
        assert "周八" not in listing.text
    mine = await client.get(f"/licences/{licence_id}")
    assert mine.status_code == 200 and "周八" in mine.text
    assert "3101011990" not in mine.text  # masked: 310***********1230
    assert "310***********1230" in mine.text


async def test_a_company_licence_is_visible_to_its_representative_only(
    client: PageClient,
) -> None:
    me = await signed_in_person(client)
    company = await add_company(me, f"9131000{int(time.time() * 1000) % 10**11:011d}")
    licence_id = await add_licence(
        company=company, code="business_licence", holder="上海测试商贸有限公司", data={}
    )
    listing = await client.get("/licences")
    assert listing.headers["cache-control"] == "no-store"
    assert "上海测试商贸有限公司" in listing.text
    assert (await client.get(f"/licences/{licence_id}")).status_code == 200
    async with PageClient(app=create_app(), base_url="http://tongban.local") as other:
        await signed_in_person(other)
        assert (await other.get(f"/licences/{licence_id}")).status_code == 404
        assert (await share(other, licence_id, ["holder_name"])).status_code == 404


async def test_the_licence_pages_need_a_sign_in(client: PageClient) -> None:
    page = await client.get("/licences", follow_redirects=False)
    assert page.status_code in (302, 303, 401)


# Services and seed.


async def test_seeding_twice_adds_nothing_the_second_time() -> None:
    before = await Licence.count()
    assert await seed_licences() == 0
    assert await Licence.count() == before
    assert await Company.count().where(Company.credit_code == "91310106MA1FL8T0XR") == 1


def test_the_demo_id_numbers_pass_the_check_digit() -> None:
    numbers = [item[3] for item in DEMO_LICENCES if item[1] in ("id_card", "driving_licence")]
    assert numbers and all(normalise_id_number(number) == number for number in numbers)


async def _account_id(phone: str) -> int:
    row = await Account.select(Account.id).where(Account.phone == phone).first()
    assert row is not None
    return int(row["id"])


async def test_held_licence_types_include_those_of_represented_companies() -> None:
    zhang = await services.held_licence_types(await _account_id("+8613800000001"))
    assert {"id_card", "driving_licence", "residence_permit"} <= zhang
    assert {"business_licence", "food_business_licence"} <= zhang
    li = await services.held_licence_types(await _account_id("+8613800000002"))
    assert "id_card" in li and "business_licence" not in li


async def test_held_licence_types_count_only_current_licences(client: PageClient) -> None:
    me = await signed_in_person(client)
    await add_licence(account=me, code="driving_licence", valid_until=date.today() - timedelta(2))
    await add_licence(account=me, code="household_register", valid_from=date(2099, 1, 1))
    revoked = await add_licence(account=me, code="residence_permit")
    await Licence.update({Licence.revoked_at: datetime.now(UTC)}).where(Licence.id == revoked)
    await add_licence(account=me, code="id_card", valid_until=None)
    assert await services.held_licence_types(me) == frozenset({"id_card"})
