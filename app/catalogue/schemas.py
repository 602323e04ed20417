"""What the catalogue hands to pages: small immutable structs, safe to share from a cache."""

from __future__ import annotations

import msgspec


class DepartmentSummary(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
