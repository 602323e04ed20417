from piccolo.conf.apps import AppConfig

from app.appointments.tables import (
    Booking,
    Centre,
    Counter,
    ServiceGroup,
    Slot,
    Ticket,
    TicketSequence,
)
from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="appointments",
    migrations_folder_path=ROOT / "migrations" / "appointments",
    table_classes=[ServiceGroup, Centre, Counter, Slot, Booking, Ticket, TicketSequence],
    migration_dependencies=[
        "app.accounts.piccolo_app",
        "app.applications.piccolo_app",
    ],
)
