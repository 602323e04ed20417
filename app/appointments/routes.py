"""Every route of this domain, registered in app/asgi.py."""

from __future__ import annotations

from typing import Any

from app.appointments import api, centres, citizen, staff

ROUTES: list[Any] = [*centres.ROUTES, *citizen.ROUTES, *staff.ROUTES, api.ROUTER]
