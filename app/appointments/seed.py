"""Demo data for ``make run``, safe to run again: service groups, centres and their counters
from app/appointments/data/centres.toml, upserted by code. Slots are made on demand for the
day someone looks at, and by the nightly job for the whole booking window (tasks.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from app.appointments.tables import Centre, Counter, ServiceGroup

DATA = Path(__file__).resolve().parent / "data" / "centres.toml"
CENTRE_FIELDS = (
    "name_zh",
    "name_en",
    "district_zh",
    "district_en",
    "address_zh",
    "address_en",
    "phone",
    "hours",
    "slot_minutes",
    "per_counter",
)


def load(path: Path = DATA) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


async def seed_appointments(path: Path = DATA) -> int:
    data = load(path)
    for position, group in enumerate(data["groups"]):
        values: dict[Any, Any] = {
            ServiceGroup.prefix: group["prefix"],
            ServiceGroup.name_zh: group["name_zh"],
            ServiceGroup.name_en: group["name_en"],
            ServiceGroup.departments: group["departments"],
            ServiceGroup.position: position,
        }
        if await ServiceGroup.exists().where(ServiceGroup.code == group["code"]):
            await ServiceGroup.update(values).where(ServiceGroup.code == group["code"])
        else:
            await ServiceGroup(
                code=group["code"], **{c._meta.name: v for c, v in values.items()}
            ).save()
    for entry in data["centres"]:
        fields = {name: entry[name] for name in CENTRE_FIELDS}
        found = await Centre.objects().where(Centre.code == entry["code"]).first()
        if found is None:
            found = Centre(code=entry["code"], **fields)
            await found.save()
        else:
            await Centre.update({getattr(Centre, k): v for k, v in fields.items()}).where(
                Centre.id == found.id
            )
        for counter in entry["counters"]:
            key = f"{found.id}:{counter['number']}"
            if await Counter.exists().where(Counter.key == key):
                await Counter.update({Counter.groups: counter["groups"]}).where(Counter.key == key)
            else:
                await Counter(
                    centre=found.id, number=counter["number"], groups=counter["groups"], key=key
                ).save()
    return len(data["centres"])
