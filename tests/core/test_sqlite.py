"""The reused SQLite connections (app/core/sqlite.py) keep transactions and concurrent writes
correct: what a transaction has not committed is invisible outside it, a rollback leaves
nothing, and writes that queue behind a held lock all land."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from piccolo.engine.sqlite import TransactionType
from piccolo.querystring import QueryString

from app.core.sqlite import ReusingSQLiteEngine
from app.piccolo_conf import DB

pytestmark = pytest.mark.skipif(
    not isinstance(DB, ReusingSQLiteEngine), reason="SQLite engine only"
)


@pytest.fixture
async def probe() -> AsyncIterator[None]:
    await DB.run_ddl("CREATE TABLE test_sqlite_probe (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
    yield
    await DB.run_ddl("DROP TABLE test_sqlite_probe")


async def _labels() -> list[str]:
    rows = await DB.run_querystring(QueryString("SELECT label FROM test_sqlite_probe ORDER BY id"))
    return [row["label"] for row in rows]


async def _insert(label: str) -> Any:
    return await DB.run_querystring(
        QueryString("INSERT INTO test_sqlite_probe (label) VALUES ({}) RETURNING id", label)
    )


async def test_statements_outside_transactions_reuse_one_connection(probe: None) -> None:
    # cache_size is a per-connection setting: it survives only on the same connection.
    await DB.run_querystring(QueryString("PRAGMA cache_size = -4321"))
    rows = await DB.run_querystring(QueryString("PRAGMA cache_size"))
    assert rows == [{"cache_size": -4321}]


async def test_a_write_is_read_back_at_once(probe: None) -> None:
    inserted = await _insert("first")
    assert inserted and "id" in inserted[0]
    assert await _labels() == ["first"]


async def test_uncommitted_rows_are_invisible_outside_the_transaction(probe: None) -> None:
    async with DB.transaction():
        await _insert("inside")
        assert await _labels() == ["inside"]  # the transaction sees its own write
        seen_outside = await asyncio.create_task(_outside_read())
        assert seen_outside == []
    assert await _labels() == ["inside"]


async def _outside_read() -> list[str]:
    # A task started inside ``async with DB.transaction()`` inherits its context; reset it,
    # so this read runs where any other request's read would.
    DB.current_transaction.set(None)
    return await _labels()


async def test_a_rolled_back_transaction_leaves_nothing(probe: None) -> None:
    with pytest.raises(RuntimeError):
        async with DB.transaction():
            await _insert("doomed")
            raise RuntimeError("abort")
    assert await _labels() == []


async def test_reads_go_on_and_queued_writes_all_land_while_a_transaction_holds_the_lock(
    probe: None,
) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with DB.transaction(transaction_type=TransactionType.immediate):
            await _insert("held")
            held.set()
            await release.wait()

    holding = asyncio.create_task(holder())
    await held.wait()
    DB.current_transaction.set(None)
    writers = [asyncio.create_task(_insert(f"w{n}")) for n in range(20)]
    await asyncio.sleep(0)
    # The writers wait for the lock (busy timeout); a read must not queue behind them.
    assert await asyncio.wait_for(_labels(), timeout=5) == []
    assert not any(task.done() for task in writers)
    release.set()
    await holding
    await asyncio.gather(*writers)
    labels = await _labels()
    assert labels[0] == "held"
    assert sorted(labels[1:]) == sorted(f"w{n}" for n in range(20))


async def test_concurrent_writes_and_transactions_do_not_lose_rows(probe: None) -> None:
    async def in_transaction(n: int) -> None:
        async with DB.transaction(transaction_type=TransactionType.immediate):
            await _insert(f"t{n}")

    await asyncio.gather(
        *(_insert(f"p{n}") for n in range(30)), *(in_transaction(n) for n in range(10))
    )
    assert len(await _labels()) == 40


async def test_closed_connections_reopen_on_the_next_statement(probe: None) -> None:
    assert isinstance(DB, ReusingSQLiteEngine)
    await _insert("before")
    await DB.close_connections()
    await _insert("after")
    assert await _labels() == ["before", "after"]
