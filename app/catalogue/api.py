"""The catalogue's JSON API under /api/v1 (being built)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
