"""SMS providers behind one interface, chosen by ``TONGBAN_SMS_PROVIDER``.

``console`` keeps each message in the dev inbox (``/dev/sms``); ``http`` posts it to a gateway.
A provider either returns a receipt or raises: ``TemporarySendError`` when trying again later
may work, ``PermanentSendError`` when it will not. Error texts end up in the outbox's
``last_error``, so they name what went wrong without the number or the text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import httpx

from app.config import ConfigError, Settings
from app.core.logging import get_logger
from app.notifications.tables import DevMessage

log = get_logger("notifications")

SIGNATURE_HEADER = "X-Tongban-Signature"
TIMESTAMP_HEADER = "X-Tongban-Timestamp"


@dataclass(frozen=True, slots=True)
class Sms:
    to: str
    body: str
    notification_id: int


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_message_id: str | None = None


class SendError(Exception):
    """The provider did not accept the message; ``str(exc)`` is safe to store and log."""


class TemporarySendError(SendError):
    """Worth trying again later: the gateway is busy, down, slow or unreachable."""


class PermanentSendError(SendError):
    """Trying again cannot help: the gateway refused this message or our credentials."""


class SmsProvider(ABC):
    name: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsProvider:
        return cls()

    @abstractmethod
    async def send(self, sms: Sms) -> Receipt: ...


class ConsoleProvider(SmsProvider):
    """Development: the message goes to the dev inbox table instead of a phone."""

    name = "console"

    async def send(self, sms: Sms) -> Receipt:
        row = DevMessage(to=sms.to, body=sms.body, notification_id=sms.notification_id)
        await row.save()
        log.info("sms_send_success", provider=self.name, notification_id=sms.notification_id)
        return Receipt(provider_message_id=f"console-{row.id}")


def sign(secret: str, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 (RFC 2104) of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HttpProvider(SmsProvider):
    """A gateway that takes ``POST {"to", "body", "id"}`` signed with a shared secret.

    ``id`` is the outbox id: a message retried after a lost answer carries the same id, so the
    gateway can drop the duplicate.
    """

    name = "http"

    def __init__(self, url: str, secret: str, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsProvider:
        if not (settings.sms_http_url and settings.sms_http_secret):
            raise ConfigError("the http SMS provider needs TONGBAN_SMS_HTTP_URL and _SECRET")
        return cls(settings.sms_http_url, settings.sms_http_secret, settings.sms_http_timeout)

    async def send(self, sms: Sms) -> Receipt:
        payload = {"to": sms.to, "body": sms.body, "id": sms.notification_id}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TemporarySendError("gateway timed out") from exc
        except httpx.TransportError as exc:
            raise TemporarySendError(f"gateway unreachable: {type(exc).__name__}") from exc

        status = response.status_code
        if 200 <= status < 300:
            log.info("sms_send_success", provider=self.name, notification_id=sms.notification_id)
            return Receipt(provider_message_id=_message_id(response))
        # 429 asks us to slow down and 5xx is the gateway's own trouble: both pass. Any other
        # answer (400 invalid number, 401 bad signature, 403, 404…) would be the same next time.
        if status == 429 or status >= 500:
            raise TemporarySendError(f"gateway answered HTTP {status}")
        raise PermanentSendError(f"gateway refused with HTTP {status}")


def _message_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    value = data.get("message_id") if isinstance(data, dict) else None
    return str(value)[:100] if value not in (None, "") else None


PROVIDERS: dict[str, type[SmsProvider]] = {
    ConsoleProvider.name: ConsoleProvider,
    HttpProvider.name: HttpProvider,
}


def get_provider(settings: Settings) -> SmsProvider:
    """The provider ``TONGBAN_SMS_PROVIDER`` names."""
    try:
        provider = PROVIDERS[settings.sms_provider]
    except KeyError:
        raise ConfigError(f"unknown SMS provider {settings.sms_provider!r}") from None
    return provider.from_settings(settings)
