"""Licence types, a demo company and demo licences, inserted idempotently by ``tongban seed``.

Every number here is made up: the ID numbers pass the GB 11643 check digit and the credit code
the GB 32100 one, so the pages and checks treat them as real, but they name nobody.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.accounts.tables import Account
from app.licences.services import licence_type_ids, seal_number
from app.licences.tables import Company, HolderKind, Licence, LicenceType, Representative

# Codes shared with the catalogue (materials of kind "licence library" name one of these).
LICENCE_TYPES: tuple[dict[str, Any], ...] = (
    {
        "code": "id_card",
        "name_zh": "居民身份证",
        "name_en": "Resident identity card",
        "issuer_zh": "公安机关",
        "issuer_en": "Public security bureau",
        "holder_kind": HolderKind.PERSON,
        "fields": [
            {"key": "sex", "zh": "性别", "en": "Sex"},
            {"key": "ethnicity", "zh": "民族", "en": "Ethnic group"},
            {"key": "birth_date", "zh": "出生日期", "en": "Date of birth"},
            {"key": "address", "zh": "住址", "en": "Address"},
        ],
    },
    {
        "code": "residence_permit",
        "name_zh": "居住证",
        "name_en": "Residence permit",
        "issuer_zh": "公安机关",
        "issuer_en": "Public security bureau",
        "holder_kind": HolderKind.PERSON,
        "fields": [
            {"key": "address", "zh": "居住地址", "en": "Address of residence"},
            {"key": "sign_count", "zh": "签注次数", "en": "Endorsements"},
        ],
    },
    {
        "code": "driving_licence",
        "name_zh": "机动车驾驶证",
        "name_en": "Driving licence",
        "issuer_zh": "公安交通管理部门",
        "issuer_en": "Traffic police",
        "holder_kind": HolderKind.PERSON,
        "fields": [
            {"key": "vehicle_class", "zh": "准驾车型", "en": "Vehicle class"},
            {"key": "first_issued", "zh": "初次领证日期", "en": "First issued"},
            {"key": "file_number", "zh": "档案编号", "en": "File number"},
        ],
    },
    {
        "code": "household_register",
        "name_zh": "户口簿",
        "name_en": "Household register",
        "issuer_zh": "公安机关",
        "issuer_en": "Public security bureau",
        "holder_kind": HolderKind.PERSON,
        "fields": [
            {"key": "household_head", "zh": "户主姓名", "en": "Head of household"},
            {"key": "address", "zh": "住址", "en": "Address"},
        ],
    },
    {
        "code": "business_licence",
        "name_zh": "营业执照",
        "name_en": "Business licence",
        "issuer_zh": "市场监督管理局",
        "issuer_en": "Administration for Market Regulation",
        "holder_kind": HolderKind.COMPANY,
        "fields": [
            {"key": "company_type", "zh": "类型", "en": "Type"},
            {"key": "legal_representative", "zh": "法定代表人", "en": "Legal representative"},
            {"key": "registered_capital", "zh": "注册资本", "en": "Registered capital"},
            {"key": "established", "zh": "成立日期", "en": "Established"},
            {"key": "address", "zh": "住所", "en": "Registered address"},
            {"key": "scope", "zh": "经营范围", "en": "Business scope"},
        ],
    },
    {
        "code": "food_business_licence",
        "name_zh": "食品经营许可证",
        "name_en": "Food business licence",
        "issuer_zh": "市场监督管理局",
        "issuer_en": "Administration for Market Regulation",
        "holder_kind": HolderKind.COMPANY,
        "fields": [
            {"key": "main_format", "zh": "主体业态", "en": "Main format"},
            {"key": "scope", "zh": "经营项目", "en": "Business items"},
            {"key": "address", "zh": "经营场所", "en": "Premises"},
        ],
    },
    {
        # What an approved application issues when its item names no licence of its own.
        "code": "approval_decision",
        "name_zh": "准予行政许可决定书",
        "name_en": "Approval decision",
        "issuer_zh": "审批部门",
        "issuer_en": "Deciding department",
        "holder_kind": HolderKind.PERSON,
        "fields": [
            {"key": "item", "zh": "事项", "en": "Service item"},
            {"key": "application", "zh": "办件码", "en": "Tracking code"},
        ],
    },
)

DEMO_COMPANY = ("上海通办示范餐饮有限公司", "91310106MA1FL8T0XR")
DEMO_COMPANY_ADDRESS = "上海市静安区示范路100号1层"

# (holder phone or None for the company, type code, holder name, number, issuer, from, until, data)
# 李四 comes first so his ID card is licence 1 on a fresh database (the accessibility test opens it).
DEMO_LICENCES: tuple[
    tuple[str | None, str, str, str, str, date, date | None, dict[str, str]], ...
] = (
    (
        "+8613800000002",
        "id_card",
        "李四",
        "310104198812120455",
        "上海市公安局徐汇分局",
        date(2019, 5, 20),
        date(2039, 5, 20),
        {
            "sex": "男",
            "ethnicity": "汉",
            "birth_date": "1988-12-12",
            "address": "上海市徐汇区示范路8号",
        },
    ),
    (
        "+8613800000002",
        "household_register",
        "李四",
        "310104012345",
        "上海市公安局徐汇分局",
        date(2010, 3, 1),
        None,
        {"household_head": "李四", "address": "上海市徐汇区示范路8号"},
    ),
    (
        "+8613800000001",
        "id_card",
        "张三",
        "340102199003071232",
        "合肥市公安局瑶海分局",
        date(2018, 3, 7),
        date(2038, 3, 7),
        {
            "sex": "男",
            "ethnicity": "汉",
            "birth_date": "1990-03-07",
            "address": "安徽省合肥市瑶海区示范街1号",
        },
    ),
    (
        "+8613800000001",
        "residence_permit",
        "张三",
        "310000202400012345",
        "上海市公安局静安分局",
        date(2024, 6, 1),
        date(2027, 5, 31),
        {"address": "上海市静安区示范路100号", "sign_count": "2"},
    ),
    (
        "+8613800000001",
        "driving_licence",
        "张三",
        "340102199003071232",
        "上海市公安局交通警察总队",
        date(2020, 8, 15),
        date(2030, 8, 15),
        {"vehicle_class": "C1", "first_issued": "2014-08-15", "file_number": "310012345678"},
    ),
    (
        None,
        "business_licence",
        DEMO_COMPANY[0],
        DEMO_COMPANY[1],
        "上海市静安区市场监督管理局",
        date(2023, 4, 10),
        None,
        {
            "company_type": "有限责任公司(自然人投资或控股)",
            "legal_representative": "张三",
            "registered_capital": "人民币50万元",
            "established": "2023-04-10",
            "address": DEMO_COMPANY_ADDRESS,
            "scope": "餐饮服务; 食品销售",
        },
    ),
    (
        None,
        "food_business_licence",
        DEMO_COMPANY[0],
        "JY23101060012345",
        "上海市静安区市场监督管理局",
        date(2023, 5, 8),
        date(2028, 5, 7),
        {
            "main_format": "餐饮服务经营者(中型餐馆)",
            "scope": "热食类食品制售",
            "address": DEMO_COMPANY_ADDRESS,
        },
    ),
)


async def seed_licence_types() -> int:
    existing = {row["code"] for row in await LicenceType.select(LicenceType.code)}
    missing = [LicenceType(**spec) for spec in LICENCE_TYPES if spec["code"] not in existing]
    if missing:
        await LicenceType.insert(*missing)
    return len(missing)


async def _demo_company(owner: int | None) -> int:
    name, code = DEMO_COMPANY
    row = await Company.select(Company.id).where(Company.credit_code == code).first()
    if row is None:
        company = Company(name=name, credit_code=code)
        await company.save()
        company_id = int(company.id)
    else:
        company_id = int(row["id"])
    if owner is not None and not await Representative.exists().where(
        Representative.company == company_id, Representative.account == owner
    ):
        await Representative.insert(Representative(company=company_id, account=owner))
    return company_id


async def seed_licences() -> int:
    """Insert the demo licences whose holder has none of that type yet; return how many."""
    await seed_licence_types()
    types = await licence_type_ids()
    phones = {row["phone"]: row["id"] for row in await Account.select(Account.id, Account.phone)}
    company_id = await _demo_company(phones.get("+8613800000001"))
    added = 0
    for phone, code, holder, number, issuer, start, until, data in DEMO_LICENCES:
        if phone is not None and phone not in phones:
            continue  # demo accounts not seeded
        holder_column = Licence.holder_account if phone else Licence.holder_company
        holder_id = phones[phone] if phone else company_id
        if await Licence.exists().where(
            Licence.licence_type == types[code], holder_column == holder_id
        ):
            continue
        await Licence.insert(
            Licence(
                licence_type=types[code],
                holder_account=holder_id if phone else None,
                holder_company=None if phone else holder_id,
                holder_name=holder,
                number_encrypted=seal_number(number),
                issuer=issuer,
                valid_from=start,
                valid_until=until,
                data=data,
            )
        )
        added += 1
    return added
