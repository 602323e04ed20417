from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account


class HolderKind(StrEnum):
    PERSON = "person"  # 自然人: the licence belongs to an account
    COMPANY = "company"  # 法人: the licence belongs to a company its representatives act for


class LicenceType(Table, tablename="licences_type"):
    """A kind of licence (证照类型), e.g. 居民身份证 or 营业执照."""

    id = Serial(primary_key=True)

    code = Varchar(
        length=40, unique=True, index=True, help_text="Stable code shared with the catalogue."
    )
    name_zh = Varchar(length=100, help_text="Name in Chinese.")
    name_en = Varchar(length=150, help_text="Name in English.")
    issuer_zh = Varchar(length=100, default="", help_text="Usual issuing authority, Chinese.")
    issuer_en = Varchar(length=150, default="", help_text="Usual issuing authority, English.")
    holder_kind = Varchar(
        length=10, choices=HolderKind, help_text="Who holds it: a person or a company."
    )
    fields = JSON(
        default=[],
        help_text='Data fields in order: [{"key": "...", "zh": "...", "en": "..."}].',
    )
    created_at = Timestamptz(default=TimestamptzNow())


class Company(Table, tablename="licences_company"):
    """A company (法人) that holds licences."""

    id = Serial(primary_key=True)

    name = Varchar(length=150, help_text="Registered name.")
    credit_code = Varchar(
        length=18,
        unique=True,
        index=True,
        help_text="Unified social credit code (统一社会信用代码, GB 32100-2015).",
    )
    created_at = Timestamptz(default=TimestamptzNow())


class Representative(Table, tablename="licences_representative"):
    """An account that may act for a company (法定代表人 or 经办人) and see its licences."""

    id = Serial(primary_key=True)

    company = ForeignKey(Company, on_delete=OnDelete.cascade, index=True)
    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    role = Varchar(
        length=20,
        default="legal_representative",
        help_text="legal_representative (法定代表人) or agent (经办人).",
    )
    created_at = Timestamptz(default=TimestamptzNow())


class Licence(Table, tablename="licences_licence"):
    """One licence held by a person (``holder_account``) or a company (``holder_company``)."""

    id = Serial(primary_key=True)

    licence_type = ForeignKey(LicenceType, on_delete=OnDelete.restrict, index=True)
    holder_account = ForeignKey(
        Account,
        null=True,
        on_delete=OnDelete.cascade,
        index=True,
        help_text="The person holding it, for person licences.",
    )
    holder_company = ForeignKey(
        Company,
        null=True,
        on_delete=OnDelete.cascade,
        index=True,
        help_text="The company holding it, for company licences.",
    )
    holder_name = Varchar(length=150, help_text="Name printed on the licence.")
    number_encrypted = Text(
        secret=True,
        help_text="Licence number, Fernet-encrypted (ID numbers among them); shown masked.",
    )
    issuer = Varchar(length=150, help_text="Authority that issued this licence.")
    valid_from = Date(help_text="First day of validity (Shanghai date).")
    valid_until = Date(null=True, default=None, help_text="Last day of validity; empty = no end.")
    data = JSON(default={}, help_text="Values of the type's data fields, by key.")
    revoked_at = Timestamptz(
        null=True, default=None, help_text="When it was revoked or cancelled (吊销/注销)."
    )
    created_at = Timestamptz(default=TimestamptzNow())
