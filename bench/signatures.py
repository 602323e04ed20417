"""What passkey signatures cost.

The ceremony, in-process on a temporary SQLite file (or TONGBAN_BENCH_DATABASE_URL) and an
embedded Redis, with the tests' software authenticator answering: ``start`` (POST
/sign/{id}/options: the challenge for the document), ``finish`` (POST /sign/{id}/finish:
py_webauthn's checks, the seal, the evidence written with the counter) and the public verify
page (which re-verifies the stored evidence on every view).

The verifier: ``verify_bundle`` on a real ES256 bundle (made by the tests' software
authenticator), in-process, and ``tongban signature verify FILE`` end to end, a fresh Python
process each time as a third party would run it.

    python -m bench.signatures [--rounds 500] [--cli-runs 10]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def bench_verifier(rounds: int = 500, cli_runs: int = 10) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from app.signing.verify import verify_bundle
    from tests.signing.helpers import make_bundle

    # Sealed with a key of its own: the bench needs no TONGBAN_SECRET_KEY.
    data = make_bundle(seal_key=Ed25519PrivateKey.generate())
    verify_bundle(data)  # warm: imports, the CBOR and key parsers
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        verify_bundle(data)
        timings.append(time.perf_counter() - started)
    timings.sort()

    env = {key: value for key, value in os.environ.items() if not key.startswith("TONGBAN_")}
    env["PYTHONPATH"] = str(ROOT)
    runs = []
    with tempfile.TemporaryDirectory(prefix="tongban-bench-verify-") as folder:
        path = Path(folder) / "evidence.json"
        path.write_bytes(data)
        command = [sys.executable, "-m", "app.cli", "signature", "verify", str(path)]
        for _ in range(cli_runs):
            started = time.perf_counter()
            subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - started)

    print(f"signature verifier, ES256 bundle of {len(data)} bytes")
    print(
        f"  verify_bundle x{rounds}: p50 {statistics.median(timings) * 1e6:.0f} µs, "
        f"p95 {_percentile(timings, 0.95) * 1e6:.0f} µs"
    )
    print(f"  tongban signature verify x{cli_runs}: median {statistics.median(runs) * 1e3:.0f} ms")


async def _ceremony(rounds: int) -> dict[str, list[float]]:
    import re

    from litestar.testing import AsyncTestClient

    from app.asgi import create_app
    from app.config import get_settings
    from app.core.database import migrate
    from app.core.logging import configure_logging
    from app.notifications.tables import Notification
    from app.seed import seed_all
    from tests.fixtures.soft_authenticator import SoftAuthenticator

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    await migrate()
    await seed_all()
    timings: dict[str, list[float]] = {"start": [], "finish": [], "verify page": []}
    authenticator = SoftAuthenticator()
    async with AsyncTestClient(app=create_app(), base_url="http://bench.local") as client:
        page = await client.get("/signin")
        found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert found
        csrf = found.group(1)
        phone = "13700000999"
        assert (
            await client.post("/signin/code", data={"phone": phone, "_csrf_token": csrf})
        ).status_code == 200
        row = (
            await Notification.select(Notification.params)
            .where(Notification.recipient == f"+86{phone}")
            .output(load_json=True)
            .first()
        )
        assert row is not None
        await client.post(
            "/signin/verify",
            data={"phone": f"+86{phone}", "code": row["params"]["code"], "_csrf_token": csrf},
        )
        # Signing in rotates the CSRF token: read the new one.
        found = re.search(
            r'name="_csrf_token" value="([^"]+)"', (await client.get("/account")).text
        )
        assert found
        csrf = found.group(1)
        headers = {"x-csrftoken": csrf}
        started_registration = (
            await client.post("/account/passkeys/options", headers=headers)
        ).json()
        registered = await client.post(
            "/account/passkeys/verify",
            json={
                "challenge_id": started_registration["challenge_id"],
                "credential": authenticator.create(
                    started_registration["options"], settings.origin
                ),
            },
            headers=headers,
        )
        assert registered.status_code == 201, registered.text
        for _ in range(rounds):
            made = await client.post(
                "/authorisation", data={"_csrf_token": csrf}, follow_redirects=False
            )
            document = made.headers["location"].split("/")[2]
            began = time.perf_counter()
            started = (await client.post(f"/sign/{document}/options", headers=headers)).json()
            timings["start"].append(time.perf_counter() - began)
            assertion = authenticator.get(started["options"], settings.origin)
            began = time.perf_counter()
            finished = await client.post(
                f"/sign/{document}/finish",
                json={"challenge_id": started["challenge_id"], "credential": assertion},
                headers=headers,
            )
            timings["finish"].append(time.perf_counter() - began)
            assert finished.status_code == 200, finished.text
            began = time.perf_counter()
            shown = await client.get(finished.json()["redirect"])
            timings["verify page"].append(time.perf_counter() - began)
            assert shown.status_code == 200
    return timings


def bench_ceremony(rounds: int = 100) -> None:
    import asyncio

    from bench.signin import _setup

    _tmp, database = _setup()
    os.environ["TONGBAN_PUBLIC_URL"] = "http://localhost:8000"
    timings = asyncio.run(_ceremony(rounds))
    kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    print(f"signing ceremony, in-process, {kind}, {rounds} documents signed")
    print(f"  {'step':12} {'p50 ms':>8} {'p95 ms':>8}")
    for step, values in timings.items():
        ordered = sorted(values)
        print(
            f"  {step:12} {statistics.median(ordered) * 1e3:8.1f} "
            f"{_percentile(ordered, 0.95) * 1e3:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=500, help="verify_bundle calls")
    parser.add_argument("--cli-runs", type=int, default=10, help="command runs, end to end")
    parser.add_argument("--documents", type=int, default=100, help="documents signed")
    args = parser.parse_args()
    bench_verifier(args.rounds, args.cli_runs)
    bench_ceremony(args.documents)


if __name__ == "__main__":
    main()
