"""The hash-chained audit trail: appends chain, tampering is found and the first broken entry
named, concurrent appends keep one chain, and ``tongban audit verify`` says so
(app/applications/audit.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from piccolo.querystring import QueryString

from app.applications.audit import (
    GENESIS,
    Appended,
    AuditError,
    append,
    entry_hash,
    verify_chain,
)
from app.applications.tables import AppendOnly, AuditEntry
from app.config import get_settings
from app.core.transactions import write_transaction
from app.signing.canonical import NotCanonical

ROOT = Path(__file__).resolve().parents[2]
TABLE = "applications_audit_entry"
SELECT_ONE = "SELECT {column} FROM {table} WHERE id = {}"
UPDATE_ONE = "UPDATE {table} SET {column} = {} WHERE id = {}"


COLUMNS = {column._meta.db_column_name for column in AuditEntry._meta.columns}


async def sql(template: str, *args: Any, column: str = "id") -> list[dict[str, Any]]:
    """Raw SQL on the audit table, ``{table}`` and ``{column}`` filled in from known names
    only, values as parameters."""
    from app.piccolo_conf import DB

    assert column in COLUMNS
    query = template.replace("{table}", TABLE).replace("{column}", column)
    rows: list[dict[str, Any]] = await DB.run_querystring(QueryString(query, *args))
    return rows


async def record(count: int = 3, **fields: Any) -> list[Appended]:
    """``count`` transitions of one new application, in order."""
    subject = uuid.uuid4().hex
    states = ["submitted", "accepted", "correcting", "accepted", "approved", "delivered"]
    made = []
    for i in range(count):
        made.append(
            await append(
                subject_type="application",
                subject_id=subject,
                action="application_transition",
                actor_id=fields.get("actor_id", 7),
                from_state=states[i % len(states)],
                to_state=states[(i + 1) % len(states)],
                reason=fields.get("reason", f"第{i + 1}步：材料齐全"),
                payload=fields.get("payload", {"step": i, "materials": ["身份证", "营业执照"]}),
            )
        )
    return made


@asynccontextmanager
async def tampered(entry_id: int, column: str, value: Any) -> AsyncIterator[None]:
    """Change one stored field with raw SQL, as someone with database access could, and put
    it back afterwards (the chain is shared by the whole test session)."""
    original = (await sql(SELECT_ONE, entry_id, column=column))[0][column]
    await sql(UPDATE_ONE, value, entry_id, column=column)
    try:
        yield
    finally:
        await sql(UPDATE_ONE, original, entry_id, column=column)


@pytest.fixture(autouse=True)
async def chain_intact_after() -> AsyncIterator[None]:
    """Every test leaves the shared chain as valid as it found it (tampering is undone)."""
    yield
    result = await verify_chain()
    assert result.ok, result


async def test_appends_link_each_entry_to_the_one_before() -> None:
    made = await record(3)
    rows = await AuditEntry.select().where(AuditEntry.id.is_in([m.id for m in made]))
    rows.sort(key=lambda row: row["seq"])
    assert [row["seq"] for row in rows] == [made[0].seq, made[0].seq + 1, made[0].seq + 2]
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[2]["prev_hash"] == rows[1]["hash"]
    first = (await AuditEntry.select().order_by(AuditEntry.seq).first()) or {}
    assert first["seq"] == 1 and first["prev_hash"] == GENESIS
    assert rows[0]["at"].tzinfo is not None and rows[0]["actor_id"] == 7
    assert rows[0]["reason"] == "第1步：材料齐全" and rows[0]["to_state"] == "accepted"
    for row in rows:
        assert row["hash"] == entry_hash({**row, "payload": json.loads(row["payload"])})
    result = await verify_chain()
    assert result.ok and result.first_broken_id is None
    assert result.checked == await AuditEntry.count()
    assert (
        result.head
        == (await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first() or {})[
            "hash"
        ]
    )


async def test_system_entries_have_no_actor() -> None:
    made = await append(
        subject_type="application",
        subject_id=42,
        action="application_deadline_overdue",
        reason="承诺时限已过",
    )
    row = await AuditEntry.select().where(AuditEntry.id == made.id).first()
    assert row is not None and row["actor_id"] is None and row["subject_id"] == "42"
    assert (await verify_chain()).ok


@pytest.mark.parametrize(
    ("column", "change"),
    [
        ("reason", lambda value: value + "（已改）"),
        ("to_state", lambda value: "approved"),
        ("from_state", lambda value: "rejected"),
        ("actor_id", lambda value: 8),
        ("subject_id", lambda value: "other"),
        ("at", lambda value: value + timedelta(seconds=1)),
        ("payload", lambda value: '{"materials":[],"step":0}'),
        ("seq", lambda value: value + 100000),
        ("prev_hash", lambda value: "f" * 64),
        ("hash", lambda value: "0" * 63 + "1"),
    ],
)
async def test_editing_any_stored_field_is_detected_and_named(column: str, change: Any) -> None:
    made = await record(3)
    target = made[1].id
    original = (await sql(SELECT_ONE, target, column=column))[0][column]
    async with tampered(target, column, change(original)):
        result = await verify_chain()
        assert not result.ok
        assert result.first_broken_id == target
        assert "hash does not match" in result.reason


async def test_the_first_of_two_broken_entries_is_named() -> None:
    made = await record(4)
    async with tampered(made[2].id, "reason", "后改的"), tampered(made[1].id, "to_state", "x"):
        result = await verify_chain(batch_size=1)
        assert (result.ok, result.first_broken_id) == (False, made[1].id)


async def test_a_rehashed_edit_shows_as_a_broken_link_at_the_next_entry() -> None:
    made = await record(3)
    row = (await AuditEntry.select().where(AuditEntry.id == made[1].id).first()) or {}
    forged = {**row, "reason": "伪造", "payload": json.loads(row["payload"])}
    async with (
        tampered(made[1].id, "reason", "伪造"),
        tampered(made[1].id, "hash", entry_hash(forged)),
    ):
        result = await verify_chain()
        assert result.first_broken_id == made[2].id
        assert result.reason == "its prev_hash is not the hash of the entry before it"


async def test_deleting_a_middle_entry_is_detected() -> None:
    made = await record(3)
    row = (await sql("SELECT * FROM {table} WHERE id = {}", made[1].id))[0]
    await sql("DELETE FROM {table} WHERE id = {}", made[1].id)
    try:
        result = await verify_chain()
        assert (result.ok, result.first_broken_id) == (False, made[2].id)
        assert "an entry is missing" in result.reason
    finally:
        # Put it back as it was, column by column.
        await sql("INSERT INTO {table} ({column}) VALUES ({})", row["id"], column="id")
        for column, value in row.items():
            await sql(UPDATE_ONE, value, row["id"], column=column)
    assert (await verify_chain()).ok


async def test_verify_streams_in_batches_with_the_same_answer() -> None:
    await record(5)
    whole, batched = await verify_chain(), await verify_chain(batch_size=2)
    assert whole == batched and whole.ok


def _append_in_another_thread(count: int, errors: list[BaseException]) -> None:
    """Appends from another thread with its own event loop and its own connections (another
    web process or the worker)."""

    async def run() -> None:
        for _ in range(count):
            await record(1, reason="另一线程")

    try:
        asyncio.run(run())
    except BaseException as exc:  # reported to the test below
        errors.append(exc)


async def test_concurrent_appends_keep_one_valid_chain() -> None:
    before = await AuditEntry.count()
    errors: list[BaseException] = []
    thread = threading.Thread(target=_append_in_another_thread, args=(8, errors))
    thread.start()
    try:
        await asyncio.gather(*(record(2) for _ in range(8)))
    finally:
        thread.join()
    assert not errors, errors
    assert await AuditEntry.count() == before + 8 * 2 + 8
    seqs = [row["seq"] for row in await AuditEntry.select(AuditEntry.seq).order_by(AuditEntry.id)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert (await verify_chain()).ok


async def test_an_entry_commits_and_rolls_back_with_the_callers_transaction() -> None:
    before = await AuditEntry.count()
    with pytest.raises(RuntimeError, match="decision failed"):
        async with write_transaction("application:1"):
            await record(1)
            raise RuntimeError("decision failed")
    assert await AuditEntry.count() == before
    async with write_transaction("application:1"):
        made = await record(1)
    assert await AuditEntry.exists().where(AuditEntry.id == made[0].id)
    assert (await verify_chain()).ok


@pytest.mark.skipif(not get_settings().is_sqlite, reason="deferred transactions are SQLite's")
async def test_append_refuses_a_deferred_sqlite_transaction() -> None:
    from app.piccolo_conf import DB

    with pytest.raises(AuditError, match="write_transaction"):
        async with DB.transaction():
            await record(1)


async def test_the_table_refuses_updates_and_deletes_and_payloads_without_canonical_form() -> None:
    with pytest.raises(AppendOnly):
        AuditEntry.update({AuditEntry.reason: "x"})
    with pytest.raises(AppendOnly):
        AuditEntry.delete()
    with pytest.raises(NotCanonical):
        await record(1, payload={"fee": 1.5})
    with pytest.raises(AuditError, match="timezone"):
        await append(
            subject_type="application",
            subject_id=1,
            action="application_transition",
            at=datetime(2026, 1, 1),  # naive on purpose
        )
    assert (await verify_chain()).ok


def run_cli() -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the test database and Redis
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_exits_0_when_intact_and_1_naming_the_entry_after_tampering() -> None:
    made = await record(3)
    result = run_cli()
    count = await AuditEntry.count()
    head = (await AuditEntry.select().order_by(AuditEntry.seq, ascending=False).first() or {})[
        "hash"
    ]
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"audit chain intact: {count} entries, head {head}\n"
    at = datetime.now(UTC) - timedelta(days=3)
    async with tampered(made[1].id, "at", at):
        result = run_cli()
        assert result.returncode == 1, result.stderr
        # The last line: the warning logged on the way may come before it.
        assert result.stdout.splitlines()[-1] == (
            f"audit chain broken at entry {made[1].id}: its hash does not match its contents"
        )
        assert "Traceback" not in result.stderr
    assert run_cli().returncode == 0
