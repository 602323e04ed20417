"""Routes of applications: officer (see docs/applications.md)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
