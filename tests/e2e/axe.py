"""axe-core in every page the browser tests open: the accessibility net.

The browser fixtures (tests/e2e/conftest.py) watch every context: each time a page finishes
loading, and each time htmx settles a swap, the page is audited, and the test fails at teardown
if any page it passed through had a violation. Nobody has to remember to call it, so a page
added later is checked the day a browser test first opens it; test_accessibility.py opens every
page on purpose, in both languages and both modes.

An audit is axe-core's WCAG 2.0/2.1/2.2 level A and AA rules, plus two checks of our own:
- elderly mode promises stronger contrast, so there text must also reach 7:1 (WCAG 1.4.6, AAA;
  axe's color-contrast-enhanced rule);
- WCAG 3.1.2 Language of Parts, which axe cannot see: Chinese text in a part of the page that is
  not in Chinese (an SMS body on the English dev inbox) must carry its own lang, or lang=""
  ("unknown") when people typed it, so a screen reader does not read it with the wrong voice.

axe-core is the npm package pinned in tests/e2e/package.json, installed by
tests/e2e/ensure-axe.sh (`make test` runs it). It is evaluated through the DevTools protocol, not
through a <script> element, so the pages keep their real Content-Security-Policy under test.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route
from playwright.async_api import Error as PlaywrightError

HERE = Path(__file__).resolve().parent
AXE_DIR = HERE / "node_modules" / "axe-core"

# WCAG 2.0, 2.1 and 2.2 at levels A and AA, as axe tags its rules.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")

# Runs in the page; returns plain data: the page's URL, language and mode with its violations,
# so that a report says which combination failed.
RUN = r"""
async (tags) => {
  const root = document.documentElement;
  const elder = root.classList.contains("elder");
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    rules: elder ? { "color-contrast-enhanced": { enabled: true } } : {},
    resultTypes: ["violations"],
  });
  const violations = result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" >> "), summary: n.failureSummary })),
  }));

  const path = (element) => {
    const steps = [];
    for (let e = element; e && e !== document.body; e = e.parentElement) {
      if (e.id) { steps.unshift(`#${e.id}`); break; }
      steps.unshift([e.localName, ...e.classList].join("."));
    }
    return steps.join(" > ");
  };
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!/\p{Script=Han}/u.test(node.data) || !element.checkVisibility()) continue;
    const owner = element.closest("[lang]");
    const lang = owner ? owner.getAttribute("lang") : null;
    if (lang === "" || /^zh(-|$)/i.test(lang || "")) continue;
    parts.push({
      target: path(element),
      summary: `"${node.data.trim().slice(0, 40)}" is Chinese text inside lang="${lang}"`,
    });
  }
  if (parts.length) {
    violations.push({
      id: "tongban-language-of-parts",
      impact: "serious",
      help: 'Text in another language than its surroundings must carry lang (or lang="" if unknown)',
      helpUrl: "https://www.w3.org/WAI/WCAG22/Understanding/language-of-parts.html",
      nodes: parts,
    });
  }
  return { url: location.href, lang: root.lang, elder, violations };
}
"""

# In every document of a watched context: tell the test process when htmx has settled a swap,
# so the new content is audited too. Init scripts come in through the DevTools protocol, so the
# page's CSP does not apply to them; the page's own scripts never see a difference.
ON_SWAP = """
document.addEventListener("htmx:afterSettle", () => {
  if (typeof window.__tongbanAxeSwapped === "function") window.__tongbanAxeSwapped();
});
"""

# Ample for our pages (an audit takes well under a second); a hung audit must not hang the run.
AUDIT_SECONDS = 60

SCRIPT_ELEMENT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)

# A page that navigates away while axe runs on it loses that run; that page was only passed
# through, and the next document is audited when it loads.
GONE = re.compile(
    r"Execution context was destroyed|Target page, context or browser has been closed|"
    r"Cannot find context with specified id|Frame was detached|navigat",
    re.IGNORECASE,
)


def _pinned_version() -> str:
    return str(json.loads((HERE / "package.json").read_text())["dependencies"]["axe-core"])


@cache
def axe_source() -> str:
    """The pinned axe.min.js. Missing or another version fails the run: never a silent skip."""
    how = "run `bash tests/e2e/ensure-axe.sh` (`make test` does) to install it with npm"
    script, meta = AXE_DIR / "axe.min.js", AXE_DIR / "package.json"
    if not script.is_file() or not meta.is_file():
        raise pytest.UsageError(f"axe-core is missing from tests/e2e/node_modules: {how}")
    installed, pinned = json.loads(meta.read_text())["version"], _pinned_version()
    if installed != pinned:
        raise pytest.UsageError(
            f"axe-core {installed} is installed but tests/e2e/package.json pins {pinned}: {how}"
        )
    return script.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Violation:
    """One element that fails one rule, on one page in one language and mode."""

    rule: str
    impact: str
    help: str
    help_url: str
    target: str
    summary: str
    url: str
    lang: str
    elder: bool

    @property
    def where(self) -> str:
        path = urlsplit(self.url).path or "/"
        return f"{path} [{self.lang or 'no lang'}, {'elderly' if self.elder else 'normal'}]"


def _violations(result: dict[str, Any]) -> list[Violation]:
    return [
        Violation(
            rule=rule["id"],
            impact=rule["impact"] or "-",
            help=rule["help"],
            help_url=rule["helpUrl"],
            target=node["target"],
            summary=node["summary"] or "",
            url=result["url"],
            lang=result["lang"],
            elder=result["elder"],
        )
        for rule in result["violations"]
        for node in rule["nodes"]
    ]


def report(violations: list[Violation]) -> str:
    """One block per rule and element: what is wrong, where, how to fix it, on which pages."""
    pages: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for v in violations:
        key = (v.rule, v.impact, v.help, v.help_url, v.target, v.summary)
        if v.where not in pages[key]:
            pages[key].append(v.where)
    rules = sorted({v.rule for v in violations})
    lines = [f"accessibility violations ({', '.join(rules)}):"]
    for (rule, impact, help_, help_url, target, summary), where in pages.items():
        lines += [f"- {rule} ({impact}): {help_}", f"  {help_url}", f"  at {target}"]
        lines += [f"  {line}" for line in summary.splitlines()]
        lines.append(f"  on {'; '.join(where)}")
    return "\n".join(lines)


@dataclass
class AxeNet:
    """Audits every page of the browser it covers, and keeps what it found."""

    source: str
    found: list[Violation] = field(default_factory=list)
    _open_context: Callable[..., Awaitable[BrowserContext]] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _locks: dict[object, asyncio.Lock] = field(default_factory=dict)
    _scriptless: dict[BrowserContext, dict[str, Any]] = field(default_factory=dict)
    _twins: dict[BrowserContext, Page] = field(default_factory=dict)

    def cover(self, browser: Browser) -> None:
        """Puts the net under browser.new_context, so no test opens a page it does not see, and
        under each context's close, so audits under way finish before their pages go.
        (browser.new_page opens its context out of sight, so it is refused.)"""
        self._open_context = open_context = browser.new_context

        async def new_context(**options: Any) -> BrowserContext:
            context = await open_context(**options)
            await self._watch(context, options)
            close = context.close

            async def close_after_audits(**close_options: Any) -> None:
                await self.settle()
                twin = self._twins.pop(context, None)
                if twin:
                    await twin.context.close()
                await close(**close_options)

            context.close = close_after_audits  # type: ignore[method-assign]
            return context

        async def new_page(**_options: Any) -> Page:
            # Playwright opens this page's context internally, out of the net's sight.
            raise AssertionError("open pages with browser.new_context(), so axe audits them")

        browser.new_context = new_context  # type: ignore[method-assign]
        browser.new_page = new_page  # type: ignore[method-assign]

    async def _watch(self, context: BrowserContext, options: dict[str, Any]) -> None:
        if options.get("java_script_enabled") is False:
            self._scriptless[context] = options
        else:

            async def swapped(source: dict[str, Any]) -> None:
                self._schedule(source["page"])

            await context.expose_binding("__tongbanAxeSwapped", swapped)
            await context.add_init_script(ON_SWAP)
        context.on("page", self._watch_page)
        for page in context.pages:
            self._watch_page(page)

    def _watch_page(self, page: Page) -> None:
        page.on("load", self._schedule)

    def _schedule(self, page: Page) -> None:
        task = asyncio.get_running_loop().create_task(self._audit_in_passing(page))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _audit_in_passing(self, page: Page) -> None:
        try:
            await self.audit(page)
        except PlaywrightError as error:
            if not GONE.search(str(error)):
                raise

    async def audit(self, page: Page) -> list[Violation]:
        """Audits the page as it is now; returns (and keeps) its violations."""
        url = page.url
        try:
            async with asyncio.timeout(AUDIT_SECONDS):
                # axe refuses to start while another run is going on in the same page (and the
                # pages of a context whose scripts are off share one copy).
                scriptless = page.context in self._scriptless
                key: object = page.context if scriptless else page
                async with self._locks.setdefault(key, asyncio.Lock()):
                    target = await self._twin(page) if scriptless else page
                    if not await target.evaluate("typeof window.axe === 'object'"):
                        await target.evaluate(self.source)
                    result = await target.evaluate(RUN, list(TAGS))
        except TimeoutError:
            raise AssertionError(f"axe-core did not finish on {url} in {AUDIT_SECONDS} s") from None
        found = _violations(result)
        self.found.extend(found)
        return found

    async def _twin(self, page: Page) -> Page:
        """A copy of a page whose scripts are off, for axe to run in. axe waits on timers, which
        never fire there; turning scripts on for the audit would let a document the test opens
        meanwhile run its scripts. The copy is the page's HTML without its script elements,
        served at the same URL (so the stylesheet loads) to a page of the same size whose
        scripts are on."""
        html = SCRIPT_ELEMENT.sub("", await page.content())
        url = page.url
        twin = self._twins.get(page.context)
        if twin is None:
            assert self._open_context is not None
            options = {**self._scriptless[page.context], "java_script_enabled": True}
            twin = await (await self._open_context(**options)).new_page()
            self._twins[page.context] = twin
        if page.viewport_size:
            await twin.set_viewport_size(page.viewport_size)

        async def serve(route: Route) -> None:
            await route.fulfill(body=html, content_type="text/html; charset=utf-8")

        await twin.route(lambda address: address == url, serve, times=1)
        await twin.goto(url)
        return twin

    async def settle(self) -> None:
        """Waits for the audits under way (a load or swap may start another while waiting)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def take(self) -> list[Violation]:
        """Everything found so far, which is then no longer reported by the fixture."""
        found, self.found = self.found, []
        return found
