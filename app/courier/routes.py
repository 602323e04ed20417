"""Every route of this domain, registered in app/asgi.py."""

from __future__ import annotations

from typing import Any

from app.courier import api, citizen, dispatch, pwa

ROUTES: list[Any] = [*citizen.ROUTES, *pwa.ROUTES, *dispatch.ROUTES, *api.ROUTES]
