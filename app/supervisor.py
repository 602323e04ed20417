"""``tongban run``: the whole system on one machine, as child processes of one parent.

Order of start: schema and demo data, then Redis (embedded unless TONGBAN_REDIS_URL is set),
then an arq worker and the web server. Children run in their own sessions, so Ctrl-C reaches
only this parent, which stops them in reverse order; each child also asks the kernel for
SIGTERM if the parent dies (see ``die_with_parent``), so nothing outlives a SIGKILL either.

A child that exits is reported but not restarted: a dead Redis shows up in ``/readyz`` as the
failing check, which is what an operator needs to see.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from app.config import get_settings
from app.core.database import migrate
from app.core.logging import configure_logging, get_logger
from app.core.redis import EmbeddedRedis, die_with_parent, url_file
from app.seed import seed_all

log = get_logger("supervisor")


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    log.info("child_start_success", child=name, pid=process.pid)
    return process


def _stop(name: str, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("child_stop_killed", child=name)
            process.kill()
            process.wait()
    log.info("child_stop_success", child=name, exit_code=process.returncode)


def run_all() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.storage_dir.mkdir(parents=True, exist_ok=True)

    asyncio.run(migrate())
    if settings.is_dev:  # demo accounts have published numbers: never in production
        added = asyncio.run(seed_all())
        log.info("seed_success", **added)

    env = dict(os.environ)
    redis_server: EmbeddedRedis | None = None
    if settings.redis_url is None:
        redis_server = EmbeddedRedis(settings.var_dir / "redis")
        url = redis_server.start()
        url_file(settings).write_text(url)
        env["TONGBAN_REDIS_URL"] = url
        log.info(
            "child_start_success",
            child="redis",
            pid=redis_server.process.pid if redis_server.process else None,
            url=url,
        )

    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children = {
        "worker": _spawn("worker", ["worker"], env),
        "web": _spawn("web", ["serve"], env),
    }
    log.info("tongban_ready", url=f"http://{settings.host}:{settings.port}/")
    reported: set[str] = set()
    try:
        while not stopping:
            watched = dict(children)
            if redis_server and redis_server.process:
                watched["redis"] = redis_server.process
            for name, process in watched.items():
                if name not in reported and process.poll() is not None:
                    reported.add(name)
                    log.error("child_exit_unexpected", child=name, exit_code=process.returncode)
            if {"web", "worker"} <= reported:
                break
            time.sleep(0.2)
    finally:
        for name in ("web", "worker"):
            _stop(name, children[name])
        if redis_server:
            redis_server.stop()
            url_file(settings).unlink(missing_ok=True)
            log.info("child_stop_success", child="redis")
    return 0
