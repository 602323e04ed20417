"""Routes of identity verification: controllers (docs/identity.md)."""

from __future__ import annotations

from typing import Any

from app.identity import service  # noqa: F401  (registers who may read identity images)

ROUTES: list[Any] = []
