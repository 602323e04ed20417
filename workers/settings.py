"""arq ``WorkerSettings``: run with ``tongban worker``."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from app.applications import tasks as application_tasks
from app.appointments import tasks as appointment_tasks
from app.config import get_settings
from app.core import tasks as core_tasks
from app.core.database import close_pool, open_pool
from app.core.logging import configure_logging, get_logger
from app.core.redis import arq_settings, resolve_redis_url
from app.courier import tasks as courier_tasks
from app.files import tasks as file_tasks
from app.identity import tasks as identity_tasks
from app.notifications import tasks as notification_tasks

log = get_logger("worker")

# China keeps UTC+8 all year (no daylight saving), so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


async def startup(ctx: dict[str, Any]) -> None:
    await open_pool()
    await core_tasks.heartbeat(ctx)
    log.info("worker_start_success", worker=core_tasks.worker_id())


async def shutdown(ctx: dict[str, Any]) -> None:
    await close_pool()
    log.info("worker_stop_success", worker=core_tasks.worker_id())


def redis_settings() -> RedisSettings:
    return arq_settings(resolve_redis_url(get_settings()))


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        core_tasks.echo,
        notification_tasks.send_notification_job,
        file_tasks.check_file_job,
        identity_tasks.check_image_job,
        *courier_tasks.FUNCTIONS,
        *appointment_tasks.FUNCTIONS,
    ]
    cron_jobs: ClassVar[list[Any]] = [
        cron(core_tasks.heartbeat, second={0, 10, 20, 30, 40, 50}, run_at_startup=False),
        cron(notification_tasks.sweep_outbox, second={0, 15, 30, 45}, run_at_startup=True),
        cron(file_tasks.sweep_pending, second={5}, run_at_startup=False),
        # Daily before offices open, at 07:00 and 07:05 in the worker's timezone (below); a
        # pass over every running case may outlast the 300 s job timeout.
        cron(
            application_tasks.daily_deadlines,
            hour={7},
            minute={0},
            second={0},
            timeout=timedelta(hours=1),
        ),
        cron(
            application_tasks.obligation_reminders,
            hour={7},
            minute={5},
            second={0},
            timeout=timedelta(hours=1),
        ),
        cron(
            identity_tasks.purge_images,
            hour={3},
            minute={40},
            second={0},
            timeout=timedelta(hours=1),
        ),
        cron(
            application_tasks.purge_expired_drafts,
            hour={3},
            minute={30},
            second={0},
            timeout=timedelta(hours=1),
        ),
        *courier_tasks.CRON_JOBS,
        *appointment_tasks.CRON_JOBS,
    ]
    # arq reads cron hours in this timezone, else in the host's (often UTC, where 07:00 would
    # be 15:00 in Beijing). The crons on seconds above do not depend on it.
    timezone = BEIJING
    redis_settings: ClassVar[RedisSettings | None] = None
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 20
    job_timeout = 300
    keep_result = 3600
    health_check_interval = 30

    @classmethod
    def configure(cls) -> type[WorkerSettings]:
        settings = get_settings()
        configure_logging(settings.log_level, settings.log_format)
        cls.redis_settings = redis_settings()
        return cls
