from piccolo.conf.apps import AppConfig

from app.config import ROOT
from app.notifications.tables import DevMessage, Notification

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=ROOT / "migrations" / "notifications",
    table_classes=[Notification, DevMessage],
)
