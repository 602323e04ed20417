"""How fast the officer inbox, a citizen's list and a tracking lookup answer on a big table.

Fills a database of its own with ``--applications`` applications (1,000,000 on PostgreSQL,
100,000 on SQLite by default) and their cases, straight into the tables with bulk inserts
(COPY on PostgreSQL, executemany on SQLite): this is data to measure with, not made through
the rules. They are spread over the 12 departments of the catalogue and ``--citizens``
applicants, created over three years, in states as a mature platform has them (most issued,
a few percent in each running state, some bundles with a case per department). Then it times
``--repeat`` runs each of:

- the first inbox page of a department (``app.applications.inbox.inbox``);
- a deep page: ``after`` the id the officer reaches after walking 500 pages, and one near the
  end of the department's cases;
- the inbox filtered by state (in review) and by deadline (overdue);
- a citizen's list (``service.applications_of``) and a tracking lookup
  (``service.application_by_code``);

and prints p50 and p95 in milliseconds. Run it on an empty database; it is dropped and
filled anew on PostgreSQL (the database name must contain "bench"):

    python -m bench.inbox                              # SQLite, a temporary file
    TONGBAN_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tongban_bench_inbox \\
        python -m bench.inbox
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PG_DEFAULT, SQLITE_DEFAULT = 1_000_000, 100_000
BATCH = 20_000
PAGE = 20
DEEP_PAGES = 500
BUNDLE_SHARE = 0.03  # applications for a bundle: one case in each of 3 departments
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TODAY = NOW.date()

# Where cases stand on a platform that has run for years: (state, weight in ‰).
STATES: tuple[tuple[str, int], ...] = (
    ("draft", 30),
    ("submitted", 25),
    ("pre_review", 15),
    ("correction", 15),
    ("resubmitted", 5),
    ("accepted", 20),
    ("in_review", 50),
    ("issued", 730),
    ("rejected", 60),
    ("withdrawn", 50),
)
RUNNING = {"accepted", "in_review", "resubmitted"}
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _environment() -> str:
    url = os.environ.get("TONGBAN_BENCH_DATABASE_URL")
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="tongban-bench-inbox-"))
        url = f"sqlite:///{folder / 'inbox.sqlite3'}"
        os.environ.setdefault("TONGBAN_VAR_DIR", str(folder))
    elif "bench" not in urlsplit(url).path:
        raise SystemExit("refusing to fill a database whose name does not contain 'bench'")
    os.environ.update(
        {
            "TONGBAN_DATABASE_URL": url,
            "TONGBAN_LOG_LEVEL": "warning",
            "TONGBAN_DATABASE_POOL_MAX": "4",
            "TONGBAN_REDIS_URL": os.environ.get("TONGBAN_REDIS_URL", "redis://127.0.0.1:6379/15"),
        }
    )
    os.environ.setdefault("TONGBAN_SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")
    return url


# ---------------------------------------------------------------- the data


def _code(rng: random.Random, year: int, seen: set[str]) -> str:
    while True:
        code = f"{year}" + "".join(rng.choices(CODE_ALPHABET, k=8))
        if code not in seen:
            seen.add(code)
            return code


def _rows(
    applications: int,
    citizens: Sequence[int],
    items: dict[int, list[dict[str, Any]]],
    first_application_id: int,
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of (application rows, case rows), oldest first, so ids grow with time."""
    rng = random.Random(20261124)
    states = [state for state, _ in STATES]
    weights = [weight for _, weight in STATES]
    departments = sorted(items)
    seen: set[str] = set()
    span = timedelta(days=3 * 365)
    app_rows: list[tuple[Any, ...]] = []
    case_rows: list[tuple[Any, ...]] = []
    for n in range(applications):
        application_id = first_application_id + n
        created = NOW - span + span * (n / applications)
        state = rng.choices(states, weights)[0]
        if created < NOW - timedelta(days=60) and state not in ("issued", "rejected", "withdrawn"):
            state = rng.choices(("issued", "rejected", "withdrawn"), (85, 9, 6))[0]
        bundle = rng.random() < BUNDLE_SHARE
        chosen = rng.sample(departments, 3) if bundle else [rng.choice(departments)]
        submitted = None if state == "draft" else created + timedelta(minutes=rng.randint(5, 600))
        first_item = rng.choice(items[chosen[0]])
        app_rows.append(
            (
                application_id,
                _code(rng, created.year, seen),
                rng.choice(citizens),
                "" if bundle else first_item["code"],
                "open-restaurant" if bundle else "",
                first_item["name_zh"][:150],
                first_item["name_en"][:250],
                state,
                1,
                (created + timedelta(days=90)).date(),
                created,
                submitted,
                created,
            )
        )
        for department in chosen:
            item = rng.choice(items[department])
            case_rows.append(_case(rng, application_id, department, item, state, created))
        if len(app_rows) >= BATCH:
            yield app_rows, case_rows
            app_rows, case_rows = [], []
    if app_rows:
        yield app_rows, case_rows


def _case(
    rng: random.Random,
    application_id: int,
    department: int,
    item: dict[str, Any],
    state: str,
    created: datetime,
) -> tuple[Any, ...]:
    accepted = (
        state in RUNNING or state in ("issued",) or (state == "rejected" and rng.random() < 0.5)
    )
    accepted_on = (created + timedelta(days=rng.randint(0, 3))).date() if accepted else None
    clock = promised = legal = None
    due_soon = overdue = False
    if accepted_on is not None:
        clock = json.dumps(
            {"started_on": accepted_on.isoformat(), "budget": item["promised_days"], "pauses": []}
        )
        # Calendar days stand in for working days here: this is data to measure with.
        promised = accepted_on + timedelta(days=item["promised_days"] * 7 // 5 + 1)
        legal = accepted_on + timedelta(days=item["legal_days"] * 7 // 5 + 1)
        if state in RUNNING:
            overdue = promised < TODAY
            due_soon = not overdue and (promised - TODAY).days <= 3
    decided = (
        created + timedelta(days=rng.randint(1, 20)) if state in ("issued", "rejected") else None
    )
    return (
        application_id,
        department,
        json.dumps([item["code"]]),
        item["name_zh"][:150],
        item["name_en"][:250],
        state,
        "complete" if accepted_on else "",
        2,
        item["promised_days"],
        item["legal_days"],
        accepted_on,
        clock,
        promised,
        legal,
        due_soon,
        overdue,
        decided,
        created,
    )


APPLICATION_COLUMNS = (
    "id",
    "code",
    "applicant",
    "item_code",
    "bundle_code",
    "title_zh",
    "title_en",
    "state",
    "version",
    "keep_until",
    "created_at",
    "submitted_at",
    "updated_at",
)
CASE_COLUMNS = (
    "application",
    "department",
    "items",
    "title_zh",
    "title_en",
    "state",
    "mode",
    "version",
    "promised_days",
    "legal_days",
    "accepted_on",
    "clock",
    "promised_due",
    "legal_due",
    "due_soon",
    "overdue",
    "decided_at",
    "updated_at",
)


def _citizen_rows(count: int, first_id: int) -> list[tuple[Any, ...]]:
    return [
        (first_id + n, f"+86136{n:08d}", "citizen", f"居民{n}", f"bench-{n:08d}")
        for n in range(count)
    ]


CITIZEN_COLUMNS = ("id", "phone", "role", "name", "webauthn_user_id")


async def _catalogue() -> dict[int, list[dict[str, Any]]]:
    from app.catalogue.tables import ServiceItem

    rows = await ServiceItem.select(
        ServiceItem.code,
        ServiceItem.name_zh,
        ServiceItem.name_en,
        ServiceItem.department,
        ServiceItem.promised_days,
        ServiceItem.legal_days,
    )
    items: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        items.setdefault(int(row["department"]), []).append(row)
    return items


async def _next_id(table: Any) -> int:
    row = await table.select(table.id).order_by(table.id, ascending=False).first()
    return int(row["id"]) + 1 if row else 1


async def fill(url: str, applications: int, citizens: int) -> float:
    """Bulk-insert the citizens, applications and cases; return the seconds it took."""
    from app.accounts.tables import Account
    from app.applications.tables import Application

    items = await _catalogue()
    started = time.perf_counter()
    first_citizen = await _next_id(Account)
    citizen_rows = _citizen_rows(citizens, first_citizen)
    citizen_ids = [row[0] for row in citizen_rows]
    batches = _rows(applications, citizen_ids, items, await _next_id(Application))
    if url.startswith("sqlite"):
        path = urlsplit(url).path
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            _sqlite_insert(connection, "accounts_account", CITIZEN_COLUMNS, citizen_rows)
            for app_rows, case_rows in batches:
                _sqlite_insert(
                    connection, "applications_application", APPLICATION_COLUMNS, app_rows
                )
                _sqlite_insert(connection, "applications_case", CASE_COLUMNS, case_rows)
            connection.execute("ANALYZE")
    else:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            await connection.copy_records_to_table(
                "accounts_account", records=citizen_rows, columns=CITIZEN_COLUMNS
            )
            for app_rows, case_rows in batches:
                await connection.copy_records_to_table(
                    "applications_application", records=app_rows, columns=APPLICATION_COLUMNS
                )
                await connection.copy_records_to_table(
                    "applications_case", records=case_rows, columns=CASE_COLUMNS
                )
            # COPY with explicit ids leaves the sequences behind; later inserts need them.
            await connection.execute(
                "SELECT setval(pg_get_serial_sequence('accounts_account', 'id'), "
                "(SELECT max(id) FROM accounts_account))"
            )
            await connection.execute(
                "SELECT setval(pg_get_serial_sequence('applications_application', 'id'), "
                "(SELECT max(id) FROM applications_application))"
            )
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
    return time.perf_counter() - started


def _sqlite_insert(
    connection: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
) -> None:
    names = ", ".join(f'"{column}"' for column in columns)
    marks = ", ".join("?" for _ in columns)
    # Table and column names are this module's constants, never input.
    query = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'  # noqa: S608
    connection.executemany(query, rows)


# ---------------------------------------------------------------- the timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _time(runs: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    await call(0)  # warm: the first run pays for connections and statement caches
    timings = []
    for n in range(runs):
        started = time.perf_counter()
        await call(n)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _page_after(department: int, pages: int) -> int | None:
    """The ``after`` an officer holds after walking ``pages`` pages of the default view (the
    last id of page ``pages``), found in one query."""
    from app.applications.tables import Case, State

    row = (
        await Case.select(Case.id)
        .where(Case.department == department, Case.state != State.DRAFT)
        .order_by(Case.id, ascending=False)
        .offset(pages * PAGE - 1)
        .first()
    )
    return int(row["id"]) if row else None


async def measure(repeat: int) -> list[tuple[str, list[float], str]]:
    from app.applications import service
    from app.applications.inbox import inbox  # the officer's inbox, as its page calls it
    from app.applications.tables import Application, Case
    from app.catalogue.tables import Department

    departments = [int(row["id"]) for row in await Department.select(Department.id)]
    rng = random.Random(7)

    # One officer's walk of 500 pages (fewer when a department has less than twice that),
    # page after page; the other departments' next page is found directly (the same id, which
    # the walk checks).
    smallest = min(
        [
            await Case.count().where(Case.department == department, Case.state != "draft")
            for department in departments
        ]
    )
    pages = max(1, min(DEEP_PAGES, smallest // PAGE // 2))
    walked, after = departments[0], None
    walk_started = time.perf_counter()
    for _ in range(pages):
        page = await inbox(walked, after=after)
        after = page.next_after
    walk = (time.perf_counter() - walk_started) * 1000 / pages
    deep = {department: await _page_after(department, pages) for department in departments}
    assert deep[walked] == after, "the walk and the offset disagree on page 500's last id"
    last = {}
    for department in departments:
        oldest = (
            await Case.select(Case.id)
            .where(Case.department == department)
            .order_by(Case.id)
            .offset(PAGE * 3)
            .first()
        )
        last[department] = int(oldest["id"]) if oldest else None

    count = await Application.count()
    sample = await Application.select(Application.applicant, Application.code).where(
        Application.id.is_in([rng.randint(1, count) for _ in range(repeat)])
    )
    applicants = [int(row["applicant"]) for row in sample]
    codes = [row["code"] for row in sample]

    def dept(n: int) -> int:
        return departments[n % len(departments)]

    return [
        ("inbox, first page", await _time(repeat, lambda n: inbox(dept(n))), ""),
        (
            f"inbox, page {pages + 1}",
            await _time(repeat, lambda n: inbox(dept(n), after=deep[dept(n)])),
            f"(the walk there: {walk:.1f} ms a page)",
        ),
        (
            "inbox, near the end",
            await _time(repeat, lambda n: inbox(dept(n), after=last[dept(n)])),
            "",
        ),
        ("inbox, in review", await _time(repeat, lambda n: inbox(dept(n), state="in_review")), ""),
        ("inbox, overdue", await _time(repeat, lambda n: inbox(dept(n), due="overdue")), ""),
        (
            "citizen's list",
            await _time(repeat, lambda n: service.applications_of(applicants[n % len(applicants)])),
            "",
        ),
        (
            "tracking lookup",
            await _time(repeat, lambda n: service.application_by_code(codes[n % len(codes)])),
            "",
        ),
    ]


async def _run(url: str, applications: int, citizens: int, repeat: int) -> None:
    from app.applications.tables import Application, Case
    from app.config import get_settings
    from app.core.database import close_pool, migrate, open_pool
    from app.core.logging import configure_logging
    from app.seed import seed_all

    configure_logging(get_settings().log_level, get_settings().log_format)

    if not url.startswith("sqlite"):
        await _reset_postgres()
    await migrate()
    await seed_all()  # departments and the catalogue; a few demo applications too
    seconds = await fill(url, applications, citizens)
    await open_pool()
    try:
        cases = await Case.count()
        total = await Application.count()
        engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(
            f"inbox: {engine}, {total:,} applications, {cases:,} cases, {citizens:,} citizens; "
            f"filled in {seconds:.0f} s"
        )
        print(f"  {'query':<22} {'p50 ms':>8} {'p95 ms':>8}  ({repeat} runs each)")
        for name, timings, note in await measure(repeat):
            print(
                f"  {name:<22} {percentile(timings, 0.5):>8.2f} {percentile(timings, 0.95):>8.2f}"
                + (f"  {note}" if note else "")
            )
        await _daily_job()
    finally:
        await close_pool()


async def _daily_job() -> None:
    """One run of the 07:00 job over every running case (app/applications/tasks.py)."""
    from app.applications.tasks import daily_deadlines
    from app.config import get_settings
    from app.core.redis import make_client, resolve_redis_url

    redis = make_client(resolve_redis_url(get_settings()))
    try:
        started = time.perf_counter()
        done = await daily_deadlines({"redis": redis})
        seconds = time.perf_counter() - started
    finally:
        await redis.aclose()
    running = done["running"]
    print(
        f"  daily_deadlines: {seconds:.1f} s for {running:,} running cases "
        f"({done['updated']:,} updated, {done['cleared']:,} cleared)"
    )


async def _reset_postgres() -> None:
    from app.piccolo_conf import DB

    await DB.run_ddl("DROP SCHEMA IF EXISTS public CASCADE")
    await DB.run_ddl("CREATE SCHEMA public")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=None, help="how many to generate")
    parser.add_argument("--citizens", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query")
    args = parser.parse_args()
    url = _environment()
    applications = args.applications or (SQLITE_DEFAULT if url.startswith("sqlite") else PG_DEFAULT)
    asyncio.run(_run(url, applications, args.citizens, args.repeat))


if __name__ == "__main__":
    main()
