"""Demo accounts for ``make run`` (listed in the README). Staff add their passkey at first sign-in."""

from __future__ import annotations

from app.accounts.services import create_account
from app.accounts.tables import Account, Role

DEMO_ACCOUNTS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("+8613800000001", Role.CITIZEN, None, "张三"),
    ("+8613800000002", Role.CITIZEN, None, "李四"),
    ("+8613800000011", Role.OFFICER, "market-regulation", "王窗口"),
    ("+8613800000012", Role.FLOOR_MANAGER, None, "赵巡查"),
    ("+8613800000021", Role.COURIER, None, "钱快递"),
    ("+8613800000099", Role.ADMIN, None, "孙管理"),
)


async def seed_accounts() -> int:
    existing = {row["phone"] for row in await Account.select(Account.phone)}
    added = 0
    for phone, role, department, name in DEMO_ACCOUNTS:
        if phone not in existing:
            await create_account(phone, role, department_code=department, name=name)
            added += 1
    return added
