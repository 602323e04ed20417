"""The production server configuration for a bench: ``tongban serve`` (granian, one worker,
TONGBAN_ENV=prod, JSON logs at info level) on a temporary SQLite file (or
TONGBAN_BENCH_DATABASE_URL) and an embedded Redis, migrated and seeded.

The settings go into this process's environment too, so that a bench may write to the same
database and Redis directly (to make people or sessions) before it loads the server over HTTP.
TONGBAN_BENCH_SHOW_ERRORS=1 prints the server's error log lines when it stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.pages import _stop, _wait_healthy

SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (a throwaway server)
# Required in prod; no worker runs in a bench, so nothing is ever sent to it.
SMS_GATEWAY = {
    "TONGBAN_SMS_PROVIDER": "http",
    "TONGBAN_SMS_HTTP_URL": "https://localhost:9/sms",
    "TONGBAN_SMS_HTTP_SECRET": "bench-gateway-secret",
}


@dataclass(frozen=True)
class Server:
    base: str  # where to send requests: http://127.0.0.1:PORT
    origin: str  # the public URL the app believes it has (passkeys, CSRF origin checks)
    redis_url: str
    database: str

    @property
    def kind(self) -> str:
        return "PostgreSQL" if self.database.startswith("postgres") else "SQLite"


@contextmanager
def production_server(name: str, settings: dict[str, str] | None = None) -> Iterator[Server]:
    """Start the server with ``settings`` (TONGBAN_* variables) on top of the bench's own;
    stop it and remove everything it made on the way out."""
    from app.core.redis import EmbeddedRedis, free_port

    tmp = Path(tempfile.mkdtemp(prefix=f"tongban-bench-{name}-"))
    redis = EmbeddedRedis(tmp / "redis", persist=False)
    database = os.environ.get("TONGBAN_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'b.sqlite3'}"
    port = free_port()
    origin = f"https://localhost:{port}"
    app: subprocess.Popen[bytes] | None = None
    try:
        redis_url = redis.start()
        os.environ.update(
            {
                "TONGBAN_VAR_DIR": str(tmp),
                "TONGBAN_REDIS_URL": redis_url,
                "TONGBAN_DATABASE_URL": database,
                "TONGBAN_SECRET_KEY": SECRET_KEY,
                "TONGBAN_PUBLIC_URL": origin,
                "TONGBAN_LOG_LEVEL": "info",
                **(settings or {}),
            }
        )
        setup = {**os.environ, "TONGBAN_ENV": "dev"}
        for step in (["migrate"], ["seed"]):
            subprocess.run(
                [sys.executable, "-m", "app.cli", *step], env=setup, check=True, capture_output=True
            )
        with (tmp / "web.log").open("wb") as log:
            app = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
                env={**os.environ, "TONGBAN_ENV": "prod", **SMS_GATEWAY},
                stdin=subprocess.DEVNULL,
                stderr=log,
                stdout=log,
            )
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, app)
        yield Server(base=base, origin=origin, redis_url=redis_url, database=database)
    finally:
        if app is not None:
            _stop(app)
        if os.environ.get("TONGBAN_BENCH_SHOW_ERRORS") and (tmp / "web.log").exists():
            for line in (tmp / "web.log").read_text(errors="replace").splitlines():
                if '"error"' in line or "Error" in line:
                    print(line[-1500:])
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
