"""SQLite with connections kept for the life of the process.

Piccolo's ``SQLiteEngine`` opens a new aiosqlite connection — a new thread, a new file handle,
the schema read again — for every statement outside a transaction; on a page view that was
more than half of the CPU time. ``ReusingSQLiteEngine`` keeps two connections per process
instead, each used by one thread of its own:

- the **reader** runs statements that begin with ``SELECT``. In WAL mode readers never wait
  for a writer, so page views keep flowing while a write waits for the lock;
- the **writer** runs everything else outside a transaction (INSERT, UPDATE, DELETE, DDL,
  PRAGMA). SQLite lets one connection write at a time anyway, so one writer per process
  loses nothing; a write that waits for the lock (busy timeout) delays only other writes.

Both connections are in autocommit mode (``isolation_level=None``, as Piccolo sets it), so
each statement is its own transaction and sees every commit made before it started.
Transactions (``DB.transaction()``, ``app/core/transactions.py``) are unchanged: each opens
its own connection, and statements inside one run there.

The connections belong to the process that opened them: after a fork the child opens its own
(SQLite forbids carrying a connection across ``fork()``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, dict_factory


class _Lane:
    """One sqlite3 connection and the single thread that uses it."""

    def __init__(self, connection_kwargs: dict[str, Any], name: str) -> None:
        self._kwargs = connection_kwargs
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    def _execute(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        if self._connection is None:
            connection = sqlite3.connect(**self._kwargs)
            connection.row_factory = dict_factory
            connection.execute("PRAGMA foreign_keys = 1")
            self._connection = connection
        cursor = self._connection.execute(query, args)
        try:
            rows: list[dict[str, Any]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    async def run(self, query: str, args: list[Any]) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._execute, query, args)

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        await asyncio.wrap_future(self._executor.submit(self._close_connection))
        self._executor.shutdown(wait=False)


class ReusingSQLiteEngine(SQLiteEngine):
    """``SQLiteEngine`` whose statements outside transactions reuse two per-process
    connections (see the module docstring)."""

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._lanes: tuple[_Lane, _Lane] | None = None
        self._lanes_pid = 0

    def _get_lanes(self) -> tuple[_Lane, _Lane]:
        if self._lanes is None or self._lanes_pid != os.getpid():
            # After fork(): abandon the parent's connections unclosed, open our own.
            self._lanes = (
                _Lane(self.connection_kwargs, "sqlite-reader"),
                _Lane(self.connection_kwargs, "sqlite-writer"),
            )
            self._lanes_pid = os.getpid()
        return self._lanes

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        if query_type == "insert" and self.get_version_sync() < 3.35:
            # No RETURNING before SQLite 3.35: Piccolo reads the new key on the same cursor.
            return await super()._run_in_new_connection(query, args, query_type, table)
        reader, writer = self._get_lanes()
        lane = reader if query.lstrip()[:6].upper() == "SELECT" else writer
        return await lane.run(query, args or [])

    async def close_connections(self) -> None:
        """Close this process's connections (app shutdown); the next statement reopens them."""
        lanes, self._lanes = self._lanes, None
        if lanes is not None and self._lanes_pid == os.getpid():
            for lane in lanes:
                await lane.close()
