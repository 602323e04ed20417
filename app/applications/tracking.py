"""Routes of applications: tracking (see docs/applications.md)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
