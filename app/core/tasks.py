"""Worker tasks every deployment has: the heartbeat and a round-trip probe."""

from __future__ import annotations

import os
import socket
from typing import Any

from app.core.health import record_heartbeat


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Cron job (every 10 s): tell ``/readyz`` that this worker is alive and taking jobs."""
    await record_heartbeat(ctx["redis"], worker_id())


async def echo(ctx: dict[str, Any], payload: str) -> dict[str, Any]:
    """A job that proves the queue round trip: the web enqueues, a worker answers."""
    return {"payload": payload, "worker": worker_id(), "try": ctx.get("job_try", 1)}
