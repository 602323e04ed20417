"""Which ASGI server to run in production: granian against uvicorn, same app, same machine.

Each server runs the real app (SQLite in a temporary folder, an embedded Redis) with one
worker process; a bounded load of HTTP/1.1 requests from a separate client process measures
throughput and latency for the home page (template + database) and /healthz (framework only).
The load comes from ``wrk`` when it is installed (Debian package wrk: a 5 s run per case), else
from a Python client, which on a small machine measures itself as much as the server.

    python -m bench.asgi_servers [--requests 3000] [--concurrency 32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.core.redis import EmbeddedRedis, free_port
from bench.pages import wrk

SERVERS = {
    "granian": lambda port: [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
    ],
    "uvicorn": lambda port: [
        sys.executable,
        "-m",
        "uvicorn",
        "app.asgi:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ],
}


async def _load(url: str, total: int, concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tongban-bench-"))
    redis = EmbeddedRedis(tmp / "redis", persist=False)
    env = {
        **os.environ,
        "TONGBAN_VAR_DIR": str(tmp),
        "TONGBAN_REDIS_URL": redis.start(),
        "TONGBAN_LOG_LEVEL": "warning",
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, capture_output=True
        )
        subprocess.run(
            [sys.executable, "-m", "app.cli", "seed"], env=env, check=True, capture_output=True
        )
        use_wrk = shutil.which("wrk") is not None
        load = f"wrk, {args.seconds} s" if use_wrk else f"python client, {args.requests} requests"
        print(
            f"load: {load}, {args.concurrency} connections; 1 server process; {os.cpu_count()} cores"
        )
        tail = "p99 ms" if use_wrk else "p95 ms"
        print(f"{'server':8} {'path':9} {'req/s':>8} {'p50 ms':>8} {tail:>8} {'errors':>6}")
        for name, command in SERVERS.items():
            port = free_port()
            server = subprocess.Popen(command(port), env=env, stdin=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_healthy(base)
                for path in ("/healthz", "/"):
                    asyncio.run(_load(base + path, 200, args.concurrency))  # warm-up
                    if use_wrk:
                        result = wrk(base + path, args.seconds, args.concurrency, threads=1)
                        rate, p50, p99, failed = result.rate, result.p50, result.p99, result.failed
                        print(f"{name:8} {path:9} {rate:8.0f} {p50:8.1f} {p99:8.1f} {failed:6}")
                        continue
                    elapsed, latencies, errors = asyncio.run(
                        _load(base + path, args.requests, args.concurrency)
                    )
                    ordered = sorted(latencies)
                    p95 = ordered[int(len(ordered) * 0.95) - 1]
                    print(
                        f"{name:8} {path:9} {args.requests / elapsed:8.0f} "
                        f"{statistics.median(ordered) * 1000:8.1f} {p95 * 1000:8.1f} {errors:6}"
                    )
            finally:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop within 15 s of SIGTERM; killed")
                    server.kill()
                    server.wait()
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
