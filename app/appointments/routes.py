"""Every route of this domain, registered in app/asgi.py."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
