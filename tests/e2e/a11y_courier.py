"""The courier pages in the accessibility net (tests/e2e/test_accessibility.py): every GET route
of app/courier is a visit, a flow, or not a page with the reason."""

from __future__ import annotations

from tests.e2e.visits import Flow, Visit

VISITS: tuple[Visit, ...] = ()
NOT_PAGES: dict[str, str] = {}
FLOWS: dict[str, Flow] = {}
