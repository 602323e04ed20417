"""Tables of remote identity verification (远程身份核验, docs/identity.md): one verification
per try, the images it holds, every image submitted (the retry limit counts them), and the
perceptual fingerprints that catch an image used twice."""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account
from app.files.tables import StoredFile
from app.licences.tables import Licence


class VerificationState(StrEnum):
    CAPTURING = "capturing"  # waiting for the citizen's images, or for a retake
    CHECKING = "checking"  # the worker is checking an image
    IN_REVIEW = "in_review"  # both images passed the checks: an officer decides
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"  # left unfinished past expires_at


OPEN = frozenset({VerificationState.CAPTURING, VerificationState.CHECKING})
DECIDED = frozenset({VerificationState.APPROVED, VerificationState.REJECTED})


class Method(StrEnum):
    REMOTE = "remote"  # selfie and document from the phone
    COUNTER = "counter"  # in person at a service centre counter


class DocumentSource(StrEnum):
    NONE = ""
    PHOTO = "photo"  # a photo of the identity card
    LICENCE = "licence"  # the ID card record of the licence library


class Verification(Table, tablename="identity_verification"):
    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    method = Varchar(length=10, choices=Method, default=Method.REMOTE)
    state = Varchar(length=12, choices=VerificationState, default=VerificationState.CAPTURING)
    challenge_kind = Varchar(length=10, default="", help_text="number or turn")
    challenge = Varchar(length=10, default="", help_text="e.g. 4821, or left / right / up")
    document_source = Varchar(length=10, choices=DocumentSource, default=DocumentSource.NONE)
    licence = ForeignKey(Licence, null=True, default=None, on_delete=OnDelete.set_null)
    selfie = ForeignKey(StoredFile, null=True, default=None, on_delete=OnDelete.set_null)
    document = ForeignKey(StoredFile, null=True, default=None, on_delete=OnDelete.set_null)
    selfie_report = JSON(null=True, default=None, help_text="checks.Report.as_json()")
    document_report = JSON(null=True, default=None)
    match = JSON(null=True, default=None, help_text="The face-match provider's answer.")
    next_path = Varchar(length=200, default="", help_text="Where the citizen goes back to.")
    expires_at = Timestamptz(help_text="An unfinished verification expires then.")
    reviewer = Integer(null=True, default=None, help_text="Officer who decided.")
    reason = Text(default="", help_text="The officer's reason, shown to the citizen.")
    decided_at = Timestamptz(null=True, default=None)
    images_purged_at = Timestamptz(null=True, default=None)
    version = Integer(default=0, help_text="Raised by every change; a stale decision loses.")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Attempt(Table, tablename="identity_attempt"):
    """One image submitted: the retry limit counts these per account."""

    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    verification = ForeignKey(Verification, on_delete=OnDelete.cascade)
    part = Varchar(length=10)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class Fingerprint(Table, tablename="identity_fingerprint"):
    """The perceptual hash of a checked image, in four indexed 16-bit bands: two images within
    a small Hamming distance share at least one band, so a lookup needs no full scan."""

    id = Serial(primary_key=True)

    verification = ForeignKey(Verification, on_delete=OnDelete.cascade, index=True)
    account = ForeignKey(Account, on_delete=OnDelete.cascade)
    part = Varchar(length=10)
    phash = Varchar(length=16)
    band0 = Integer(index=True)
    band1 = Integer(index=True)
    band2 = Integer(index=True)
    band3 = Integer(index=True)
    created_at = Timestamptz(default=TimestamptzNow())
