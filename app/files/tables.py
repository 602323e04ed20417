"""Uploaded files: one row per stored object (docs/files.md).

The storage key is random (``service.new_key``), never derived from the file name, so a name
can neither climb out of the storage root nor be guessed from the key. The original name is
kept, cleaned, only to offer it back in ``Content-Disposition``.
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import JSON, BigInt, ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account


class CheckStatus(StrEnum):
    PENDING = "pending"  # waiting for the worker's check (app/files/tasks.py)
    PASSED = "passed"
    FAILED = "failed"


class StoredFile(Table, tablename="files_stored_file"):
    id = Serial(primary_key=True)
    owner = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    storage_key = Varchar(length=80, unique=True, help_text="Random key in the storage.")
    original_name = Varchar(
        length=200, help_text="The uploader's file name, cleaned, for Content-Disposition."
    )
    content_type = Varchar(length=50, help_text="Decided from the content, not the name.")
    size = BigInt(help_text="Bytes as stored (after the image check: the clean image).")
    sha256 = Varchar(length=64, help_text="SHA-256 of the stored bytes, hex.")
    purpose = Varchar(length=100, default="", help_text="Free label, e.g. the checklist item.")
    check_status = Varchar(length=10, choices=CheckStatus, default=CheckStatus.PENDING)
    check_result = JSON(
        default={},
        help_text='{"reasons": [{"zh": …, "en": …}], "width", "height", "metadata_removed", …}',
    )
    created_at = Timestamptz(default=TimestamptzNow())
