"""Every route of this domain, registered in app/asgi.py."""

from __future__ import annotations

from typing import Any

from app.appointments import api, citizen, staff

ROUTES: list[Any] = [*citizen.ROUTES, *staff.ROUTES, api.ROUTER]
