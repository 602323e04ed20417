"""Write-time checks for rows changed through the admin (piccolo-api ``Hook``s).

Pages trust what they read: ``services.read_item`` parses every condition against its item's
questions and fails loudly on nonsense, so nonsense must not be written in the first place.
The seeder checks the data file the same way (``app/catalogue/datafile.py``); these hooks hold
the admin to the same rules, per row:

- a material's condition parses against the questions of its item (``conditions.parse``);
- a guide question's options are ``[{"code", "zh", "en"}, …]`` with unique codes, and after
  a question is added, changed or deleted every condition of its item still parses;
- lists of codes (delivery options, life events, a bundle's items) name things that exist.

A refused change is answered 422 with a localised sentence, which the admin shows.
PUT, which piccolo-api runs without hooks, is refused for every table by the mount.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table
from piccolo_api.crud.hooks import Hook, HookType
from starlette.exceptions import HTTPException

from app.catalogue.conditions import ConditionError, parse
from app.catalogue.tables import (
    Bundle,
    Delivery,
    GuideQuestion,
    LifeEvent,
    Material,
    ServiceItem,
)
from app.core.i18n import _
from app.licences.tables import LicenceType

Options = dict[str, frozenset[str]]


class Refused(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=422, detail=detail)


def _id(value: Any) -> int | None:
    """A foreign key as piccolo-api hands it over: an id, or a row."""
    if isinstance(value, Table):
        value = getattr(value, "id", None)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json(value: Any) -> Any:
    """A JSON column's value as piccolo-api hands it over: the admin sends JSON text."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise Refused(_("This is not valid JSON.")) from exc
    return value


def _condition(value: Any) -> Any:
    """An empty condition means "always", stored as NULL like the seeder stores it."""
    value = _json(value)
    return None if value in (None, {}, "") else value


async def _questions(item_id: int) -> Options:
    rows = await (
        GuideQuestion.select(GuideQuestion.id, GuideQuestion.code, GuideQuestion.options)
        .where(GuideQuestion.item == item_id)
        .output(load_json=True)
    )
    return {row["code"]: _option_codes(row["options"]) for row in rows}


def _option_codes(options: Any) -> frozenset[str]:
    if not isinstance(options, list):
        return frozenset()
    return frozenset(o["code"] for o in options if isinstance(o, dict) and "code" in o)


def _check_condition(condition: Any, questions: Options) -> None:
    if condition is None:
        return
    try:
        parse(condition, questions)
    except ConditionError as exc:
        raise Refused(_("The condition is not valid: %(error)s", error=str(exc))) from exc


async def _item_exists(item_id: int | None) -> int:
    if item_id is None or not await ServiceItem.exists().where(ServiceItem.id == item_id):
        raise Refused(_("Choose an existing service item."))
    return item_id


# Materials ---------------------------------------------------------------------------------


async def material_pre_save(row: Material) -> Material:
    item_id = await _item_exists(_id(row.item))
    row.condition = _condition(row.condition)
    _check_condition(row.condition, await _questions(item_id))
    return row


async def material_pre_patch(row_id: Any, values: dict[Column, Any]) -> dict[Column, Any]:
    if Material.condition not in values and Material.item not in values:
        return values
    current = (
        await Material.select(Material.item, Material.condition)
        .where(Material.id == _id(row_id))
        .output(load_json=True)
        .first()
    )
    if current is None:
        return values  # piccolo-api answers 404 for a row that is gone
    item_id = await _item_exists(_id(values.get(Material.item, current["item"])))
    condition = _condition(values.get(Material.condition, current["condition"]))
    if Material.condition in values:
        values[Material.condition] = condition
    _check_condition(condition, await _questions(item_id))
    return values


# Guide questions ---------------------------------------------------------------------------


def _check_options(options: Any) -> frozenset[str]:
    options = _json(options)
    if not isinstance(options, list) or not options:
        raise Refused(_('Options must be a list like [{"code": "a", "zh": "…", "en": "…"}].'))
    codes = []
    for option in options:
        if (
            not isinstance(option, dict)
            or set(option) != {"code", "zh", "en"}
            or not all(isinstance(value, str) and value.strip() for value in option.values())
        ):
            raise Refused(_('Options must be a list like [{"code": "a", "zh": "…", "en": "…"}].'))
        codes.append(option["code"])
    if len(set(codes)) != len(codes):
        raise Refused(_("Option codes must be unique within a question."))
    return frozenset(codes)


async def _conditions_still_hold(item_id: int, questions: Options) -> None:
    """Every condition of the item must parse against its questions as they will be."""
    rows = await (
        Material.select(Material.code, Material.condition)
        .where(Material.item == item_id, Material.condition.is_not_null())
        .output(load_json=True)
    )
    for row in rows:
        if row["condition"] is None:
            continue
        try:
            parse(row["condition"], questions)
        except ConditionError as exc:
            raise Refused(
                _(
                    "Material %(material)s would no longer fit the questions: %(error)s",
                    material=row["code"],
                    error=str(exc),
                )
            ) from exc


async def question_pre_save(row: GuideQuestion) -> GuideQuestion:
    item_id = await _item_exists(_id(row.item))
    questions = await _questions(item_id)
    questions[row.code] = _check_options(row.options)
    await _conditions_still_hold(item_id, questions)
    return row


async def question_pre_patch(row_id: Any, values: dict[Column, Any]) -> dict[Column, Any]:
    watched = (GuideQuestion.item, GuideQuestion.code, GuideQuestion.options)
    if not any(column in values for column in watched):
        return values
    current = (
        await GuideQuestion.select(GuideQuestion.item, GuideQuestion.code, GuideQuestion.options)
        .where(GuideQuestion.id == _id(row_id))
        .output(load_json=True)
        .first()
    )
    if current is None:
        return values
    old_item = int(current["item"])
    new_item = await _item_exists(_id(values.get(GuideQuestion.item, old_item)))
    code = str(values.get(GuideQuestion.code, current["code"]))
    options = _check_options(values.get(GuideQuestion.options, current["options"]))
    # The item it leaves (if any) must do without it; the item it joins gets it as changed.
    old_questions = await _questions(old_item)
    old_questions.pop(current["code"], None)
    if new_item != old_item:
        await _conditions_still_hold(old_item, old_questions)
        new_questions = await _questions(new_item)
    else:
        new_questions = old_questions
    new_questions[code] = options
    await _conditions_still_hold(new_item, new_questions)
    return values


async def question_pre_delete(row_id: Any) -> None:
    current = (
        await GuideQuestion.select(GuideQuestion.item, GuideQuestion.code)
        .where(GuideQuestion.id == _id(row_id))
        .first()
    )
    if current is None:
        return
    questions = await _questions(int(current["item"]))
    questions.pop(current["code"], None)
    await _conditions_still_hold(int(current["item"]), questions)


# Lists of codes ----------------------------------------------------------------------------


Known = Callable[[], Awaitable[frozenset[str]]]


def _codes_of(table: type[Table]) -> Known:
    async def known() -> frozenset[str]:
        code = table._meta.get_column_by_name("code")
        return frozenset(row["code"] for row in await table.select(code))

    return known


async def _deliveries() -> frozenset[str]:
    return frozenset(Delivery)


async def _check_codes(value: Any, known: Known) -> None:
    value = _json(value)
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise Refused(_('Write a list of codes, like ["a", "b"].'))
    unknown = sorted(set(value) - await known())
    if unknown:
        raise Refused(_("Unknown codes: %(codes)s", codes=", ".join(unknown)))


def code_lists(columns: Mapping[Column, Known]) -> list[Hook]:
    """Hooks checking that each JSON column of ``columns`` holds a list of known codes."""

    async def pre_save(row: Table) -> Table:
        for column, known in columns.items():
            await _check_codes(getattr(row, column._meta.name), known)
        return row

    async def pre_patch(row_id: Any, values: dict[Column, Any]) -> dict[Column, Any]:
        for column, known in columns.items():
            if column in values:
                await _check_codes(values[column], known)
        return values

    return [
        Hook(hook_type=HookType.pre_save, callable=pre_save),
        Hook(hook_type=HookType.pre_patch, callable=pre_patch),
    ]


MATERIAL_HOOKS = [
    Hook(hook_type=HookType.pre_save, callable=material_pre_save),
    Hook(hook_type=HookType.pre_patch, callable=material_pre_patch),
]
QUESTION_HOOKS = [
    Hook(hook_type=HookType.pre_save, callable=question_pre_save),
    Hook(hook_type=HookType.pre_patch, callable=question_pre_patch),
    Hook(hook_type=HookType.pre_delete, callable=question_pre_delete),
]
ITEM_HOOKS = code_lists(
    {ServiceItem.delivery: _deliveries, ServiceItem.life_events: _codes_of(LifeEvent)}
)
BUNDLE_HOOKS = code_lists(
    {
        Bundle.items: _codes_of(ServiceItem),
        Bundle.shared_materials: _codes_of(Material),
        Bundle.life_events: _codes_of(LifeEvent),
    }
)


async def _check_fields(value: Any) -> None:
    value = _json(value)
    if not isinstance(value, list) or not all(
        isinstance(field, dict)
        and set(field) == {"key", "zh", "en"}
        and all(isinstance(text, str) and text.strip() for text in field.values())
        for field in value
    ):
        raise Refused(_('Fields must be a list like [{"key": "a", "zh": "…", "en": "…"}].'))


async def licence_type_pre_save(row: LicenceType) -> LicenceType:
    await _check_fields(row.fields)
    return row


async def licence_type_pre_patch(row_id: Any, values: dict[Column, Any]) -> dict[Column, Any]:
    if LicenceType.fields in values:
        await _check_fields(values[LicenceType.fields])
    return values


LICENCE_TYPE_HOOKS = [
    Hook(hook_type=HookType.pre_save, callable=licence_type_pre_save),
    Hook(hook_type=HookType.pre_patch, callable=licence_type_pre_patch),
]
