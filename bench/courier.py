"""How fast shipment events go in: the courier app's endpoint and the courier companies' webhook.

Starts the production server configuration (``tongban serve``: granian, one worker,
TONGBAN_ENV=prod, JSON logs at info level) on a temporary SQLite file (or
TONGBAN_BENCH_DATABASE_URL) and an embedded Redis, as bench/pages.py does. Then, over HTTP:

- **courier app**: a courier signed in with a passkey (the tests' software authenticator)
  posts events to ``POST /courier/jobs/{id}/events`` with an idempotency key each, as the
  service worker's replay does (x-csrftoken header, JSON answer): a failed attempt and a new
  attempt in turn on each of its jobs; then the same events again (replays: ``duplicate``);
- **webhook**: a courier company posts signed events (HMAC-SHA256 over timestamp and body) to
  ``POST /api/v1/courier/events``: pick-up and departure of each of its shipments.

Each of ``--concurrency`` clients works on shipments of its own (a shipment's events are
sequential by nature). Prints events per second and p50/p95 latency as seen by the client.

    python -m bench.courier [--events 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
import uuid
from typing import Any

import httpx

from bench.pages import _cookie_header, _cookies_from
from bench.server import production_server

COURIER_PHONE = "13700099001"
COMPANY = "bench"
SECRET = "bench-courier-company-secret-0123456789abcdef"  # noqa: S105 (a bench value)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _csrf(text: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', text)
    assert found, "no CSRF field"
    return found.group(1)


async def _outbox_code(phone: str) -> str:
    from app.notifications.tables import Notification

    row = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == f"+86{phone}", Notification.kind == "sms_code")
        .order_by(Notification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return str(row["params"]["code"])


async def _courier_session(base: str, origin: str) -> tuple[dict[str, str], str, int]:
    """A courier signed in by SMS who adds a passkey, then signs in with it: the cookies, the
    CSRF token and the account id."""
    from app.accounts.services import create_account
    from app.accounts.tables import Role
    from tests.fixtures.soft_authenticator import SoftAuthenticator

    courier = await create_account(f"+86{COURIER_PHONE}", Role.COURIER, name="压测快递")
    jar: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, headers={"Origin": origin}) as client:

        async def get(path: str) -> httpx.Response:
            response = await client.get(path, headers={"Cookie": _cookie_header(jar)})
            _cookies_from(response, jar)
            return response

        async def post(path: str, **options: Any) -> httpx.Response:
            headers = {"Cookie": _cookie_header(jar), **options.pop("headers", {})}
            response = await client.post(path, headers=headers, **options)
            _cookies_from(response, jar)
            return response

        token = _csrf((await get("/signin")).text)
        await post("/signin/code", data={"phone": COURIER_PHONE, "_csrf_token": token})
        code = await _outbox_code(COURIER_PHONE)
        signed = await post(
            "/signin/verify",
            data={"phone": f"+86{COURIER_PHONE}", "code": code, "_csrf_token": token},
        )
        assert signed.status_code == 303, signed.status_code
        token = _csrf((await get("/account")).text)
        authenticator = SoftAuthenticator()
        started = (await post("/account/passkeys/options", headers={"x-csrftoken": token})).json()
        added = await post(
            "/account/passkeys/verify",
            json={
                "challenge_id": started["challenge_id"],
                "credential": authenticator.create(started["options"], origin),
                "name": "bench",
            },
            headers={"x-csrftoken": token},
        )
        assert added.status_code == 201, added.text
        jar.clear()
        token = _csrf((await get("/signin")).text)
        started = (await post("/signin/passkey/options", headers={"x-csrftoken": token})).json()
        done = await post(
            "/signin/passkey/verify",
            json={
                "challenge_id": started["challenge_id"],
                "credential": authenticator.get(started["options"], origin),
            },
            headers={"x-csrftoken": token},
        )
        assert done.status_code == 201, done.text
        token = _csrf((await get("/courier")).text)
    return jar, token, int(courier.id)


async def _shipments(count: int, courier_id: int | None, company: str) -> list[tuple[int, str]]:
    """``count`` assigned pickups of one demo application (made straight in the table: the
    bench measures events, not requests)."""
    from app.accounts.tables import Account
    from app.applications.tables import Application
    from app.courier.service import _unused_ref
    from app.courier.tables import Kind, Shipment, Status

    application = await Application.objects().order_by(Application.id).first()
    assert application is not None
    applicant = await Account.objects().where(Account.id == application.applicant).first()
    assert applicant is not None
    made = []
    for _ in range(count):
        shipment = Shipment(
            waybill=await _unused_ref(),
            application=application.id,
            applicant=applicant.id,
            kind=Kind.PICKUP,
            status=Status.ASSIGNED,
            courier=courier_id,
            company=company,
            district="huangpu",
            street="中山东一路 12 号",
            phone=applicant.phone,
            contact_name="压测",
        )
        await shipment.save()
        made.append((int(shipment.id), shipment.waybill))
    return made


def _report(name: str, timings: list[float], elapsed: float, statuses: dict[str, int]) -> None:
    ordered = sorted(timings)
    print(
        f"  {name:28} {len(timings) / elapsed:9.0f} {statistics.median(ordered) * 1e3:8.1f} "
        f"{_percentile(ordered, 0.95) * 1e3:8.1f}   {dict(sorted(statuses.items()))}",
        flush=True,
    )


async def _run(
    clients: list[list[tuple[str, dict[str, Any]]]],
    send: Any,
) -> tuple[list[float], float, dict[str, int]]:
    timings: list[float] = []
    statuses: dict[str, int] = {}

    async def worker(jobs: list[tuple[str, dict[str, Any]]], client: httpx.AsyncClient) -> None:
        for url, payload in jobs:
            began = time.perf_counter()
            response = await send(client, url, payload)
            timings.append(time.perf_counter() - began)
            key = str(response.status_code)
            if response.status_code == 200:
                key = response.json().get("status", key)
            statuses[key] = statuses.get(key, 0) + 1

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(jobs, client) for jobs in clients))
    return timings, time.perf_counter() - began, statuses


async def bench(base: str, origin: str, events: int, concurrency: int) -> None:
    from app.courier.api import sign

    jar, token, courier_id = await _courier_session(base, origin)
    per_client = max(events // concurrency, 2)
    # The courier app: each client alternates fail / reattempt on one job of its own.
    jobs = await _shipments(concurrency, courier_id, "")
    plans: list[list[tuple[str, dict[str, Any]]]] = []
    for shipment_id, _waybill in jobs:
        steps = []
        for n in range(per_client):
            action = "fail" if n % 2 == 0 else "reattempt"
            fields = {"key": str(uuid.uuid4()), "action": action}
            if action == "fail":
                fields["reason"] = "nobody"
            steps.append((f"{base}/courier/jobs/{shipment_id}/events", fields))
        plans.append(steps)
    headers = {
        "Cookie": _cookie_header(jar),
        "x-csrftoken": token,
        "Accept": "application/json",
        "Origin": origin,
    }

    async def app_send(client: httpx.AsyncClient, url: str, fields: dict[str, Any]) -> Any:
        return await client.post(url, data=fields, headers=headers)

    print(
        f"courier events over HTTP: tongban serve (granian, 1 worker, prod), "
        f"{concurrency} clients, {os.cpu_count()} cores"
    )
    print(f"  {'endpoint':28} {'events/s':>9} {'p50 ms':>8} {'p95 ms':>8}   answers")
    timings, elapsed, statuses = await _run(plans, app_send)
    _report("courier app (new events)", timings, elapsed, statuses)
    timings, elapsed, statuses = await _run(plans, app_send)
    _report("courier app (replays)", timings, elapsed, statuses)

    # The webhook: pick-up, then departure, of shipments assigned to the company.
    shipments = await _shipments(per_client // 2 * concurrency, None, COMPANY)
    plans = []
    for n in range(concurrency):
        mine = shipments[n::concurrency]
        steps = []
        for _id, waybill in mine:
            for action in ("pick_up", "depart"):
                body = {
                    "event_id": uuid.uuid4().hex,
                    "waybill": waybill,
                    "action": action,
                    "proof": "company" if action == "pick_up" else "",
                    "proof_reference": "POD" if action == "pick_up" else "",
                }
                steps.append((f"{base}/api/v1/courier/events", body))
        plans.append(steps)

    async def hook_send(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
        raw = json.dumps(body).encode()
        stamp = str(int(time.time()))
        return await client.post(
            url,
            content=raw,
            headers={
                "content-type": "application/json",
                "x-courier-company": COMPANY,
                "x-courier-timestamp": stamp,
                "x-courier-signature": sign(SECRET, stamp, raw),
            },
        )

    timings, elapsed, statuses = await _run(plans, hook_send)
    _report("webhook (signed, new events)", timings, elapsed, statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    limits = {
        "TONGBAN_SMS_PER_IP_HOUR": "100000",
        "TONGBAN_PASSKEY_OPTIONS_PER_MINUTE": "10000",
        "TONGBAN_COURIER_WEBHOOK_SECRETS": f"{COMPANY}={SECRET}",
    }
    with production_server("courier", limits) as server:
        print(f"database: {server.kind}")
        asyncio.run(bench(server.base, server.origin, args.events, args.concurrency))


if __name__ == "__main__":
    main()
