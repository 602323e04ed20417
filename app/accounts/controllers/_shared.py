"""What the accounts controllers share."""

from __future__ import annotations

from typing import Any

from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response

from app.accounts.tables import Account, Role
from app.catalogue.tables import Department
from app.core.context import current as request_context
from app.core.i18n import _

MAX_ID = 2**31 - 1  # Serial columns are 32-bit integers


def go(request: HTMXRequest, target: str) -> Response[Any]:
    if request.htmx:
        return ClientRedirect(target)
    return Redirect(target, status_code=303)


def role_label(role: str) -> str:
    return {
        Role.CITIZEN.value: _("Citizen"),
        Role.OFFICER.value: _("Officer"),
        Role.FLOOR_MANAGER.value: _("Floor manager"),
        Role.COURIER.value: _("Courier"),
        Role.ADMIN.value: _("Administrator"),
    }[role]


async def department_name(account: Account) -> str | None:
    if account.department is None:
        return None
    row = (
        await Department.select(Department.name_zh, Department.name_en)
        .where(Department.id == account.department)
        .first()
    )
    if row is None:
        return None
    return str(row["name_zh"] if request_context().locale == "zh-Hans" else row["name_en"])
