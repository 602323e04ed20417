"""Tables of applications (办件). For now the audit trail (app/applications/audit.py); the
application itself comes next and writes every transition here."""

from __future__ import annotations

from typing import Any, NoReturn

from piccolo.columns import JSON, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class AppendOnly(Exception):
    """Audit entries are evidence: never changed, never deleted."""


class AuditEntry(Table, tablename="applications_audit_entry"):
    """One recorded event in the single hash chain of the audit trail (docs/applications.md).

    ``hash`` is the SHA-256 of the entry's canonical form, which includes ``prev_hash``, the
    hash of the entry before it; ``seq`` numbers the chain without gaps from 1.
    """

    id = Serial(primary_key=True)

    seq = Integer(unique=True, help_text="Position in the chain, 1, 2, 3, … without gaps.")
    subject_type = Varchar(length=40, help_text='What the entry is about, e.g. "application".')
    subject_id = Varchar(length=64, index=True, help_text="Its id, as text.")
    # Not a foreign key: the trail must outlive an account and never block its removal.
    actor_id = Integer(
        null=True, default=None, help_text="Account that acted; NULL for the system."
    )
    action = Varchar(length=80, help_text="<thing>_<action>, e.g. application_accept.")
    from_state = Varchar(length=40, default="")
    to_state = Varchar(length=40, default="")
    reason = Text(default="", help_text="Why, in the actor's words or the rule's name.")
    at = Timestamptz(help_text="When, UTC, to the microsecond.")
    payload = JSON(default={}, help_text="Further facts, canonical JSON (no floats).")
    prev_hash = Varchar(length=64, help_text="hash of the previous entry; 64 zeros for the first.")
    hash = Varchar(length=64, unique=True, help_text="SHA-256 of the canonical entry, hex.")

    @classmethod
    def update(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("audit entries are never changed")

    @classmethod
    def delete(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("audit entries are never deleted")
