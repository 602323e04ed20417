from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.signing.tables import SignableDocument, Signature

APP_CONFIG = AppConfig(
    app_name="signing",
    migrations_folder_path=ROOT / "migrations" / "signing",
    table_classes=[SignableDocument, Signature],
    migration_dependencies=["app.accounts.piccolo_app"],
)
