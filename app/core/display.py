"""How stored values are shown to people: local time, device names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Every service centre is in mainland China; times are shown in China Standard Time.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return aware.astimezone(LOCAL_ZONE).strftime(fmt)


_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("EdgA", "Edge"),
    ("Edg/", "Edge"),
    ("HeadlessChrome", "Chrome"),
    ("Chrome/", "Chrome"),
    ("CriOS", "Chrome"),
    ("Firefox/", "Firefox"),
    ("FxiOS", "Firefox"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("HarmonyOS", "HarmonyOS"),
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str) -> str:
    """A short "browser · system" label from a User-Agent header, or "" when unrecognised."""
    browser = next((name for token, name in _BROWSERS if token in user_agent), "")
    system = next((name for token, name in _SYSTEMS if token in user_agent), "")
    return " · ".join(part for part in (browser, system) if part)
