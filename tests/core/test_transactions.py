"""Read-then-write transactions under concurrent writers: no "database is locked" on SQLite,
no check that two transactions both pass on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime, timedelta

from piccolo.querystring import QueryString

from app.accounts.tables import Account, SmsChallenge
from app.core.transactions import write_transaction
from tests.accounts.helpers import sign_in
from tests.accounts.test_passkeys import register
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient
from tests.fixtures.soft_authenticator import SoftAuthenticator


def _keep_writing(stop: threading.Event, account_id: int, writes: list[int]) -> None:
    """Another connection, in another thread, committing small writes as fast as it can (a
    busy worker). A thread: the test client blocks this event loop while it serves a request."""
    from app.piccolo_conf import DB

    async def loop() -> None:
        while not stop.is_set():
            await DB.run_querystring(
                QueryString(
                    "UPDATE accounts_account SET last_signin_at = {} WHERE id = {}",
                    datetime.now(UTC),
                    account_id,
                )
            )
            writes.append(1)

    asyncio.run(loop())


async def test_passkey_registrations_succeed_while_another_connection_writes(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    account = await Account.objects().where(Account.phone == phone).first()
    assert account is not None
    stop, writes = threading.Event(), []
    writer = threading.Thread(target=_keep_writing, args=(stop, account.id, writes))
    writer.start()
    try:
        statuses = []
        for _ in range(9):
            # Each registration starts a new ceremony for a new authenticator.
            response = await register(client, SoftAuthenticator(), name="压力")
            statuses.append(response.status_code)
    finally:
        stop.set()
        writer.join()
    assert writes
    assert statuses == [201] * 9, statuses


async def test_check_then_insert_under_write_transaction_lets_one_through() -> None:
    _typed, phone = fresh_phone()
    now = datetime.now(UTC)

    async def insert_if_none() -> bool:
        async with write_transaction(f"test-phone:{phone}"):
            if await SmsChallenge.exists().where(SmsChallenge.phone == phone):
                return False
            await asyncio.sleep(0.01)  # widen the window between the check and the write
            await SmsChallenge.insert(
                SmsChallenge(
                    phone=phone,
                    code_hash="0" * 64,
                    ip_hash="0" * 64,
                    created_at=now,
                    expires_at=now + timedelta(minutes=5),
                )
            )
            return True

    results = await asyncio.gather(*(insert_if_none() for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert await SmsChallenge.count().where(SmsChallenge.phone == phone) == 1
    with contextlib.suppress(Exception):
        await SmsChallenge.delete().where(SmsChallenge.phone == phone)
