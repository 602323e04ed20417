"""What a sign-in costs the server: SMS code request, code check, account page, passkey start.

Runs the real app in-process (no network) on a temporary SQLite file and an embedded Redis,
and prints per-step latency over N fresh phone numbers. The code is read from the outbox row,
as the SMS gateway would receive it.

    python -m bench.signin [--rounds 100]

Set TONGBAN_BENCH_DATABASE_URL to an empty PostgreSQL database to measure there instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path


def _setup() -> tuple[Path, str]:
    from app.core.redis import EmbeddedRedis

    tmp = Path(tempfile.mkdtemp(prefix="tongban-bench-signin-"))
    redis = EmbeddedRedis(tmp / "redis", persist=False)
    os.environ.update(
        {
            "TONGBAN_VAR_DIR": str(tmp),
            "TONGBAN_REDIS_URL": redis.start(),
            "TONGBAN_LOG_LEVEL": "warning",
            "TONGBAN_SMS_PER_IP_HOUR": "100000",
            # In-process client: the app runs in another event loop than our outbox reads.
            "TONGBAN_DATABASE_POOL_MAX": "0",
            "TONGBAN_DATABASE_URL": os.environ.get(
                "TONGBAN_BENCH_DATABASE_URL", f"sqlite:///{tmp / 'b.sqlite3'}"
            ),
        }
    )
    import atexit

    atexit.register(redis.stop)
    return tmp, os.environ["TONGBAN_DATABASE_URL"]


async def _run(rounds: int) -> dict[str, list[float]]:
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app
    from app.config import get_settings
    from app.core.database import migrate
    from app.core.logging import configure_logging
    from app.notifications.tables import Notification
    from app.seed import seed_all

    configure_logging(get_settings().log_level, get_settings().log_format)
    await migrate()
    await seed_all()
    timings: dict[str, list[float]] = {
        "request code": [],
        "verify code": [],
        "account page": [],
        "passkey start": [],
    }
    async with AsyncTestClient(app=create_app(), base_url="http://bench.local") as client:
        page = await client.get("/signin")
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert token
        csrf = token.group(1)
        for index in range(rounds):
            phone = f"137{index:08d}"
            started = time.perf_counter()
            answer = await client.post("/signin/code", data={"phone": phone, "_csrf_token": csrf})
            timings["request code"].append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.status_code
            row = (
                await Notification.select(Notification.params)
                .where(Notification.recipient == f"+86{phone}")
                .output(load_json=True)
                .first()
            )
            assert row is not None
            started = time.perf_counter()
            signed = await client.post(
                "/signin/verify",
                data={"phone": f"+86{phone}", "code": row["params"]["code"], "_csrf_token": csrf},
                follow_redirects=False,
            )
            timings["verify code"].append(time.perf_counter() - started)
            assert signed.status_code == 303, signed.status_code
            started = time.perf_counter()
            account = await client.get("/account")
            timings["account page"].append(time.perf_counter() - started)
            assert account.status_code == 200
            started = time.perf_counter()
            await client.post("/signin/passkey/options", headers={"x-csrftoken": csrf})
            timings["passkey start"].append(time.perf_counter() - started)
            client.cookies.delete("tongban_session")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    _tmp, database = _setup()
    timings = asyncio.run(_run(args.rounds))
    kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    print(f"sign-in steps, in-process, {kind}, {args.rounds} fresh numbers")
    print(f"{'step':14} {'p50 ms':>8} {'p95 ms':>8}")
    for step, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
        print(f"{step:14} {statistics.median(ordered) * 1000:8.1f} {p95 * 1000:8.1f}")


if __name__ == "__main__":
    main()
