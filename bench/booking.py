"""A booking stampede: many people try for the last places of one slot at the same moment.

Starts the production server configuration (``tongban serve``: granian, one worker,
TONGBAN_ENV=prod, JSON logs at info level) on a temporary SQLite file (or
TONGBAN_BENCH_DATABASE_URL) and an embedded Redis, as bench/pages.py does. It then makes one
slot with ``--places`` places and ``--tries`` signed-in people, each with a session of their own
(accounts, login rows and sessions in Redis written the way the app writes them, rather than
``--tries`` SMS sign-ins), and lets every one of them post the booking form at once over HTTP.

Prints how many were booked (must be exactly the places), refused (the "fully booked"
answer), errors (anything else), the slot's count in the database afterwards, and the
latency seen by the clients (p50/p99). The per-address hold limit is raised for the run: all
the tries come from one address.

    python -m bench.booking [--tries 500] [--places 20]

TONGBAN_BENCH_SHOW_ERRORS=1 prints the server's error log lines after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.pages import _cookies_from
from bench.server import production_server

ITEM = "food-business-licence"


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _people(count: int, redis_url: str) -> list[str]:
    """``count`` citizens signed in by SMS, as the app would store them: the session ids."""
    from app.accounts.tables import Account, LoginSession
    from app.core.redis import make_client

    redis = make_client(redis_url)
    sessions = []
    run = secrets.randbelow(10**4)
    try:
        for n in range(count):
            account = Account(
                phone=f"+86137{run:04d}{n:04d}",
                name="压测",
                webauthn_user_id=secrets.token_urlsafe(16),
            )
            await account.save()
            ref = secrets.token_hex(32)
            await LoginSession(account=account.id, session_ref=ref, method="sms").save()
            session_id = secrets.token_hex(32)
            data = {
                "account_id": account.id,
                "ref": ref,
                "method": "sms",
                "_written": int(time.time()),
            }
            await redis.set(f"tongban:session:{session_id}", json.dumps(data), ex=3600)
            sessions.append(session_id)
    finally:
        await redis.aclose()
    return sessions


async def _slot(places: int) -> tuple[int, int]:
    """A centre open around the clock with one slot tomorrow of ``places`` places."""
    from app.appointments.slots import DAY_KINDS, today
    from app.appointments.tables import Centre, Counter, Slot

    centre = Centre(
        code=f"bench-{secrets.token_hex(3)}",
        name_zh="压测中心",
        name_en="Bench centre",
        district_zh="浦东新区",
        district_en="Pudong",
        address_zh="压测路1号",
        address_en="1 Bench Road",
        hours={kind: ["00:00-24:00"] for kind in DAY_KINDS},
    )
    await centre.save()
    await Counter(centre=centre.id, number=1, groups=["market"], key=f"{centre.id}:1").save()
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    slot = Slot(
        centre=centre.id,
        group="market",
        day=today(start),
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        capacity=places,
        taken=0,
        key=f"{centre.id}:market:bench",
    )
    await slot.save()
    return int(centre.id), int(slot.id)


async def bench(base: str, tries: int, places: int, redis_url: str) -> None:
    from app.appointments.tables import Booking, Slot

    sessions = await _people(tries, redis_url)
    centre_id, slot_id = await _slot(places)
    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/signin")
        jar: dict[str, str] = {}
        _cookies_from(page, jar)
        found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert found, "no CSRF field"
        token = found.group(1)
    session_cookie = "__Host-tongban_session"
    csrf = "; ".join(f"{name}={value}" for name, value in jar.items())
    timings: list[float] = []
    outcome = {"booked": 0, "refused": 0, "errors": 0}
    kinds: dict[str, int] = {}

    async def attempt(client: httpx.AsyncClient, session_id: str) -> None:
        began = time.perf_counter()
        try:
            response = await client.post(
                f"/appointments/book/{centre_id}",
                data={"_csrf_token": token, "slot": str(slot_id), "item": ITEM},
                headers={"Cookie": f"{csrf}; {session_cookie}={session_id}"},
            )
        except httpx.HTTPError as exc:
            outcome["errors"] += 1
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            return
        finally:
            timings.append(time.perf_counter() - began)
        location = response.headers.get("location", "")
        if response.status_code == 303 and location.startswith("/bookings/"):
            outcome["booked"] += 1
        elif response.status_code == 303 and location.startswith("/appointments/book/"):
            outcome["refused"] += 1
        else:
            outcome["errors"] += 1
            kinds[str(response.status_code)] = kinds.get(str(response.status_code), 0) + 1

    # Clients of 50 connections each: one httpx pool of 500 spends more time scanning its
    # connections than the server spends answering.
    clients = [
        httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=50))
        for _n in range(0, tries, 50)
    ]
    began = time.perf_counter()
    await asyncio.gather(
        *(attempt(clients[n // 50], session) for n, session in enumerate(sessions))
    )
    elapsed = time.perf_counter() - began
    for client in clients:
        await client.aclose()
    row = await Slot.select(Slot.taken).where(Slot.id == slot_id).first()
    held = await Booking.count().where(Booking.slot == slot_id)
    ordered = sorted(timings)
    print(
        f"  {tries} tries for {places} places in {elapsed:.2f} s: booked {outcome['booked']}, "
        f"refused {outcome['refused']}, errors {outcome['errors']}; "
        f"slot.taken {row['taken'] if row else '?'}, bookings {held}"
        + (f"; errors by kind {kinds}" if kinds else ""),
        flush=True,
    )
    print(
        f"  latency p50 {_percentile(ordered, 0.5) * 1e3:.0f} ms, "
        f"p99 {_percentile(ordered, 0.99) * 1e3:.0f} ms",
        flush=True,
    )
    if outcome["booked"] != places or (row and row["taken"] != places):
        raise SystemExit("OVERBOOKED or under-booked: the figures above are wrong")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=500)
    parser.add_argument("--places", type=int, default=20)
    args = parser.parse_args()
    # Every try comes from this one address; the per-account limit stays as it is.
    limits = {"TONGBAN_APPOINTMENTS_HOLDS_PER_IP_HOUR": str(args.tries * 10)}
    with production_server("booking", limits) as server:
        print(f"booking stampede, database: {server.kind}")
        asyncio.run(bench(server.base, args.tries, args.places, server.redis_url))


if __name__ == "__main__":
    main()
