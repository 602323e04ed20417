"""Sign-in by SMS code over HTTP: every rule of the issue, including refusals that change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.accounts.tables import Account, LoginSession, SmsChallenge
from app.config import Settings
from app.core.crypto import keyed_hash
from app.notifications.tables import Notification
from tests.accounts.helpers import (
    latest_code,
    let_a_minute_pass,
    request_code,
    sign_in,
    submit_code,
)
from tests.conftest import PageClient, csrf_from

_counter = iter(range(100, 100_000_000))


def fresh_phone() -> tuple[str, str]:
    """A new valid mobile number per test: (as typed, E.164). The 137 range is theirs alone:
    browser tests use fixed 139 numbers, which must never be handed out here."""
    number = f"137{next(_counter):08d}"
    return number, f"+86{number}"


async def test_sign_in_page_fields_let_phones_autofill(client: PageClient) -> None:
    page = await client.get("/signin")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    phone = re.search(r"<input id=\"sms-phone\"[^>]*>", page.text)
    assert (
        phone and 'type="tel"' in phone.group(0) and 'autocomplete="tel webauthn"' in phone.group(0)
    )
    assert "通行密钥需要启用 JavaScript" in page.text  # the no-JS state is stated, not silent


async def test_code_request_queues_one_sms_and_shows_the_code_step(client: PageClient) -> None:
    typed, phone = fresh_phone()
    response = await request_code(client, typed)
    assert response.status_code == 200
    assert (
        'autocomplete="one-time-code"' in response.text and 'inputmode="numeric"' in response.text
    )
    rows = await Notification.select().where(Notification.recipient == phone)
    assert len(rows) == 1 and rows[0]["kind"] == "sms_code" and rows[0]["status"] == "pending"
    challenge = await SmsChallenge.select().where(SmsChallenge.phone == phone).first()
    assert challenge is not None
    code = await latest_code(phone)
    assert re.fullmatch(r"\d{6}", code)
    assert code not in challenge["code_hash"]  # stored only as a keyed hash
    assert challenge["code_hash"] == keyed_hash("accounts.sms_code", phone, code)


async def test_htmx_code_request_returns_the_partial(client: PageClient) -> None:
    typed, _phone = fresh_phone()
    token = csrf_from(await client.get("/signin"))
    response = await client.post(
        "/signin/code", data={"phone": typed}, headers={"HX-Request": "true", "x-csrftoken": token}
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'name="code"' in response.text


@pytest.mark.parametrize(
    "typed", ["", "abc", "1380000000", "12345678901", "+1 650 253 0000", "010 6512 3456", "1" * 40]
)
async def test_malformed_numbers_get_a_localised_message_and_change_nothing(
    client: PageClient, typed: str
) -> None:
    before = await SmsChallenge.count(), await Notification.count()
    response = await request_code(client, typed)
    assert response.status_code == 400
    assert "请输入有效的中国大陆手机号码" in response.text
    assert (await SmsChallenge.count(), await Notification.count()) == before


async def test_first_sign_in_creates_a_citizen_and_rotates_the_session(
    client: PageClient, redis: object
) -> None:
    typed, phone = fresh_phone()
    # A session exists before sign-in (a flashed message); its id must not survive sign-in.
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/elderly", data={"elder": "1", "_csrf_token": token})
    before = client.cookies.get("tongban_session")
    assert before
    response = await sign_in(client, typed)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    after = client.cookies.get("tongban_session")
    assert after and after != before
    assert await redis.exists(f"tongban:session:{before}") == 0  # type: ignore[attr-defined]
    account = await Account.objects().where(Account.phone == phone).first()
    assert account is not None and account.role == "citizen"
    page = await client.get("/account")
    assert page.status_code == 200 and "137" in page.text and "L1" in page.text


async def test_answers_do_not_reveal_whether_an_account_exists(client: PageClient) -> None:
    existing = "13800000002"  # seeded citizen
    _typed, new = fresh_phone()

    def shape(text: str) -> str:
        text = re.sub(r'value="[^"]*"', 'value=""', text)
        text = re.sub(r"nonce-[^'\"]+|nonce=\"[^\"]+\"", "", text)
        text = re.sub(r'"x-csrftoken": "[^"]+"', "", text)
        return re.sub(r"\d{3} \d{4} \d{4}", "N", text)

    one = await request_code(client, existing)
    two = await request_code(client, new.removeprefix("+86"))
    assert one.status_code == two.status_code == 200
    assert shape(one.text) == shape(two.text)


async def test_wrong_codes_count_down_then_lock_the_code(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    code = await latest_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        response = await submit_code(client, phone, wrong)
        assert response.status_code == 400
        assert f"还可以再试 {left} 次" in response.text
    response = await submit_code(client, phone, wrong)
    assert response.status_code == 429
    # The right code no longer helps: the five attempts are used up.
    response = await submit_code(client, phone, code)
    assert response.status_code == 429
    assert not await Account.exists().where(Account.phone == phone)


async def test_malformed_code_is_refused_without_using_an_attempt(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    response = await submit_code(client, phone, "12ab")
    assert response.status_code == 400 and "6 位验证码" in response.text
    challenge = (
        await SmsChallenge.select(SmsChallenge.attempts).where(SmsChallenge.phone == phone).first()
    )
    assert challenge is not None and challenge["attempts"] == 0


async def test_expired_code_is_refused(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    code = await latest_code(phone)
    await SmsChallenge.update(
        {SmsChallenge.expires_at: datetime.now(UTC) - timedelta(seconds=1)}
    ).where(SmsChallenge.phone == phone)
    response = await submit_code(client, phone, code)
    assert response.status_code == 400 and "验证码错误或已过期" in response.text
    assert not await Account.exists().where(Account.phone == phone)


async def test_a_code_works_once(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    code = await latest_code(phone)
    assert (await submit_code(client, phone, code)).status_code == 303
    client.cookies.clear()
    replay = await submit_code(client, phone, code)
    assert replay.status_code == 400 and "验证码错误或已过期" in replay.text
    assert await LoginSession.count().where(LoginSession.account.phone == phone) == 1


async def test_only_the_newest_code_counts(client: PageClient) -> None:
    typed, phone = fresh_phone()
    await request_code(client, typed)
    old = await latest_code(phone)
    await let_a_minute_pass(phone)
    await request_code(client, typed)
    new = await latest_code(phone)
    if old != new:
        assert (await submit_code(client, phone, old)).status_code == 400
    assert (await submit_code(client, phone, new)).status_code == 303


async def test_resend_waits_sixty_seconds(client: PageClient) -> None:
    typed, phone = fresh_phone()
    assert (await request_code(client, typed)).status_code == 200
    again = await request_code(client, typed)
    assert again.status_code == 429 and "秒后" in again.text
    assert await SmsChallenge.count().where(SmsChallenge.phone == phone) == 1
    await let_a_minute_pass(phone)
    assert (await request_code(client, typed)).status_code == 200


async def _plant(phone: str, count: int, age: timedelta, ip: str = "198.51.100.7") -> None:
    """Codes sent ``age`` ago to ``phone``, asked for from ``ip``."""
    now = datetime.now(UTC)
    await SmsChallenge.insert(
        *[
            SmsChallenge(
                phone=phone,
                code_hash="0" * 64,
                ip_hash=keyed_hash("accounts.ip", ip),
                created_at=now - age,
                expires_at=now - age + timedelta(minutes=5),
            )
            for _ in range(count)
        ]
    )


@pytest.mark.parametrize(
    ("planted", "age", "message"),
    [(5, timedelta(minutes=30), "过去一小时"), (10, timedelta(hours=5), "今天")],
)
async def test_per_phone_caps(
    client: PageClient, planted: int, age: timedelta, message: str
) -> None:
    typed, phone = fresh_phone()
    await _plant(phone, planted, age, ip="testclient")  # the test client's own address
    before = await Notification.count()
    response = await request_code(client, typed)
    assert response.status_code == 429 and message in response.text
    assert await Notification.count() == before


async def test_per_ip_cap(client: PageClient, settings: Settings) -> None:
    # The test client connects as "testclient": use up its hourly allowance with other numbers.
    ip_hash = keyed_hash("accounts.ip", "testclient")
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    used = await SmsChallenge.count().where(
        SmsChallenge.ip_hash == ip_hash, SmsChallenge.created_at > hour_ago
    )
    _typed, other = fresh_phone()
    await _plant(other, settings.sms_per_ip_hour - used, timedelta(minutes=10), ip="testclient")
    typed, phone = fresh_phone()
    response = await request_code(client, typed)
    assert response.status_code == 429 and "网络" in response.text
    assert not await SmsChallenge.exists().where(SmsChallenge.phone == phone)
    await SmsChallenge.delete().where(SmsChallenge.phone == other)


async def test_sign_out_ends_the_session_on_the_server(client: PageClient, redis: object) -> None:
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    session_id = client.cookies["tongban_session"]
    token = csrf_from(await client.get("/account"))
    response = await client.post("/signout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cache"'
    assert await redis.exists(f"tongban:session:{session_id}") == 0  # type: ignore[attr-defined]
    client.cookies.set("tongban_session", session_id)  # a copied cookie is worthless now
    again = await client.get("/account", headers={"Accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")


async def test_sign_out_other_devices(client: PageClient) -> None:
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app

    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as other:
        await sign_in(other, typed)
        assert (await other.get("/account")).status_code == 200
        page = await client.get("/account")
        assert page.text.count("短信验证码") >= 2  # both devices listed
        await client.post("/account/sessions/revoke-others", data={"_csrf_token": csrf_from(page)})
        gone = await other.get("/account", headers={"Accept": "text/html"}, follow_redirects=False)
        assert gone.status_code == 303
    assert (await client.get("/account")).status_code == 200


async def test_preferences_follow_the_account_to_a_new_device(client: PageClient) -> None:
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app

    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    await client.post("/preferences/language", data={"lang": "en", "_csrf_token": token})
    await client.post("/preferences/elderly", data={"elder": "1", "_csrf_token": token})
    account = await Account.objects().where(Account.phone == phone).first()
    assert account is not None and account.locale == "en" and account.elderly
    async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as phone_two:
        await sign_in(phone_two, typed)
        page = await phone_two.get("/account")
        assert '<html lang="en" class="elder">' in page.text


async def test_parallel_code_requests_cannot_overshoot_the_limits() -> None:
    import asyncio

    from app.accounts import sms

    _typed, phone = fresh_phone()
    results = await asyncio.gather(
        *(sms.request_code(phone, "192.0.2.50", "zh-Hans", _dead_redis()) for _ in range(12)),
        return_exceptions=True,
    )
    sent = [item for item in results if isinstance(item, sms.CodeSent)]
    refused = [item for item in results if isinstance(item, sms.SignInError)]
    assert len(sent) == 1 and len(refused) == 11, results
    assert all(error.status == 429 for error in refused)
    assert await SmsChallenge.count().where(SmsChallenge.phone == phone) == 1
    assert await Notification.count().where(Notification.recipient == phone) == 1


def _dead_redis() -> object:
    """A client for a port where nothing listens: the codes wait in the outbox (send_soon
    logs and carries on), which keeps this test about the database alone."""
    from app.core.redis import free_port, make_client

    return make_client(f"redis://127.0.0.1:{free_port()}/0")


async def test_signing_in_again_replaces_this_devices_session_and_idle_ones_drop_off(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    await sign_in(client, typed)  # the same device signs in again
    open_rows = await LoginSession.select(LoginSession.id).where(
        LoginSession.account.phone == phone, LoginSession.revoked_at.is_null()
    )
    assert len(open_rows) == 1
    page = await client.get("/account")
    assert page.text.count("登录于") == 1
    # A device idle for longer than the session lifetime is no longer listed.
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app

    async with AsyncTestClient(app=create_app(), base_url="http://tongban.local") as other:
        await sign_in(other, typed)
    assert (await client.get("/account")).text.count("登录于") == 2
    await LoginSession.update(
        {LoginSession.last_seen_at: datetime.now(UTC) - timedelta(days=15)}
    ).where(LoginSession.account.phone == phone, LoginSession.id != open_rows[0]["id"])
    assert (await client.get("/account")).text.count("登录于") == 1
