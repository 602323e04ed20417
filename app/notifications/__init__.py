"""Notifications (通知): an outbox of SMS messages, sent by workers through a provider.

Exports ``notify`` (write a notification in the caller's transaction) and ``send_soon``
(enqueue it once that transaction has committed). Everything else is used through its module:
``tables`` (the outbox and the dev inbox), ``templates`` (message texts per kind),
``providers`` (console and HTTP gateway), ``tasks`` (the send job and the sweeper) and
``controllers`` (``/dev/sms``). See docs/notifications.md.
"""

from app.notifications.services import notify, send_soon

__all__ = ["notify", "send_soon"]
