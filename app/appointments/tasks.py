"""arq jobs and crons of this domain, registered in workers/settings.py."""

from __future__ import annotations

from typing import Any

FUNCTIONS: list[Any] = []
CRON_JOBS: list[Any] = []
