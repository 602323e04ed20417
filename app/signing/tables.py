"""Signable documents and their signatures (docs/signing.md).

A ``Signature`` row is the evidence of one signing ceremony, kept so that it can be verified
again without trusting anything else in the database: the canonical document, the credential's
public key as it was at signing time (deleting the passkey later changes nothing), the
assertion exactly as the authenticator produced it, and the platform's seal over all of it.
Signatures are append-only: the table refuses updates and deletes in the app.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NoReturn

from piccolo.columns import (
    JSON,
    Boolean,
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


class DocumentKind(StrEnum):
    PLEDGE = "pledge"  # 承诺书
    DECLARATION = "declaration"  # 申报声明
    AUTHORISATION = "authorisation"  # 授权书 (data use)
    RECEIPT = "receipt"  # 签收单 (delivery receipt)


class SignableDocument(Table, tablename="signing_document"):
    """A document prepared for one signer; its canonical bytes are fixed when it is made."""

    id = Serial(primary_key=True)

    kind = Varchar(length=20, choices=DocumentKind, help_text="pledge, declaration, …")
    signer = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    title = Varchar(length=200)
    body = Text()
    references = JSON(default=[], help_text='What it is about: [{"type": …, "id": …}, …].')
    content = Text(help_text="The canonical bytes (UTF-8 JSON) that are hashed and signed.")
    sha256 = Varchar(length=64, index=True, help_text="SHA-256 of content, hex.")
    created_at = Timestamptz(default=TimestamptzNow())


class AppendOnly(Exception):
    """Signatures are evidence: never changed, never deleted."""


class Signature(Table, tablename="signing_signature"):
    """The evidence of one signing: enough to verify it again with nothing but this row."""

    id = Varchar(length=32, primary_key=True, help_text="Unguessable: it is in public links.")

    document = ForeignKey(
        SignableDocument, on_delete=OnDelete.restrict, unique=True, index=True, null=False
    )
    account = ForeignKey(Account, on_delete=OnDelete.restrict, index=True, null=False)
    signer_name_masked = Varchar(length=60, default="")
    signer_phone_masked = Varchar(length=20, default="")
    document_content = Text(help_text="Canonical document bytes as signed.")
    document_sha256 = Varchar(length=64)
    credential_id = Text(help_text="base64url credential id.")
    credential_public_key = Text(help_text="COSE public key at signing time, base64url.")
    authenticator_data = Text(help_text="base64url, as the authenticator produced it.")
    client_data_json = Text(help_text="base64url, as the browser produced it.")
    signature = Text(help_text="base64url assertion signature.")
    user_handle = Text(default="", help_text="base64url user handle, if the browser sent one.")
    challenge = Text(help_text="base64url: 16-byte nonce followed by the document's SHA-256.")
    user_present = Boolean()
    user_verified = Boolean()
    backup_eligible = Boolean()
    backed_up = Boolean()
    sign_count = Integer()
    rp_id = Varchar(length=253)
    origin = Varchar(length=300)
    signed_at = Timestamptz()
    client_hash = Varchar(length=64, help_text="Keyed hash of IP and user agent.")
    seal_public_key = Text(help_text="Ed25519 key of the platform's seal, base64url.")
    seal = Text(help_text="Ed25519 signature over the canonical bundle, base64url.")

    @classmethod
    def update(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("signatures are never changed")

    @classmethod
    def delete(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("signatures are never deleted")
