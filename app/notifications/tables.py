"""The outbox (发件箱) and the dev inbox.

A notification is written to the outbox in the same transaction as the change that caused it;
workers send it afterwards (see services.py). Nothing is lost when Redis or the gateway is down:
a pending row stays until a worker has sent it or given up on it.
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSON, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Channel(StrEnum):
    SMS = "sms"


class Notification(Table, tablename="notifications_notification"):
    """One message to one recipient, from the outbox to the provider."""

    id: Serial  # Piccolo adds the primary key; the annotation tells type checkers

    kind = Varchar(length=40, help_text="Message kind, a key of templates.TEMPLATES (sms_code…).")
    channel = Varchar(length=10, choices=Channel, default=Channel.SMS, help_text="How it is sent.")
    recipient = Varchar(length=20, help_text="Phone number in E.164 form, e.g. +8613800000001.")
    user_id = Integer(null=True, default=None, help_text="The account it concerns, if any.")
    locale = Varchar(length=10, default="zh-Hans", help_text="Language of the text: zh-Hans or en.")
    params = JSON(
        default={},
        help_text="Values for the template; secret ones are replaced by *** once sent or failed.",
    )
    status = Varchar(
        length=10,
        choices=Status,
        default=Status.PENDING,
        index=True,
        help_text="pending → sending → sent | failed; sending → pending to retry.",
    )
    attempts = Integer(default=0, help_text="How many times a worker has claimed it.")
    next_attempt_at = Timestamptz(
        default=TimestamptzNow(),
        index=True,
        help_text=(
            "pending: when it may be sent (backoff). sending: when the claim runs out and the "
            "sweeper may hand it to another worker."
        ),
    )
    last_error = Varchar(
        length=200, null=True, default=None, help_text="Why the last attempt failed; no secrets."
    )
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None, help_text="When the provider accepted it.")
    provider_message_id = Varchar(
        length=100, null=True, default=None, help_text="The provider's id for the message."
    )


class DevMessage(Table, tablename="notifications_dev_message"):
    """A message the console provider "sent" in development, shown at /dev/sms."""

    id: Serial

    to = Varchar(length=20, help_text="Recipient in E.164 form.")
    body = Text(help_text="The rendered text, secrets included: development only.")
    notification_id = Integer(index=True, help_text="The outbox row it came from.")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
