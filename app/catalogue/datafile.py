"""Reads and checks the catalogue data file (app/catalogue/data/catalogue.toml).

The file is the source of the real catalogue: ``tongban seed`` upserts it by code. Everything a
page relies on is checked here, before any row is written: field types and unknown keys
(msgspec), codes unique, departments and life events that exist, time limits and levels in
range, licence types from the shared list, conditions that parse and name real questions and
options, bundles whose items exist and whose shared materials really are shared.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from app.catalogue.conditions import ConditionError, parse
from app.catalogue.schemas import (
    Acceptance,
    BundleDetail,
    DepartmentSummary,
    GuideOption,
    GuideQuestionSpec,
    LifeEventSummary,
    MaterialSpec,
    ServiceItemDetail,
)
from app.catalogue.tables import Delivery, MaterialKind

DATA_FILE = Path(__file__).parent / "data" / "catalogue.toml"

# Shared with the licence library (app/licences/seed.py): the only codes a material of kind
# "licence" may name.
LICENCE_TYPES = frozenset(
    {
        "id_card",  # 居民身份证
        "residence_permit",  # 居住证
        "driving_licence",  # 机动车驾驶证
        "business_licence",  # 营业执照
        "food_business_licence",  # 食品经营许可证
        "household_register",  # 户口簿
        "approval_decision",  # 准予行政许可决定书: what an approval issues by default
    }
)


class CatalogueFileError(ValueError):
    """The data file is not a catalogue this app can serve; the message says where."""


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class _Named(_Strict):
    code: str
    name_zh: str
    name_en: str


class _Option(_Strict):
    code: str
    zh: str
    en: str


class _Question(_Strict):
    code: str
    text_zh: str
    text_en: str
    options: list[_Option]
    multiple: bool = False


class _Material(_Strict):
    code: str
    name_zh: str
    name_en: str
    kind: MaterialKind
    note_zh: str = ""
    note_en: str = ""
    licence_type: str = ""
    required: bool = True
    tolerable: bool = False
    pledgeable: bool = False
    deferrable: bool = False
    condition: dict[str, Any] | None = None


class _Item(_Strict):
    code: str
    department: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    legal_days: int
    promised_days: int
    materials: list[_Material]
    fee_zh: str = "不收费"
    fee_en: str = "Free of charge"
    approval_levels: int = 1
    counter_visit: bool = False
    delivery: list[Delivery] = msgspec.field(default_factory=lambda: [Delivery.ONLINE])
    min_assurance: int = 1
    tolerated: bool = False
    pledge: bool = False
    pledge_text_zh: str = ""
    pledge_text_en: str = ""
    deferral_max_days: int = 0
    result_licence: str = ""
    life_events: list[str] = msgspec.field(default_factory=list)
    questions: list[_Question] = msgspec.field(default_factory=list)


class _Bundle(_Strict):
    code: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    items: list[str]
    shared_materials: list[str] = msgspec.field(default_factory=list)
    life_events: list[str] = msgspec.field(default_factory=list)


class _File(_Strict):
    departments: list[_Named]
    life_events: list[_Named]
    items: list[_Item]
    bundles: list[_Bundle] = msgspec.field(default_factory=list)


class CatalogueData(msgspec.Struct, frozen=True):
    departments: tuple[DepartmentSummary, ...]
    life_events: tuple[LifeEventSummary, ...]
    items: tuple[ServiceItemDetail, ...]
    bundles: tuple[BundleDetail, ...]


def load(path: Path = DATA_FILE) -> CatalogueData:
    """The checked catalogue of the data file; raises CatalogueFileError."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueFileError(f"{path.name}: {exc}") from exc
    return check(raw)


def _unique(codes: list[str], what: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if not code or code != code.strip():
            raise CatalogueFileError(f"{what}: empty or padded code {code!r}")
        if code in seen:
            raise CatalogueFileError(f"{what}: code {code!r} appears twice")
        seen.add(code)


def check(raw: dict[str, Any]) -> CatalogueData:
    """The checked catalogue of already-parsed file data."""
    try:
        data = msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        raise CatalogueFileError(str(exc)) from exc
    _unique([d.code for d in data.departments], "departments")
    _unique([e.code for e in data.life_events], "life_events")
    _unique([i.code for i in data.items], "items")
    _unique([b.code for b in data.bundles], "bundles")
    departments = {d.code for d in data.departments}
    events = {e.code for e in data.life_events}
    items = [_check_item(item, departments, events) for item in data.items]
    by_code = {item.code: item for item in items}
    bundles = [_check_bundle(bundle, by_code, events) for bundle in data.bundles]
    return CatalogueData(
        departments=tuple(
            DepartmentSummary(d.code, d.name_zh, d.name_en) for d in data.departments
        ),
        life_events=tuple(LifeEventSummary(e.code, e.name_zh, e.name_en) for e in data.life_events),
        items=tuple(items),
        bundles=tuple(bundles),
    )


def _check_item(item: _Item, departments: set[str], events: set[str]) -> ServiceItemDetail:
    where = f"item {item.code}"
    if item.department not in departments:
        raise CatalogueFileError(f"{where}: no department {item.department!r}")
    unknown_events = sorted(set(item.life_events) - events)
    if unknown_events:
        raise CatalogueFileError(f"{where}: no life events {unknown_events}")
    if not 0 < item.promised_days <= item.legal_days:
        raise CatalogueFileError(f"{where}: promised days must be 1..legal days")
    if not 1 <= item.approval_levels <= 3:
        raise CatalogueFileError(f"{where}: approval levels must be 1-3")
    if not 1 <= item.min_assurance <= 3:
        raise CatalogueFileError(f"{where}: minimum assurance level must be 1-3")
    if not item.delivery or len(set(item.delivery)) != len(item.delivery):
        raise CatalogueFileError(f"{where}: delivery must list distinct options")
    if item.pledge != bool(item.pledge_text_zh and item.pledge_text_en):
        raise CatalogueFileError(f"{where}: a pledge needs its text in zh and en, and only then")
    if item.deferral_max_days < 0:
        raise CatalogueFileError(f"{where}: deferral days must not be negative")
    if item.result_licence and item.result_licence not in LICENCE_TYPES:
        raise CatalogueFileError(f"{where}: result_licence names no licence type")
    if not item.materials:
        raise CatalogueFileError(f"{where}: an item asks for at least one material")
    _unique([q.code for q in item.questions], f"{where} questions")
    _unique([m.code for m in item.materials], f"{where} materials")
    questions = {}
    for question in item.questions:
        _unique([o.code for o in question.options], f"{where} question {question.code} options")
        if len(question.options) < 2:
            raise CatalogueFileError(f"{where} question {question.code}: at least two options")
        questions[question.code] = frozenset(o.code for o in question.options)
    materials = []
    for material in item.materials:
        mwhere = f"{where} material {material.code}"
        if (material.kind == MaterialKind.LICENCE) != bool(material.licence_type):
            raise CatalogueFileError(f"{mwhere}: a licence type goes with kind licence, only")
        if material.licence_type and material.licence_type not in LICENCE_TYPES:
            raise CatalogueFileError(f"{mwhere}: unknown licence type {material.licence_type!r}")
        if material.tolerable and not item.tolerated:
            raise CatalogueFileError(f"{mwhere}: tolerable, but the item does not allow 容缺")
        if material.pledgeable and not item.pledge:
            raise CatalogueFileError(f"{mwhere}: pledgeable, but the item has no pledge")
        if material.deferrable and not item.deferral_max_days:
            raise CatalogueFileError(f"{mwhere}: deferrable, but the item allows no deferral")
        try:
            condition = (
                None
                if material.condition is None
                else parse(material.condition, questions, where=f"{mwhere} condition")
            )
        except ConditionError as exc:
            raise CatalogueFileError(str(exc)) from exc
        materials.append(
            MaterialSpec(
                code=material.code,
                name_zh=material.name_zh,
                name_en=material.name_en,
                kind=material.kind.value,
                note_zh=material.note_zh,
                note_en=material.note_en,
                licence_type=material.licence_type,
                required=material.required,
                tolerable=material.tolerable,
                pledgeable=material.pledgeable,
                deferrable=material.deferrable,
                condition=condition,
            )
        )
    return ServiceItemDetail(
        code=item.code,
        name_zh=item.name_zh,
        name_en=item.name_en,
        department=item.department,
        description_zh=item.description_zh,
        description_en=item.description_en,
        fee_zh=item.fee_zh,
        fee_en=item.fee_en,
        legal_days=item.legal_days,
        promised_days=item.promised_days,
        approval_levels=item.approval_levels,
        counter_visit=item.counter_visit,
        delivery=tuple(d.value for d in item.delivery),
        min_assurance=item.min_assurance,
        acceptance=Acceptance(
            tolerated=item.tolerated,
            pledge=item.pledge,
            pledge_text_zh=item.pledge_text_zh,
            pledge_text_en=item.pledge_text_en,
            deferral_max_days=item.deferral_max_days,
        ),
        life_events=tuple(item.life_events),
        questions=tuple(
            GuideQuestionSpec(
                code=q.code,
                text_zh=q.text_zh,
                text_en=q.text_en,
                multiple=q.multiple,
                options=tuple(GuideOption(o.code, o.zh, o.en) for o in q.options),
            )
            for q in item.questions
        ),
        materials=tuple(materials),
        result_licence=item.result_licence,
    )


def _check_bundle(
    bundle: _Bundle, items: dict[str, ServiceItemDetail], events: set[str]
) -> BundleDetail:
    where = f"bundle {bundle.code}"
    _unique(bundle.items, f"{where} items")
    missing = [code for code in bundle.items if code not in items]
    if missing:
        raise CatalogueFileError(f"{where}: no items {missing}")
    departments = {items[code].department for code in bundle.items}
    if len(departments) < 2:
        raise CatalogueFileError(f"{where}: a bundle combines items of several departments")
    unknown_events = sorted(set(bundle.life_events) - events)
    if unknown_events:
        raise CatalogueFileError(f"{where}: no life events {unknown_events}")
    _unique(bundle.shared_materials, f"{where} shared materials")
    for code in bundle.shared_materials:
        asking = [i for i in bundle.items if any(m.code == code for m in items[i].materials)]
        if len(asking) < 2:
            raise CatalogueFileError(f"{where}: material {code!r} is not asked for by two items")
    return BundleDetail(
        code=bundle.code,
        name_zh=bundle.name_zh,
        name_en=bundle.name_en,
        description_zh=bundle.description_zh,
        description_en=bundle.description_en,
        items=tuple(bundle.items),
        shared_materials=tuple(bundle.shared_materials),
        life_events=tuple(bundle.life_events),
    )
