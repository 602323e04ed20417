"""Worker tasks: send one notification, and sweep the outbox (registered in workers/settings.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from arq.worker import func

from app.config import get_settings
from app.notifications import services
from app.notifications.providers import SmsProvider, get_provider


def _provider(ctx: dict[str, Any]) -> SmsProvider:
    # One provider per worker, made on first use; a test may put its own in ctx.
    provider: SmsProvider | None = ctx.get("sms_provider")
    if provider is None:
        provider = ctx["sms_provider"] = get_provider(get_settings())
    return provider


async def send_notification(ctx: dict[str, Any], notification_id: int) -> None:
    """Send one outbox row if it is still pending and due. Retries are not arq's: a temporary
    failure puts the row back with a backoff, and the sweeper enqueues it when it is due."""
    await services.deliver(notification_id, _provider(ctx))


async def sweep_outbox(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron (every 15 s): recover rows whose worker died, and enqueue the pending rows that are
    due: new ones whose ``send_soon`` met a Redis outage, and retries after their backoff."""
    result = await services.sweep(ctx["redis"])
    return dataclasses.asdict(result)


# keep_result=0: a finished send leaves no result behind, so nothing holds its job id. The ids
# carry the attempt number as well (services.job_id), so even a kept result could not block a
# retry; without results, a job that found its row not yet due cannot block a re-send either.
send_notification_job = func(send_notification, name=services.SEND_JOB, keep_result=0)
