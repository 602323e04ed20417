"""The append-only, hash-chained audit trail of applications (docs/applications.md).

Every transition records who, when, why, from and to as an ``AuditEntry``. There is one chain
for the whole platform: each entry's ``hash`` is the SHA-256 of its canonical form
(``app.signing.canonical``), which includes ``prev_hash``, the hash of the entry before it. An
entry changed, removed or inserted after the fact breaks the chain at that point, and
``verify_chain`` (``tongban audit verify``) names the first entry where it breaks.

Appends are serialised: ``append`` reads the head of the chain and inserts the next entry in
one ``write_transaction("audit")``. Called inside a caller's own ``write_transaction`` it joins
it (app/core/transactions.py), so the transition and its entry commit or roll back together;
on PostgreSQL the "audit" advisory lock is then held until that transaction ends, so append
last, just before commit, and take no other advisory lock after it. Inside a plain
``DB.transaction()`` on SQLite it refuses to run: a deferred transaction that reads the head
and then writes can fail with "database is locked" however long the busy timeout.

What is safe to log: entry ids, seq numbers and hashes. Reasons and payloads may hold
personal data; they stay in the table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from app.applications.tables import AuditEntry
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.signing.canonical import canonical_bytes

log = get_logger("audit")

GENESIS = "0" * 64  # the prev_hash of the first entry
FORMAT = 1  # version of the hashed form below; a new form would hash "v": 2


class AuditError(RuntimeError):
    """The trail cannot be appended to as asked (a programming error, not bad input)."""


def timestamp(at: datetime) -> str:
    """``at`` in UTC, always with microseconds: ``2026-11-24T09:31:05.123456Z``."""
    if at.tzinfo is None:
        raise AuditError("audit timestamps must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical form of one entry, ``prev_hash`` included."""
    hashed = {
        "v": FORMAT,
        "seq": fields["seq"],
        "subject_type": fields["subject_type"],
        "subject_id": fields["subject_id"],
        "actor_id": fields["actor_id"],
        "action": fields["action"],
        "from_state": fields["from_state"],
        "to_state": fields["to_state"],
        "reason": fields["reason"],
        "at": timestamp(fields["at"]),
        "payload": fields["payload"],
        "prev_hash": fields["prev_hash"],
    }
    return hashlib.sha256(canonical_bytes(hashed)).hexdigest()


@dataclass(frozen=True, slots=True)
class Appended:
    id: int
    seq: int
    hash: str


async def append(
    *,
    subject_type: str,
    subject_id: str | int,
    action: str,
    actor_id: int | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Appended:
    """Write the next entry of the chain; see the module docstring for transactions."""
    from app.piccolo_conf import DB

    outer = DB.current_transaction.get()
    if (
        isinstance(DB, SQLiteEngine)
        and outer is not None
        and outer.transaction_type is not TransactionType.immediate
    ):
        raise AuditError("append the audit trail inside write_transaction, not DB.transaction")
    if at is not None and at.tzinfo is None:
        raise AuditError("audit timestamps must be timezone-aware")
    payload = payload or {}
    payload_json = canonical_bytes(payload).decode("utf-8")  # refuses floats and the like
    fields: dict[str, Any] = {
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "actor_id": actor_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "at": (at or datetime.now(UTC)).astimezone(UTC),
        "payload": json.loads(payload_json),
    }
    async with write_transaction("audit"):
        head = (
            await AuditEntry.select(AuditEntry.seq, AuditEntry.hash)
            .order_by(AuditEntry.seq, ascending=False)
            .first()
        )
        fields["seq"] = head["seq"] + 1 if head else 1
        fields["prev_hash"] = head["hash"] if head else GENESIS
        digest = entry_hash(fields)
        rows = await AuditEntry.insert(
            AuditEntry(**{**fields, "payload": payload_json, "hash": digest})
        )
    appended = Appended(id=rows[0]["id"], seq=fields["seq"], hash=digest)
    log.info("audit_append_success", entry_id=appended.id, seq=appended.seq, action=action)
    return appended


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # entries read, up to and including the first broken one
    first_broken_id: int | None = None
    reason: str = ""
    head: str = GENESIS  # hash of the last intact entry: publish it to anchor the chain


def _broken(row: dict[str, Any], expected_seq: int, prev_hash: str) -> str | None:
    """Why this row does not continue the chain, or None when it does."""
    try:
        payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        computed = entry_hash({**row, "payload": payload})
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"unreadable entry ({exc})"
    if computed != row["hash"]:
        return "its hash does not match its contents"
    if row["seq"] != expected_seq:
        return f"seq {row['seq']} where {expected_seq} was expected (an entry is missing)"
    if row["prev_hash"] != prev_hash:
        return "its prev_hash is not the hash of the entry before it"
    return None


async def verify_chain(batch_size: int = 500) -> VerifyResult:
    """Walk the whole chain in id order, ``batch_size`` entries at a time, and stop at the
    first entry that breaks it."""
    checked, last_id, expected_seq, prev_hash = 0, 0, 1, GENESIS
    while True:
        rows = (
            await AuditEntry.select()
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch_size)
        )
        if not rows:
            return VerifyResult(ok=True, checked=checked, head=prev_hash)
        for row in rows:
            checked += 1
            reason = _broken(row, expected_seq, prev_hash)
            if reason is not None:
                log.warning("audit_verify_broken", entry_id=row["id"], seq=row["seq"])
                return VerifyResult(
                    ok=False,
                    checked=checked,
                    first_broken_id=row["id"],
                    reason=reason,
                    head=prev_hash,
                )
            expected_seq, prev_hash, last_id = row["seq"] + 1, row["hash"], row["id"]
