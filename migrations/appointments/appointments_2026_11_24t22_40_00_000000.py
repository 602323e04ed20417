"""Composite indexes: a centre's slots of one group and day, a day's queue at a centre, and
the holds a sweep reclaims.

Piccolo runs a migration's raw steps before its new tables, so these follow the tables in a
migration of their own.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-24T22:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "slot and queue indexes"

INDEXES = (
    'CREATE INDEX appointments_slot_centre_day ON appointments_slot (centre, day, "group")',
    "CREATE INDEX appointments_ticket_queue ON appointments_ticket (centre, day, state)",
    "CREATE INDEX appointments_booking_holds ON appointments_booking (state, hold_until)",
    "CREATE INDEX appointments_booking_due ON appointments_booking (state, day)",
)


class RawTable(Table):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="appointments", description=DESCRIPTION)

    async def create() -> None:
        for statement in INDEXES:
            await RawTable.raw(statement)

    async def drop() -> None:
        for statement in INDEXES:
            name = statement.split()[2]
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
