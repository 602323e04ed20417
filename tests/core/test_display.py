from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.core.display import device_name, local_time


def test_times_are_shown_in_china_standard_time() -> None:
    assert local_time(datetime(2026, 11, 22, 16, 30, tzinfo=UTC)) == "2026-11-23 00:30"
    assert local_time(datetime(2026, 11, 22, 16, 30)) == "2026-11-23 00:30"  # naive = UTC
    assert local_time(None) == ""


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; 23127PN0CC) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47",
            "WeChat · Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari · iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0",
            "Edge · Windows",
        ),
        ("curl/8.5.0", ""),
    ],
)
def test_devices_get_a_short_name(agent: str, expected: str) -> None:
    assert device_name(agent) == expected
