"""What the catalogue hands to pages: small immutable structs, safe to share from a cache."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from app.catalogue.conditions import Condition


class DepartmentSummary(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str


class LifeEventSummary(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str


class GuideOption(msgspec.Struct, frozen=True):
    code: str
    zh: str
    en: str


class GuideQuestionSpec(msgspec.Struct, frozen=True):
    code: str
    text_zh: str
    text_en: str
    multiple: bool
    options: tuple[GuideOption, ...]


class MaterialSpec(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
    kind: str  # MaterialKind
    note_zh: str = ""
    note_en: str = ""
    licence_type: str = ""
    required: bool = True
    tolerable: bool = False  # 容缺
    pledgeable: bool = False  # 告知承诺
    deferrable: bool = False  # 延期
    condition: Condition | None = None


class Acceptance(msgspec.Struct, frozen=True):
    """The acceptance options an item allows, beyond handing in every material at once."""

    tolerated: bool = False  # 容缺受理
    pledge: bool = False  # 告知承诺制
    pledge_text_zh: str = ""
    pledge_text_en: str = ""
    deferral_max_days: int = 0  # 延期: 0 = no deferral


class ServiceItemSummary(msgspec.Struct, frozen=True):
    """What a list or a search result shows."""

    code: str
    name_zh: str
    name_en: str
    department: str  # department code
    promised_days: int = 0
    online: bool = False  # may be done entirely online (全程网办)
    life_events: tuple[str, ...] = ()


class ServiceItemDetail(msgspec.Struct, frozen=True):
    """Everything the item page and the guide show."""

    code: str
    name_zh: str
    name_en: str
    department: str
    description_zh: str
    description_en: str
    fee_zh: str
    fee_en: str
    legal_days: int
    promised_days: int
    approval_levels: int
    counter_visit: bool
    delivery: tuple[str, ...]
    min_assurance: int
    acceptance: Acceptance
    life_events: tuple[str, ...]
    questions: tuple[GuideQuestionSpec, ...]
    materials: tuple[MaterialSpec, ...]
    result_licence: str = ""  # licence type code issued on approval; "" = a decision letter


class BundleDetail(msgspec.Struct, frozen=True):
    code: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    items: tuple[str, ...]
    shared_materials: tuple[str, ...]
    life_events: tuple[str, ...]


class Mark(StrEnum):
    """How one material of a personal checklist is to be provided."""

    HELD = "held"  # 免于提交: the licence library already holds it
    UPLOAD = "upload"  # upload a scan or photo
    ORIGINAL = "original"  # bring the original to the counter or send it by courier


class ChecklistEntry(msgspec.Struct, frozen=True):
    """One line of a personal checklist (智能导办的个性化清单)."""

    material: MaterialSpec
    mark: Mark
    pledge_allowed: bool = False  # a signed pledge may replace it (告知承诺)
    later_within_days: int | None = None  # may follow within this many days (延期)
    tolerable: bool = False  # may be missing at acceptance (容缺)
