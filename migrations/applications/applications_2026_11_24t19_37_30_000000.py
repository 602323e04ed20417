"""Composite indexes for the officer inbox, a citizen's list and the obligation sweep.

Piccolo runs a migration's raw steps before its new tables, so these follow the tables in a
migration of their own.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-24T19:37:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "inbox indexes"

INDEXES = (
    # An officer's inbox pages by (department, state, id) or (department, id); a citizen's
    # list by (applicant, id); keyset pagination is then one index range scan.
    "CREATE INDEX applications_case_inbox ON applications_case (department, state, id)",
    "CREATE INDEX applications_case_department_id ON applications_case (department, id)",
    "CREATE INDEX applications_application_mine ON applications_application (applicant, id)",
    "CREATE INDEX applications_material_owed ON applications_material (obligation, due_on)",
)


class RawTable(Table):
    pass


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="applications", description=DESCRIPTION)

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
