"""What the accessibility net (tests/e2e/test_accessibility.py) opens: fixed visits, and flows
for pages whose address is made while the test runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import Page

from tests.e2e.axe import AxeNet


@dataclass(frozen=True)
class Visit:
    path: str
    # "visitor" (signed out), "citizen" (SMS sign-in), or a passkey session: "staff" (the
    # market-regulation officer), "courier" (钱快递) or "floor" (赵巡查, the floor manager).
    who: str
    status: int = 200
    route: str = ""  # the route template, when the path fills in a parameter

    @property
    def covers(self) -> str:
        return self.route or self.path


# A flow gets the signed-in page of each person above (keyed as in Visit.who), the axe net and
# the base URL; it opens its pages and calls ``await axe.audit(page)`` on each state.
Flow = Callable[[dict[str, Page], AxeNet, str], Awaitable[None]]
