"""One way to run a transaction that reads and then writes.

Every such path — "is this credential new? then insert it", "how many codes today? then add
one", and every later domain's check-then-change — goes through ``write_transaction``:

- **SQLite** starts it with ``BEGIN IMMEDIATE``, which takes the database's write lock at the
  start. A plain (deferred) transaction reads under a shared lock and upgrades at its first
  write; if another connection wrote in between, the upgrade fails at once with "database is
  locked" and the busy timeout cannot help (SQLite docs, "Transaction", and its WAL notes).
- **PostgreSQL** runs at READ COMMITTED; the ``locks`` named by the caller are taken as
  transaction-scoped advisory locks (``pg_advisory_xact_lock``) in sorted order, so two
  transactions that need the same keys queue instead of both passing a check and never wait
  on each other in a cycle. Row-level rules should still use conditional updates or unique
  constraints; the advisory keys serialise checks that span rows (counts, limits).

Inside an outer transaction it joins that transaction (and still takes the locks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString


@asynccontextmanager
async def write_transaction(*locks: str) -> AsyncIterator[None]:
    from app.piccolo_conf import DB

    if isinstance(DB, SQLiteEngine):
        # BEGIN IMMEDIATE serialises every writer: the named locks add nothing on SQLite.
        async with DB.transaction(transaction_type=TransactionType.immediate):
            yield
        return
    async with DB.transaction():
        for key in sorted(set(locks)):
            await DB.run_querystring(QueryString("SELECT pg_advisory_xact_lock(hashtext({}))", key))
        yield
