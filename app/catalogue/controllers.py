"""Catalogue pages: browse and search, item, bundle, guide, checklist (being built)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
