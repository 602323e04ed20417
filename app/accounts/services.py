"""Accounts and the sessions of signed-in devices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection
from litestar.response import Response

from app.accounts.tables import STAFF_ROLES, Account, LoginSession, Passkey, Role
from app.catalogue.tables import Department
from app.core.csrf import rotate_csrf_token
from app.core.display import as_utc, mask_phone
from app.core.logging import get_logger
from app.core.sessions import SESSION_MAX_AGE, rotate_session

log = get_logger("accounts")
_SCOPE_KEY = "tongban.account"
SEEN_EVERY = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _alive_since() -> datetime:
    """Sessions idle for longer than the session lifetime are gone from Redis, so their rows
    no longer count as signed-in devices."""
    return utcnow() - timedelta(seconds=SESSION_MAX_AGE)


def new_user_handle() -> str:
    return secrets.token_urlsafe(32)


async def get_or_create_citizen(
    phone: str, *, locale: str = "zh-Hans", elderly: bool = False
) -> Account:
    """The account for a phone that just proved possession of it; created on first sign-in
    with the preferences the device has at that moment."""
    existing = await Account.objects().where(Account.phone == phone).first()
    if existing:
        return existing
    try:
        return await _save_new_account(phone, Role.CITIZEN, locale=locale, elderly=elderly)
    except Exception:
        # Two first sign-ins at once: the unique phone lets one insert win; use that row.
        again = await Account.objects().where(Account.phone == phone).first()
        if again is None:
            raise
        return again


async def _save_new_account(phone: str, role: Role, **fields: Any) -> Account:
    account = Account(phone=phone, role=role.value, webauthn_user_id=new_user_handle(), **fields)
    await account.save()
    log.info(
        "account_create_success",
        account_id=account.id,
        role=role.value,
        phone_masked=mask_phone(phone),
    )
    return account


class AccountError(ValueError):
    pass


async def create_account(
    phone: str, role: Role, *, department_code: str | None = None, name: str = ""
) -> Account:
    """Create an account (staff come from here, via ``tongban createuser``)."""
    department_id = None
    if role is Role.OFFICER:
        if not department_code:
            raise AccountError("an officer needs a department")
        row = (
            await Department.select(Department.id).where(Department.code == department_code).first()
        )
        if row is None:
            raise AccountError(f"no department with code {department_code!r}")
        department_id = row["id"]
    elif department_code:
        raise AccountError("only officers belong to a department")
    if await Account.exists().where(Account.phone == phone):
        raise AccountError("an account with this phone number exists already")
    return await _save_new_account(phone, role, department=department_id, name=name)


def is_staff(account: Account) -> bool:
    return Role(account.role) in STAFF_ROLES


async def has_passkey(account_id: int) -> bool:
    return await Passkey.exists().where(Passkey.account == account_id)


def assurance_level(account: Account, passkey: bool) -> int:
    """L1 phone verified (every account); L2 identity verified; L3 L2 plus a passkey."""
    if account.identity_verified_at is None:
        return 1
    return 3 if passkey else 2


async def open_login_session(
    connection: ASGIConnection[Any, Any, Any, Any], account: Account, method: str
) -> LoginSession:
    """Sign the account in on this device: new session id (no fixation), new login row.
    A sign-in over a session that was already signed in replaces it: the old row is revoked."""
    previous = connection.scope.get("session")
    if isinstance(previous, dict) and previous.get("ref"):
        await LoginSession.update({LoginSession.revoked_at: utcnow()}).where(
            LoginSession.session_ref == str(previous["ref"]), LoginSession.revoked_at.is_null()
        )
    login = LoginSession(
        account=account.id,
        session_ref=secrets.token_urlsafe(32),
        method=method,
        user_agent=(connection.headers.get("user-agent") or "")[:200],
    )
    await login.save()
    await Account.update({Account.last_signin_at: utcnow()}).where(Account.id == account.id)
    rotate_session(connection)
    # A CSRF token planted before sign-in must not work after it (OWASP CSRF cheat sheet).
    rotate_csrf_token(connection)
    connection.set_session({"account_id": account.id, "ref": login.session_ref, "method": method})
    connection.scope[_SCOPE_KEY] = None  # type: ignore[literal-required]
    log.info("session_open_success", account_id=account.id, method=method, login_id=login.id)
    return login


@lru_cache(maxsize=1)
def _signed_in_sql() -> str:
    """The login of a session and its account in one joined query, written out once.

    Every signed-in request runs it. Piccolo builds a query afresh on each call, and for a
    join through a foreign key that copies every column of both tables (a profile of the
    account page put a quarter of all samples there); the text below is made once from the
    tables' own metadata, so it follows their columns."""
    login = ", ".join(f'l."{c._meta.db_column_name}"' for c in LoginSession._meta.columns)
    account = ", ".join(
        f'a."{c._meta.db_column_name}" AS "a.{c._meta.db_column_name}"'
        for c in Account._meta.columns
    )
    # Names come from our own table definitions; the values are bound parameters ({}).
    return (
        f"SELECT {login}, {account} "  # noqa: S608
        f'FROM "{LoginSession._meta.tablename}" l '
        f'JOIN "{Account._meta.tablename}" a ON a."id" = l."account" '
        'WHERE l."session_ref" = {} AND l."revoked_at" IS NULL AND l."last_seen_at" > {} '
        'AND a."is_active" = {} LIMIT 1'
    )


@dataclass(slots=True)
class Signed:
    account: Account
    login: LoginSession

    @property
    def method(self) -> str:
        return str(self.login.method)


async def current(connection: ASGIConnection[Any, Any, Any, Any]) -> Signed | None:
    """The signed-in account of this request, or None. Loaded once per request."""
    scope: Any = connection.scope
    if _SCOPE_KEY in scope and scope[_SCOPE_KEY] is not None:
        cached: Signed | None = scope[_SCOPE_KEY] or None
        return cached
    session = scope.get("session")
    if not isinstance(session, dict) or "ref" not in session:
        scope[_SCOPE_KEY] = False
        return None
    rows = await LoginSession.raw(_signed_in_sql(), str(session["ref"]), _alive_since(), True)
    login = account = None
    if rows and rows[0]["account"] == session.get("account_id"):
        row = rows[0]
        login = LoginSession(_exists_in_db=True, **{k: v for k, v in row.items() if "." not in k})
        account = Account(
            _exists_in_db=True,
            **{k[len("a.") :]: v for k, v in row.items() if k.startswith("a.")},
        )
    if login is None or account is None:
        # Revoked elsewhere ("sign out other devices") or deactivated: end this session too.
        connection.clear_session()
        scope[_SCOPE_KEY] = False
        return None
    now = utcnow()
    last_seen = as_utc(login.last_seen_at)
    if now - last_seen > SEEN_EVERY:
        await LoginSession.update({LoginSession.last_seen_at: now}).where(
            LoginSession.id == login.id
        )
    signed = Signed(account=account, login=login)
    scope[_SCOPE_KEY] = signed
    return signed


async def save_preferences(
    connection: ASGIConnection[Any, Any, Any, Any], **changes: object
) -> None:
    """Store language / elderly mode on the signed-in account (no-op when signed out)."""
    signed = await current(connection)
    if signed is None:
        return
    columns = {"locale": Account.locale, "elderly": Account.elderly}
    await Account.update({columns[name]: value for name, value in changes.items()}).where(
        Account.id == signed.account.id
    )


def apply_preferences(response: Response[Any], account: Account) -> None:
    """At sign-in, this device takes the account's remembered language and elderly mode."""
    from app.core import i18n
    from app.core.context import ELDER_COOKIE
    from app.core.preferences import remember

    remember(response, i18n.LANG_COOKIE, account.locale)
    remember(response, ELDER_COOKIE, "1" if account.elderly else "0")


async def sign_out(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    signed = await current(connection)
    if signed:
        await LoginSession.update({LoginSession.revoked_at: utcnow()}).where(
            LoginSession.id == signed.login.id
        )
        log.info("session_close_success", account_id=signed.account.id, login_id=signed.login.id)
    connection.clear_session()
    rotate_csrf_token(connection)


async def revoke_other_sessions(signed: Signed) -> int:
    revoked = (
        await LoginSession.update({LoginSession.revoked_at: utcnow()})
        .where(
            LoginSession.account == signed.account.id,
            LoginSession.id != signed.login.id,
            LoginSession.revoked_at.is_null(),
        )
        .returning(LoginSession.id)
    )
    log.info("session_revoke_others_success", account_id=signed.account.id, count=len(revoked))
    return len(revoked)


async def active_sessions(account_id: int) -> list[dict[str, Any]]:
    return await (
        LoginSession.select(
            LoginSession.id,
            LoginSession.method,
            LoginSession.user_agent,
            LoginSession.created_at,
            LoginSession.last_seen_at,
        )
        .where(
            LoginSession.account == account_id,
            LoginSession.revoked_at.is_null(),
            LoginSession.last_seen_at > _alive_since(),
        )
        .order_by(LoginSession.last_seen_at, ascending=False)
    )
