"""How stored values are shown to people: local time, device names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

# Every service centre is in mainland China; times are shown in China Standard Time.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for Timestamptz columns; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return as_utc(moment).astimezone(LOCAL_ZONE).strftime(fmt)


def mask_phone(e164: str) -> str:
    """``138****0001``: enough to tell numbers apart in lists and logs, not enough to call."""
    digits = e164.removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else "****"


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
