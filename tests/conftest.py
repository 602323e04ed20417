"""Test configuration: real SQLite or PostgreSQL, a real Redis, the real app.

The environment is set here, before anything imports ``app.config``:
- database: ``TONGBAN_TEST_DATABASE_URL`` if set (its name must contain "test"; its public
  schema is dropped and recreated), else a fresh SQLite file in a temporary folder;
- Redis: ``TONGBAN_TEST_REDIS_URL`` if set (that database is flushed), else an embedded
  redis-server child started exactly the way ``make run`` starts one.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chinese_calendar

TMP = Path(tempfile.mkdtemp(prefix="tongban-test-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

os.environ.update(
    {
        "TONGBAN_ENV": "dev",
        "TONGBAN_VAR_DIR": str(TMP / "var"),
        "TONGBAN_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "TONGBAN_LOG_LEVEL": os.environ.get("TONGBAN_TEST_LOG_LEVEL", "warning"),
        "TONGBAN_PUBLIC_URL": "http://localhost:8000",
        # Every test client connects from the same address: a per-IP cap sized for one person
        # would throttle the suite, which signs in several hundred people by SMS within the
        # hour. tests/accounts/test_sms_signin.py fills it up on purpose (one bulk insert).
        "TONGBAN_SMS_PER_IP_HOUR": "3000",
        "TONGBAN_SMS_VERIFY_PER_IP_HOUR": "100000",
        # Serve pages the way production does (app/core/page_cache.py).
        "TONGBAN_PAGE_CACHE": "1",
        "TONGBAN_PASSKEY_OPTIONS_PER_MINUTE": "10000",
        # The test client serves the app from another event loop than the tests' own queries;
        # a pool would tie connections to one of them. Subprocess servers get a pool back.
        "TONGBAN_DATABASE_POOL_MAX": "0",
    }
)


def _plain_years() -> Path:
    """A holidays file (app/core/holidays.py) declaring plain weeks, no holiday, for the years
    after the last one chinese_calendar knows, up to two years after this one. The suite's
    "today" is whatever day it runs on, and booking windows and deadlines reach into next
    year: without this the suite would fail every December. Tests of the real arrangement
    use dates the package knows; tests of an unknown year use one after these."""
    first = max(chinese_calendar.holidays).year + 1
    path = TMP / "holidays.toml"
    path.write_text(
        "".join(f"[{year}]\n" for year in range(first, max(first, date.today().year) + 3)),
        encoding="utf-8",
    )
    return path


os.environ["TONGBAN_HOLIDAYS_FILE"] = str(_plain_years())
os.environ["TONGBAN_DATABASE_URL"] = os.environ.get(
    "TONGBAN_TEST_DATABASE_URL", f"sqlite:///{TMP / 'test.sqlite3'}"
)

from app.core.redis import EmbeddedRedis  # noqa: E402

if os.environ.get("TONGBAN_TEST_REDIS_URL"):
    REDIS_URL = os.environ["TONGBAN_TEST_REDIS_URL"]
    _embedded: EmbeddedRedis | None = None
else:
    _embedded = EmbeddedRedis(TMP / "redis", persist=False)
    REDIS_URL = _embedded.start()
    atexit.register(_embedded.stop)
os.environ["TONGBAN_REDIS_URL"] = REDIS_URL

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis as redis_sync  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402

from app.asgi import create_app  # noqa: E402
from app.config import Settings, get_settings  # noqa: E402
from app.core.database import migrate  # noqa: E402
from app.core.redis import free_port, make_client  # noqa: E402
from app.seed import seed_all  # noqa: E402
from tests.html_check import check_html  # noqa: E402

_NONCE = re.compile(r"'nonce-([^']+)'")


async def _reset_postgres(url: str) -> None:
    from app.piccolo_conf import DB

    name = urlsplit(url).path.lstrip("/")
    if "test" not in name:
        raise pytest.UsageError(f"refusing to wipe database {name!r}: its name must contain 'test'")
    await DB.run_ddl("DROP SCHEMA IF EXISTS public CASCADE")
    await DB.run_ddl("CREATE SCHEMA public")


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    settings = get_settings()
    if not settings.is_sqlite:
        await _reset_postgres(settings.database_url)
    redis_sync.Redis.from_url(REDIS_URL).flushdb()
    await migrate()
    await seed_all()
    yield


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    client = make_client(REDIS_URL)
    yield client
    await client.aclose()


class PageClient(AsyncTestClient):  # type: ignore[type-arg]
    """A test client that checks every HTML page it receives (see tests/html_check.py)."""

    async def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = await super().request(method, url, **kwargs)
        validate_response(response)
        return response


def validate_response(response: httpx.Response) -> None:
    if response.request.method == "HEAD":
        return  # headers only, by definition
    if not response.headers.get("content-type", "").startswith("text/html"):
        return
    nonce = _NONCE.search(response.headers.get("content-security-policy", ""))
    check_html(
        response.text,
        fragment=response.request.headers.get("hx-request") == "true",
        nonce=nonce.group(1) if nonce else None,
    )


@pytest.fixture
def app_with_redis() -> Iterator[Callable[[str], Any]]:
    """Builds the app against another Redis URL. Settings are cached process-wide, so the
    environment and the cache are both put back only after the test is done with the app."""
    patch = pytest.MonkeyPatch()

    def build(url: str) -> Any:
        patch.setenv("TONGBAN_REDIS_URL", url)
        get_settings.cache_clear()
        return create_app()

    yield build
    patch.undo()
    get_settings.cache_clear()


@pytest.fixture
async def client() -> AsyncIterator[PageClient]:
    async with PageClient(app=create_app(), base_url="http://tongban.local") as test_client:
        yield test_client


def csrf_from(page: httpx.Response) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found, "page has no CSRF field"
    return found.group(1)


class ServerProcess:
    """A real ``tongban serve`` (granian) on a free port, for multi-process and browser tests."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Browsers open it as localhost: a secure context, and the WebAuthn RP id.
        self.public_url = f"http://localhost:{self.port}"
        self.env = {
            **os.environ,
            "TONGBAN_PUBLIC_URL": self.public_url,
            "TONGBAN_DATABASE_POOL_MAX": "4",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tongban serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("tongban serve did not become healthy")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def live_server() -> Iterator[ServerProcess]:
    server = ServerProcess().start()
    yield server
    server.stop()


@pytest.fixture
def live_worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real ``tongban worker`` on the test database and Redis (sends SMS to the dev inbox)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], stdin=subprocess.DEVNULL
    )
    yield process
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
