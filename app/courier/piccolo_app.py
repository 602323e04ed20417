from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.courier.tables import Address, Shipment, ShipmentEvent

APP_CONFIG = AppConfig(
    app_name="courier",
    migrations_folder_path=ROOT / "migrations" / "courier",
    table_classes=[Address, Shipment, ShipmentEvent],
    migration_dependencies=[
        "app.accounts.piccolo_app",
        "app.applications.piccolo_app",
        "app.files.piccolo_app",
    ],
)
