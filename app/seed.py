"""Demo data for ``make run``: every seeder is safe to run again (the catalogue is upserted
from its data file, the rest inserted only where missing)."""

from __future__ import annotations

from app.accounts.seed import seed_accounts
from app.applications.seed import seed_applications
from app.appointments.seed import seed_appointments
from app.catalogue.datafile import load
from app.catalogue.seed import seed_catalogue, seed_departments
from app.courier.seed import seed_courier
from app.licences.seed import seed_licences


async def seed_all() -> dict[str, int]:
    catalogue = load()  # read and checked once
    departments = await seed_departments(catalogue)  # accounts refer to departments: first
    accounts = await seed_accounts()
    licences = await seed_licences()  # licences refer to accounts: after them
    services = await seed_catalogue(catalogue)  # the data file, upserted: edits show on reseeding
    applications = await seed_applications()  # through the rules: needs all of the above
    centres = await seed_appointments()  # centres, counters and their slots
    shipments = await seed_courier()  # addresses and shipments of the demo applications
    return {
        "departments": departments,
        "accounts": accounts,
        "licences": licences,
        "services": services,
        "applications": applications,
        "centres": centres,
        "shipments": shipments,
    }
