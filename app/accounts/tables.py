from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.catalogue.tables import Department


class Role(StrEnum):
    CITIZEN = "citizen"  # 市民 / 企业经办人
    OFFICER = "officer"  # 窗口/审批人员, belongs to a department
    FLOOR_MANAGER = "floor_manager"  # 大厅巡查
    COURIER = "courier"  # 快递小哥
    ADMIN = "admin"  # 系统管理员


STAFF_ROLES = frozenset({Role.OFFICER, Role.FLOOR_MANAGER, Role.COURIER, Role.ADMIN})


class Account(Table, tablename="accounts_account"):
    """A person who signs in. Citizens are created at their first SMS sign-in; staff by
    ``tongban createuser``."""

    id = Serial(primary_key=True)

    phone = Varchar(length=20, unique=True, index=True, help_text="E.164, e.g. +8613800000001.")
    role = Varchar(
        length=20, default=Role.CITIZEN.value, choices=Role, help_text="What the person may do."
    )
    department = ForeignKey(
        Department,
        null=True,
        on_delete=OnDelete.restrict,
        help_text="Officers only: their department.",
    )
    name = Varchar(length=60, default="", help_text="Name as the person gave it, or as verified.")
    id_number_encrypted = Text(
        null=True,
        default=None,
        secret=True,
        help_text="Resident ID number, Fernet-encrypted (never stored in clear).",
    )
    identity_verified_at = Timestamptz(
        null=True,
        default=None,
        help_text="When identity was verified remotely or at a counter (L2).",
    )
    webauthn_user_id = Varchar(
        length=64,
        unique=True,
        help_text="Random WebAuthn user handle (base64url), never the row id or phone.",
    )
    locale = Varchar(length=10, default="zh-Hans", help_text="Preferred language.")
    elderly = Boolean(default=False, help_text="Elderly mode (长者模式) preferred.")
    is_active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_signin_at = Timestamptz(null=True, default=None)


class SmsChallenge(Table, tablename="accounts_sms_challenge"):
    """One SMS sign-in code sent to one phone. The code itself is never stored."""

    id = Serial(primary_key=True)

    phone = Varchar(length=20, index=True, help_text="E.164 number the code was sent to.")
    code_hash = Varchar(length=64, help_text="HMAC-SHA256(secret key, phone + code), hex.")
    ticket_hash = Varchar(
        length=64,
        default="",
        index=True,
        help_text="HMAC of the ticket held by the device that asked; needed to redeem the code.",
    )
    ip_hash = Varchar(
        length=64, index=True, help_text="HMAC of the requesting IP, for the per-IP cap."
    )
    attempts = SmallInt(default=0, help_text="Wrong or right guesses made against this code.")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(
        null=True, default=None, help_text="Set once, when the code signs someone in."
    )


class Passkey(Table, tablename="accounts_passkey"):
    """A WebAuthn credential bound to an account (discoverable, user-verifying)."""

    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    credential_id = Varchar(
        length=1400, unique=True, index=True, help_text="base64url credential id."
    )
    public_key = Text(help_text="COSE public key, base64url.")
    sign_count = Integer(
        default=0, help_text="Last signature counter seen (0 = authenticator does not count)."
    )
    transports = JSON(default=[], help_text="Transports the browser reported.")
    aaguid = Varchar(length=36, default="", help_text="Authenticator model, if disclosed.")
    backup_eligible = Boolean(default=False, help_text="BE flag: may be synced to other devices.")
    backed_up = Boolean(default=False, help_text="BS flag: currently synced.")
    name = Varchar(length=60, default="", help_text="Label chosen by the user.")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)


class LoginSession(Table, tablename="accounts_login_session"):
    """A signed-in device. The server-side session holds its ``ref``; revoking the row ends
    that session at its next request, which is how "sign out other devices" works."""

    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    session_ref = Varchar(
        length=64, unique=True, index=True, help_text="Random reference kept in the session."
    )
    method = Varchar(length=10, help_text="How it was opened: sms or passkey.")
    user_agent = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
