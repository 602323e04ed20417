"""The staff landing page."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.accounts import services
from app.accounts.controllers._shared import department_name, role_label
from app.accounts.guards import STAFF
from app.core.security import NO_STORE


@get("/staff", name="staff_home", guards=STAFF)
async def staff_home(request: HTMXRequest) -> Template:
    signed = await services.current(request)
    assert signed is not None
    return Template(
        template_name="staff/home.html",
        context={
            "role_label": role_label(signed.account.role),
            "department": await department_name(signed.account),
        },
        headers=NO_STORE,
    )


ROUTES = [staff_home]
