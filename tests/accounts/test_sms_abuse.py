"""SMS sign-in against someone who is not the number's owner: they cannot burn, replace or
guess at the owner's code, and cannot spend the owner's allowance from one address."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from litestar.testing import AsyncTestClient

from app.accounts.tables import Account, SmsChallenge
from app.asgi import create_app, create_litestar
from app.config import Settings
from app.core.context import RequestContextMiddleware
from app.core.crypto import keyed_hash
from tests.accounts.helpers import latest_code, let_a_minute_pass, request_code, submit_code
from tests.accounts.test_sms_signin import _plant, fresh_phone
from tests.conftest import PageClient
from tests.ratelimits import use_up


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _attempts(phone: str) -> list[int]:
    rows = await SmsChallenge.select(SmsChallenge.attempts).where(SmsChallenge.phone == phone)
    return [row["attempts"] for row in rows]


async def test_guesses_from_another_device_cannot_burn_the_owners_code(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    assert (await request_code(client, typed)).status_code == 200
    code = await latest_code(phone)
    async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as attacker:
        for _ in range(30):
            response = await submit_code(attacker, phone, _wrong(code))
            assert response.status_code == 400
            assert "验证码错误或已过期" in response.text
        # Even the right code is worthless on a device that did not ask for it.
        stolen = await submit_code(attacker, phone, code)
        assert stolen.status_code == 400
    assert await _attempts(phone) == [0]
    signed_in = await submit_code(client, phone, code)
    assert signed_in.status_code == 303
    assert await Account.exists().where(Account.phone == phone)


async def test_codes_asked_for_by_someone_else_do_not_replace_the_owners(
    client: PageClient, settings: Settings
) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    owners = await latest_code(phone)
    behind_proxy = replace(settings, trusted_proxies=1)
    app = RequestContextMiddleware(create_litestar(behind_proxy), behind_proxy)
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as attacker:
        attacker.headers["X-Forwarded-For"] = "203.0.113.66"
        assert (await request_code(attacker, typed)).status_code == 200
    assert await latest_code(phone) != owners
    assert (await submit_code(client, phone, owners)).status_code == 303


async def test_wrong_guesses_for_a_phone_count_across_its_codes(client: PageClient) -> None:
    typed, phone = fresh_phone()
    for _ in range(2):  # two codes, five wrong guesses each: the per-code limit alone allows it
        await let_a_minute_pass(phone)
        await request_code(client, typed)
        code = await latest_code(phone)
        for _ in range(5):
            assert (await submit_code(client, phone, _wrong(code))).status_code in (400, 429)
    await let_a_minute_pass(phone)
    await request_code(client, typed)
    response = await submit_code(client, phone, await latest_code(phone))
    assert response.status_code == 429
    assert "此号码输错验证码的次数过多" in response.text
    assert not await Account.exists().where(Account.phone == phone)


async def test_code_checks_are_limited_per_address(
    client: PageClient, settings: Settings, redis: object
) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    code = await latest_code(phone)
    # Use up the test client's hourly allowance of checks (every test shares its address).
    address = keyed_hash("accounts.ip", "testclient")
    await use_up(redis, "sms_verify_ip", address, settings.sms_verify_per_ip_hour)
    try:
        response = await submit_code(client, phone, code)
        assert response.status_code == 429 and "此网络的尝试次数过多" in response.text
        assert await _attempts(phone) == [0]
    finally:
        await redis.delete(*await redis.keys("tongban:rate:sms_verify_ip:*"))  # type: ignore[attr-defined]


async def test_codes_asked_from_other_addresses_do_not_spend_this_ones_allowance(
    client: PageClient, settings: Settings
) -> None:
    typed, phone = fresh_phone()
    await _plant(phone, settings.sms_per_phone_day, timedelta(hours=2), ip="198.51.100.7")
    assert (await request_code(client, typed)).status_code == 200


async def test_a_daily_ceiling_per_phone_holds_across_addresses(
    client: PageClient, settings: Settings
) -> None:
    typed, phone = fresh_phone()
    per_address = settings.sms_per_phone_day - 1  # under each address's own limit
    for index in range(settings.sms_per_phone_day_ceiling // per_address + 1):
        await _plant(phone, per_address, timedelta(hours=2), ip=f"198.51.100.{index + 10}")
    response = await request_code(client, typed)
    assert response.status_code == 429 and "今天" in response.text
