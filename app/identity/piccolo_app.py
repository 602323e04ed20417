from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.identity.tables import Attempt, Fingerprint, Verification

APP_CONFIG = AppConfig(
    app_name="identity",
    migrations_folder_path=ROOT / "migrations" / "identity",
    table_classes=[Verification, Attempt, Fingerprint],
    migration_dependencies=[
        "app.accounts.piccolo_app",
        "app.files.piccolo_app",
        "app.licences.piccolo_app",
    ],
)
