from piccolo.conf.apps import AppConfig

from app.accounts.tables import Account, LoginSession, Passkey, SmsChallenge
from app.config import ROOT

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=ROOT / "migrations" / "accounts",
    table_classes=[Account, SmsChallenge, Passkey, LoginSession],
    migration_dependencies=["app.catalogue.piccolo_app"],
)
