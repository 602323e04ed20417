"""Rules of the licence library. Ownership is part of every query: a licence is found only
when it is held by the signed-in account or by a company that account represents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.core.crypto import decrypt, encrypt
from app.core.display import LOCAL_ZONE
from app.licences import tokens
from app.licences.tables import Licence, LicenceType, Representative

NUMBER_PURPOSE = "licences.number"
MAX_ID = 2**31 - 1  # Serial columns are 32-bit integers
# Fields every licence can share besides its type's data fields.
BASE_FIELDS = ("holder_name", "number", "valid_until")


def today() -> date:
    return datetime.now(LOCAL_ZONE).date()


def seal_number(number: str) -> str:
    return encrypt(NUMBER_PURPOSE, number)


def mask_number(number: str) -> str:
    """First 3 and last 4 characters, like ID numbers elsewhere; short numbers keep 2."""
    if len(number) <= 8:
        return number[:2] + "*" * max(len(number) - 2, 1)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


@dataclass(frozen=True)
class FieldDef:
    key: str
    zh: str
    en: str

    def label(self, locale: str) -> str:
        return self.zh if locale == "zh-Hans" else self.en


@dataclass
class LicenceView:
    id: int
    type_code: str
    type_name_zh: str
    type_name_en: str
    holder_kind: str
    holder_name: str
    company_id: int | None
    number: str
    issuer: str
    valid_from: date
    valid_until: date | None
    revoked: bool
    data: dict[str, Any]
    field_defs: list[FieldDef] = field(default_factory=list)

    @property
    def number_masked(self) -> str:
        return mask_number(self.number)

    def type_name(self, locale: str) -> str:
        return self.type_name_zh if locale == "zh-Hans" else self.type_name_en

    def current(self, on: date | None = None) -> bool:
        on = on or today()
        if self.revoked or on < self.valid_from:
            return False
        return self.valid_until is None or on <= self.valid_until

    def shareable(self) -> tuple[str, ...]:
        return BASE_FIELDS + tuple(item.key for item in self.field_defs)


_COLUMNS = (
    Licence.id,
    Licence.licence_type.code.as_alias("type_code"),
    Licence.licence_type.name_zh.as_alias("type_name_zh"),
    Licence.licence_type.name_en.as_alias("type_name_en"),
    Licence.licence_type.holder_kind.as_alias("holder_kind"),
    Licence.licence_type.fields.as_alias("type_fields"),
    Licence.holder_company,
    Licence.holder_name,
    Licence.number_encrypted,
    Licence.issuer,
    Licence.valid_from,
    Licence.valid_until,
    Licence.revoked_at,
    Licence.data,
)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _view(row: dict[str, Any]) -> LicenceView:
    definitions = row["type_fields"] or []
    return LicenceView(
        id=row["id"],
        type_code=row["type_code"],
        type_name_zh=row["type_name_zh"],
        type_name_en=row["type_name_en"],
        holder_kind=row["holder_kind"],
        holder_name=row["holder_name"],
        company_id=row["holder_company"],
        number=decrypt(NUMBER_PURPOSE, row["number_encrypted"]) or "",
        issuer=row["issuer"],
        valid_from=_as_date(row["valid_from"]),
        valid_until=_as_date(row["valid_until"]) if row["valid_until"] else None,
        revoked=row["revoked_at"] is not None,
        data=row["data"] or {},
        field_defs=[FieldDef(item["key"], item["zh"], item["en"]) for item in definitions],
    )


async def represented_company_ids(account_id: int) -> list[int]:
    rows = await Representative.select(Representative.company).where(
        Representative.account == account_id
    )
    return [row["company"] for row in rows]


async def _ownership(account_id: int) -> Any:
    """The WHERE clause "held by this account, or by a company it represents"."""
    companies = await represented_company_ids(account_id)
    mine: Any = Licence.holder_account == account_id
    if companies:
        mine = mine | Licence.holder_company.is_in(companies)
    return mine


async def _held_by(account_id: int, *extra: Any) -> list[LicenceView]:
    query = Licence.select(*_COLUMNS).where(await _ownership(account_id), *extra)
    return [_view(row) for row in await query.output(load_json=True).order_by(Licence.id)]


async def licences_of(account_id: int) -> list[LicenceView]:
    """Every licence the account holds, then those of the companies it represents."""
    found = await _held_by(account_id)
    return sorted(found, key=lambda item: (item.company_id is not None, item.id))


async def licence_of(account_id: int, licence_id: int) -> LicenceView | None:
    """The licence if this account may see it; None for someone else's or no such licence."""
    if not 0 < licence_id <= MAX_ID:
        return None
    found = await _held_by(account_id, Licence.id == licence_id)
    return found[0] if found else None


async def companies_of(account_id: int) -> dict[int, str]:
    rows = await Representative.select(
        Representative.company.as_alias("id"), Representative.company.name.as_alias("name")
    ).where(Representative.account == account_id)
    return {row["id"]: row["name"] for row in rows}


async def held_licence_types(account_id: int) -> frozenset[str]:
    """Codes of the licence types the account holds now, itself or through a company it
    represents: what the guide's checklist marks 免于提交."""
    on = today()
    rows = await Licence.select(
        Licence.licence_type.code.as_alias("code"), Licence.valid_until
    ).where(await _ownership(account_id), Licence.revoked_at.is_null(), Licence.valid_from <= on)
    return frozenset(
        row["code"]
        for row in rows
        if row["valid_until"] is None or _as_date(row["valid_until"]) >= on
    )


class ShareRefused(Exception):
    pass


async def share(
    account_id: int, licence_id: int, fields: list[str], now: int
) -> tuple[LicenceView, str] | None:
    """The licence and a 亮证 token for its chosen fields, if the account may see it; None if
    it may not.
    ``ShareRefused`` when the field set is empty or names a field the licence does not have,
    or when the licence is not current (a revoked licence is not shown as genuine)."""
    licence = await licence_of(account_id, licence_id)
    if licence is None:
        return None
    chosen = set(fields)
    if not chosen or not chosen <= set(licence.shareable()) or not licence.current():
        raise ShareRefused()
    return licence, tokens.issue(licence.id, sorted(chosen), now)


@dataclass
class Verified:
    licence: LicenceView
    claim: tokens.ShareClaim
    current: bool


async def verify(token: str, now: int) -> Verified:
    """What a verifier may see. ``TokenError`` for junk, tampered, wrong-field or expired
    tokens; ``current`` is False when the licence was revoked or ran out since it was shared."""
    claim = tokens.read(token, now)
    if claim.licence_id > MAX_ID:
        raise tokens.TokenError("invalid")
    row = (
        await Licence.select(*_COLUMNS)
        .where(Licence.id == claim.licence_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise tokens.TokenError("invalid")
    licence = _view(row)
    if not set(claim.fields) <= set(licence.shareable()):
        raise tokens.TokenError("invalid")
    return Verified(licence=licence, claim=claim, current=licence.current())


async def licence_type_ids() -> dict[str, int]:
    rows = await LicenceType.select(LicenceType.id, LicenceType.code)
    return {row["code"]: row["id"] for row in rows}
