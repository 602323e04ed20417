"""The service catalogue (事项目录): departments, life events, service items with their materials
and guide questions, and bundles (一件事) of items from several departments.

Rows are written by ``tongban seed`` from app/catalogue/data/catalogue.toml (upserted by code)
and, for tests and benchmarks, by ``tongban catalogue generate``; pages read them through the
cache in services.py, never per request.
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Delivery(StrEnum):
    """How an applicant may hand in papers and receive the result."""

    ONLINE = "online"  # 全程网办
    COUNTER = "counter"  # 窗口办理
    COURIER = "courier"  # 双向寄递: papers sent in and the result sent back by courier
    LOCKER = "locker"  # 证照柜自助领取


class MaterialKind(StrEnum):
    UPLOAD = "upload"  # a scan or photo uploaded with the application
    ORIGINAL = "original"  # a paper original, presented at the counter or sent by courier
    LICENCE = "licence"  # a licence the licence library may already hold (免于提交)


class Department(Table, tablename="catalogue_department"):
    """A government department (委办局) that owns service items and employs officers."""

    id = Serial(primary_key=True)

    code = Varchar(
        length=40, unique=True, index=True, help_text="Stable slug, e.g. market-regulation."
    )
    name_zh = Varchar(length=100, help_text="Official name in Chinese.")
    name_en = Varchar(length=150, help_text="Name in English.")
    created_at = Timestamptz(default=TimestamptzNow())


class LifeEvent(Table, tablename="catalogue_life_event"):
    """A moment in life or in a business's life (开办企业, 来沪居住) to browse items by."""

    id = Serial(primary_key=True)

    code = Varchar(length=40, unique=True, index=True, help_text="Stable slug, e.g. open-business.")
    name_zh = Varchar(length=100, help_text="Name in Chinese.")
    name_en = Varchar(length=150, help_text="Name in English.")
    position = Integer(default=0, help_text="Order on the browse page, smallest first.")


class ServiceItem(Table, tablename="catalogue_item"):
    """A service item (政务服务事项): one thing a person or company can apply for."""

    id = Serial(primary_key=True)

    code = Varchar(
        length=60, unique=True, index=True, help_text="Stable slug, e.g. food-business-licence."
    )
    department = ForeignKey(
        Department, on_delete=OnDelete.restrict, index=True, help_text="Department that decides."
    )
    name_zh = Varchar(length=150, help_text="Official name in Chinese.")
    name_en = Varchar(length=250, help_text="Name in English.")
    description_zh = Text(default="", help_text="What the item is and who may apply, Chinese.")
    description_en = Text(default="", help_text="What the item is and who may apply, English.")
    fee_zh = Varchar(
        length=200, default="不收费", help_text="Fee as stated to applicants, Chinese."
    )
    fee_en = Varchar(length=300, default="Free", help_text="Fee as stated to applicants, English.")
    legal_days = SmallInt(default=20, help_text="Legal time limit (法定时限), working days.")
    promised_days = SmallInt(
        default=5, help_text="Promised time limit (承诺时限), working days; at most legal_days."
    )
    approval_levels = SmallInt(default=1, help_text="Levels of review before a decision, 1-3.")
    counter_visit = Boolean(
        default=False, help_text="True when the applicant must come to a counter at least once."
    )
    delivery = JSON(default=["online"], help_text="Delivery options, values of Delivery.")
    min_assurance = SmallInt(
        default=1, help_text="Lowest identity assurance level (1-3) allowed to apply."
    )
    allows_tolerated = Boolean(
        default=False, help_text="容缺受理: accepted with a tolerable material missing."
    )
    allows_pledge = Boolean(
        default=False, help_text="告知承诺: a signed pledge may replace pledge-substitutable proof."
    )
    pledge_text_zh = Text(default="", help_text="The pledge the applicant signs, Chinese.")
    pledge_text_en = Text(default="", help_text="The pledge the applicant signs, English.")
    deferral_max_days = SmallInt(
        default=0, help_text="延期: days within which deferrable materials may follow; 0 = never."
    )
    result_licence = Varchar(
        length=40,
        default="",
        help_text="Licence type issued on approval (licence library code); empty = a decision.",
    )
    life_events = JSON(default=[], help_text="Codes of the life events the item is listed under.")
    position = Integer(default=0, help_text="Order within its department, smallest first.")
    synthetic = Boolean(
        default=False, index=True, help_text="Made by `tongban catalogue generate`, not real."
    )
    updated_at = Timestamptz(default=TimestamptzNow())


class Material(Table, tablename="catalogue_material"):
    """A material (申请材料) an item asks for, perhaps only for some guide answers."""

    id = Serial(primary_key=True)

    item = ForeignKey(ServiceItem, on_delete=OnDelete.cascade, index=True)
    code = Varchar(
        length=60,
        help_text="Slug unique within the item; items of a bundle share codes for shared papers.",
    )
    position = Integer(default=0, help_text="Order on the checklist.")
    name_zh = Varchar(length=200, help_text="Name in Chinese.")
    name_en = Varchar(length=300, help_text="Name in English.")
    note_zh = Text(default="", help_text="What exactly to provide, Chinese.")
    note_en = Text(default="", help_text="What exactly to provide, English.")
    kind = Varchar(length=10, choices=MaterialKind, help_text="upload, original or licence.")
    licence_type = Varchar(
        length=40, default="", help_text="Licence type code for kind licence, e.g. id_card."
    )
    required = Boolean(default=True, help_text="False: only when it applies to the applicant.")
    tolerable = Boolean(default=False, help_text="容缺: may be missing at acceptance.")
    pledgeable = Boolean(default=False, help_text="告知承诺: a pledge may replace it.")
    deferrable = Boolean(default=False, help_text="延期: may follow within deferral_max_days.")
    condition = JSON(
        null=True,
        default=None,
        help_text="When it is needed, over guide answers (app/catalogue/conditions.py); "
        "empty = always.",
    )


class GuideQuestion(Table, tablename="catalogue_guide_question"):
    """A question of an item's smart guide (智能导办); answers decide which materials apply."""

    id = Serial(primary_key=True)

    item = ForeignKey(ServiceItem, on_delete=OnDelete.cascade, index=True)
    code = Varchar(length=60, help_text="Slug unique within the item, used by conditions.")
    position = Integer(default=0, help_text="Order in the guide.")
    text_zh = Varchar(length=300, help_text="The question, Chinese.")
    text_en = Varchar(length=400, help_text="The question, English.")
    multiple = Boolean(default=False, help_text="True: several options may be chosen.")
    options = JSON(default=[], help_text='Options: [{"code": …, "zh": …, "en": …}, …].')


class Bundle(Table, tablename="catalogue_bundle"):
    """一件事: items of several departments applied for together, sharing materials."""

    id = Serial(primary_key=True)

    code = Varchar(
        length=60, unique=True, index=True, help_text="Stable slug, e.g. open-restaurant."
    )
    name_zh = Varchar(length=150, help_text="Name in Chinese.")
    name_en = Varchar(length=250, help_text="Name in English.")
    description_zh = Text(default="", help_text="What the bundle covers, Chinese.")
    description_en = Text(default="", help_text="What the bundle covers, English.")
    items = JSON(default=[], help_text="Codes of its service items, in the order to apply.")
    shared_materials = JSON(
        default=[], help_text="Material codes handed in once for every item that asks for them."
    )
    life_events = JSON(default=[], help_text="Codes of the life events it is listed under.")
    position = Integer(default=0, help_text="Order on the browse page.")
