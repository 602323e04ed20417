"""The HTTP provider against a real gateway on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import pytest

from app.config import Settings
from app.core.redis import free_port
from app.notifications.providers import (
    ConsoleProvider,
    HttpProvider,
    PermanentSendError,
    Sms,
    TemporarySendError,
    get_provider,
    sign,
)
from app.notifications.services import MAX_ATTEMPTS, backoff, utcnow
from app.notifications.tables import Notification, Status
from app.notifications.tasks import send_notification
from tests.notifications.conftest import (
    GATEWAY_SECRET,
    PHONE,
    Gateway,
    load,
    make_due,
    new_sms_code,
)


def _provider(gateway: Gateway, secret: str = GATEWAY_SECRET, timeout: float = 2.0) -> HttpProvider:
    return HttpProvider(gateway.url, secret, timeout)


async def _send(provider: HttpProvider, notification_id: int) -> dict[str, Any]:
    await send_notification({"sms_provider": provider}, notification_id)
    return await load(notification_id)


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = '{"to":"+8613800000001","body":"你好","id":1}'.encode()
    expected = hmac.new(b"k" * 32, body, hashlib.sha256).hexdigest()
    assert sign("k" * 32, body) == f"sha256={expected}"


def test_settings_choose_the_provider(settings: Settings) -> None:
    assert isinstance(get_provider(settings), ConsoleProvider)
    http = get_provider(
        dataclasses.replace(
            settings,
            sms_provider="http",
            sms_http_url="https://sms.example/send",
            sms_http_secret="s" * 32,
            sms_http_timeout=3.0,
        )
    )
    assert isinstance(http, HttpProvider)
    assert (http.url, http.timeout) == ("https://sms.example/send", 3.0)


async def test_a_2xx_answer_sends_and_keeps_the_gateway_s_message_id(gateway: Gateway) -> None:
    notification_id = await new_sms_code(code="975310", locale="en")
    row = await _send(_provider(gateway), notification_id)
    assert row["status"] == Status.SENT
    assert row["provider_message_id"] == f"gw-{notification_id}"
    assert row["params"]["code"] == "***"
    [request] = gateway.received
    assert request["signed"] is True
    assert request["timestamp"].isdigit()
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {
        "to": PHONE,
        "body": "[Tongban] Your code is 975310, valid for 5 minutes. Do not share it.",
        "id": notification_id,
    }


async def test_chinese_text_is_signed_over_the_bytes_sent(gateway: Gateway) -> None:
    receipt = await _provider(gateway).send(Sms(to=PHONE, body="【通办】你好", notification_id=1))
    assert receipt.provider_message_id == "gw-1"
    assert gateway.received[0]["signed"] is True


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_busy_or_broken_gateway_means_retry_later_with_backoff(
    gateway: Gateway, status: int
) -> None:
    gateway.answer = status
    notification_id = await new_sms_code()
    before = utcnow()
    row = await _send(_provider(gateway), notification_id)
    after = utcnow()
    assert (row["status"], row["attempts"]) == (Status.PENDING, 1)
    assert row["last_error"] == f"gateway answered HTTP {status}"
    assert before + backoff(1) <= row["next_attempt_at"] <= after + backoff(1)
    assert row["params"]["code"] == "246810"  # still needed for the retry

    # Not due yet: a worker that gets the job early does nothing.
    gateway.answer = 200
    assert (await _send(_provider(gateway), notification_id))["attempts"] == 1

    await make_due(notification_id)
    row = await _send(_provider(gateway), notification_id)
    assert (row["status"], row["attempts"], row["last_error"]) == (Status.SENT, 2, None)
    # Both attempts carried the same id, so the gateway could drop a duplicate.
    assert [r["json"]["id"] for r in gateway.received] == [notification_id] * 2


async def test_the_second_failure_waits_twice_as_long(gateway: Gateway) -> None:
    gateway.answer = 503
    notification_id = await new_sms_code()
    await _send(_provider(gateway), notification_id)
    await make_due(notification_id)
    before = utcnow()
    row = await _send(_provider(gateway), notification_id)
    after = utcnow()
    assert row["attempts"] == 2
    assert before + backoff(2) <= row["next_attempt_at"] <= after + backoff(2)


@pytest.mark.parametrize(("status", "secret"), [(400, GATEWAY_SECRET), (401, "wrong-secret" * 4)])
async def test_a_refusal_is_given_up_at_once(gateway: Gateway, status: int, secret: str) -> None:
    gateway.answer = 400
    notification_id = await new_sms_code()
    row = await _send(_provider(gateway, secret=secret), notification_id)
    assert (row["status"], row["attempts"]) == (Status.FAILED, 1)
    assert row["last_error"] == f"gateway refused with HTTP {status}"
    assert row["params"]["code"] == "***"
    assert gateway.received[0]["signed"] is (status != 401)


async def test_a_gateway_that_hangs_times_out_and_is_retried(gateway: Gateway) -> None:
    gateway.answer = "hang"
    notification_id = await new_sms_code()
    row = await _send(_provider(gateway, timeout=0.3), notification_id)
    assert (row["status"], row["attempts"]) == (Status.PENDING, 1)
    assert row["last_error"] == "gateway timed out"


async def test_an_unreachable_gateway_is_retried() -> None:
    provider = HttpProvider(f"http://127.0.0.1:{free_port()}/sms", GATEWAY_SECRET, 1.0)
    with pytest.raises(TemporarySendError, match="unreachable"):
        await provider.send(Sms(to=PHONE, body="x", notification_id=1))
    notification_id = await new_sms_code()
    row = await _send(provider, notification_id)
    assert (row["status"], row["last_error"]) == (
        Status.PENDING,
        "gateway unreachable: ConnectError",
    )


async def test_after_the_last_attempt_the_notification_fails(gateway: Gateway) -> None:
    gateway.answer = 500
    notification_id = await new_sms_code()
    await Notification.update({Notification.attempts: MAX_ATTEMPTS - 1}).where(
        Notification.id == notification_id
    )
    row = await _send(_provider(gateway), notification_id)
    assert (row["status"], row["attempts"]) == (Status.FAILED, MAX_ATTEMPTS)
    assert row["last_error"] == f"gave up after {MAX_ATTEMPTS} attempts: gateway answered HTTP 500"
    assert row["params"]["code"] == "***"


async def test_permanent_errors_are_raised_by_the_provider_itself(gateway: Gateway) -> None:
    gateway.answer = 404
    with pytest.raises(PermanentSendError, match="HTTP 404"):
        await _provider(gateway).send(Sms(to=PHONE, body="x", notification_id=1))
