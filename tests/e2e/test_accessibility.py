"""Every page a browser can open, in Chinese and English, normal and elderly mode: no violation
of WCAG 2.2 AA that axe-core can find; in elderly mode, no text below the enhanced contrast
of WCAG 1.4.6 (AAA) either, as that mode promises (tests/e2e/axe.py runs the rule there).

The pages come from the app's own routes: a GET route that is neither visited here nor listed
as not being a page fails test_every_get_route_is_audited_or_not_a_page, so a new page is
checked the day it is added.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from litestar.routes import ASGIRoute
from playwright.async_api import Browser, BrowserContext, Page, expect

from app.accounts.tables import Account
from app.asgi import create_app
from app.core.context import ELDER_COOKIE
from app.core.i18n import LANG_COOKIE
from app.identity.tables import Verification
from tests.conftest import ServerProcess
from tests.e2e import a11y_appointments, a11y_courier
from tests.e2e.axe import AxeNet, report
from tests.e2e.conftest import PHONE
from tests.e2e.people import add_virtual_authenticator, sign_in_by_sms
from tests.e2e.visits import Flow, Visit

CHECKLIST = "/guide/{code:str}/checklist"
RATING = "/applications/{application_id:int}/rating"
COMPLAINT = "/officer/complaints/{complaint_id:int}"
SUPERMARKET = (
    "business_type=supermarket&scale=large&sales_mode=wholesale&sales_mode=retail"
    "&on_site_preparation=yes&special_food=no"
)

# Each page as the person who can see it. Several states of a page are visits too.
VISITS = (
    Visit("/", "visitor"),
    Visit("/signin", "visitor"),
    Visit("/offline", "visitor"),
    Visit("/dev/sms", "visitor"),
    Visit("/account", "citizen"),
    Visit("/account", "staff"),  # with a passkey: the list with rename and delete forms
    Visit("/staff", "staff"),
    Visit("/staff", "citizen", status=403),  # the error page inside the full layout
    Visit("/officer", "staff"),  # the market-regulation officer's inbox
    Visit("/officer?state=in_review&owed=1", "staff", route="/officer"),
    Visit("/no-such-page", "visitor", status=404),  # the error page without the footer forms
    Visit("/licences", "citizen"),
    Visit("/applications", "citizen"),
    # 李四's ID card is licence 1 on a freshly seeded database (app/licences/seed.py).
    Visit("/licences/1", "citizen", route="/licences/{licence_id:int}"),
    Visit("/licences/verify/junk", "visitor", status=400, route="/licences/verify/{token:str}"),
    Visit("/services", "visitor"),
    Visit("/services?q=spjy", "visitor", route="/services"),
    Visit("/services/food-business-licence", "visitor", route="/services/{code:str}"),
    Visit("/bundles/open-restaurant", "visitor", route="/bundles/{code:str}"),
    Visit("/departments/market-regulation", "visitor", route="/departments/{code:str}"),
    Visit("/life-events/open-business", "visitor", route="/life-events/{code:str}"),
    Visit("/guide/food-business-licence", "visitor", route="/guide/{code:str}"),
    Visit("/guide/food-business-licence?answered=1", "visitor", 400, "/guide/{code:str}"),
    Visit("/guide/open-supermarket?show=2", "visitor", route="/guide/{code:str}"),
    Visit(f"/guide/food-business-licence/checklist?{SUPERMARKET}", "visitor", route=CHECKLIST),
    Visit(f"/guide/food-business-licence/checklist?{SUPERMARKET}", "citizen", route=CHECKLIST),
    Visit("/guide/food-business-licence/checklist?scale=huge", "visitor", 400, CHECKLIST),
    Visit("/track", "visitor"),
    Visit("/track?code=junk", "visitor", 400, "/track"),
    # No application exists on a freshly seeded database: the not-found state of the page.
    Visit("/track/2026ABCD2345", "visitor", 404, "/track/{code:str}"),
    Visit("/feedback", "citizen"),
    Visit("/applications/2147483647/rating", "citizen", 404, RATING),
    Visit("/officer/complaints", "staff"),
    Visit("/officer/complaints/2147483647", "staff", 404, COMPLAINT),
    Visit("/officer/figures", "staff"),
    Visit("/identity", "citizen"),
    Visit("/identity/2147483647", "citizen", 404, "/identity/{verification_id:int}"),
    Visit("/officer/identity", "staff"),
    Visit("/officer/identity/counter", "staff"),
    Visit("/officer/identity/2147483647", "staff", 404, "/officer/identity/{verification_id:int}"),
    *a11y_courier.VISITS,
    *a11y_appointments.VISITS,
)

# GET routes that are not pages for people, each with the reason.
NOT_PAGES = {
    "/healthz": "liveness probe, JSON",
    "/readyz": "readiness probe, JSON",
    "/sw.js": "the service worker script",
    "/manifest.webmanifest": "the web app manifest, JSON",
    "/dev/sms.json": "the dev inbox as JSON, for scripts and tests",
    "/static/{file_path:path}": "static files",
    "/api/v1/services": "JSON API",
    "/api/v1/services/{code:str}": "JSON API",
    "/schema": "the OpenAPI schema, JSON",
    "/schema/openapi.json": "the OpenAPI schema, JSON",
    "/schema/{path:str}": "not found under the OpenAPI path",
    "/guide/{code:str}/checklist.pdf": "the checklist as a PDF download",
    "/admin": "piccolo-admin's own single-page app, not ours to audit",
    "/signatures/{signature_id:str}/evidence.json": "the evidence bundle, JSON download",
    "/signatures/{signature_id:str}/document.pdf": "the signed document as a PDF download",
    "/signatures/seal-key": "the seal's public key, JSON",
    "/files/{file_id:int}": "a stored file, streamed as a download",
    "/track/{code:str}/qr.svg": "the tracking page's QR code, an SVG image",
    "/api/v1/track/{code:str}": "JSON API",
    **a11y_courier.NOT_PAGES,
    **a11y_appointments.NOT_PAGES,
}

# Pages whose address is made while the test runs: audited by the flow named, in every mode.
FLOWS = {
    "/applications/{application_id:int}": "_audit_applying",
    "/sign/{document_id:int}": "_audit_signing",
    "/signatures/{signature_id:str}/verify": "_audit_signing",
    "/officer/cases/{case_id:int}": "_audit_officer",
    "/identity/{verification_id:int}": "_audit_identity",
}
# The same for each domain's pages, the flow given as a function of the pages by person.
DOMAIN_FLOWS: dict[str, Flow] = {**a11y_courier.FLOWS, **a11y_appointments.FLOWS}

COMBINATIONS = (("zh-Hans", False), ("zh-Hans", True), ("en", False), ("en", True))


def get_routes() -> set[str]:
    litestar = create_app().app
    # An ASGI mount (/admin) takes every method, GET included, though it lists none.
    return {
        route.path
        for route in litestar.routes
        if "GET" in getattr(route, "methods", ()) or isinstance(route, ASGIRoute)
    }


def test_every_get_route_is_audited_or_not_a_page() -> None:
    visited = {visit.covers for visit in VISITS} | set(FLOWS) | set(DOMAIN_FLOWS)
    unknown = get_routes() - visited - set(NOT_PAGES)
    assert not unknown, (
        f"GET routes no accessibility test opens: {sorted(unknown)}. Add each to VISITS in "
        "tests/e2e/test_accessibility.py (as the person who may see it), or to NOT_PAGES "
        "with the reason it is not a page."
    )
    gone = (visited | set(NOT_PAGES)) - get_routes() - {"/no-such-page"}
    assert not gone, f"listed in tests/e2e/test_accessibility.py but no longer routes: {gone}"


async def _citizen(browser: Browser, base: str) -> BrowserContext:
    context = await browser.new_context(**PHONE)
    await sign_in_by_sms(await context.new_page(), base, "13800000002")
    return context


async def _staff(browser: Browser, base: str, phone: str = "13800000011") -> BrowserContext:
    """A staff member (by default the market-regulation officer) who signed in by SMS once,
    added a passkey, and came back with it."""
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    await sign_in_by_sms(page, base, phone)
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("link", name="登录")).to_be_visible()
    # The sign-in page asks for a passkey at once (autofill); the authenticator answers.
    await page.goto(f"{base}/signin")
    await expect(page.get_by_role("status")).to_contain_text("已用通行密钥登录")
    return context


async def _in_mode(context: BrowserContext, base: str, lang: str, elder: bool) -> None:
    await context.add_cookies(
        [
            {"name": LANG_COOKIE, "value": lang, "url": base},
            {"name": ELDER_COOKIE, "value": "1" if elder else "0", "url": base},
        ]
    )


async def _check_shown_as(page: Page, lang: str, elder: bool) -> None:
    """The combination really is the one asked for, so each of the four is audited."""
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    if elder:
        await expect(page.locator("html")).to_have_class("elder")
    else:
        await expect(page.locator("html")).not_to_have_class("elder")


async def _audit_states_of_the_signin_form(
    page: Page, axe: AxeNet, base: str, lang: str, elder: bool, phone: str
) -> None:
    """The htmx-swapped states: a field error, then the code step."""
    await page.goto(f"{base}/signin")
    phone_field = page.locator("#sms-phone")
    await phone_field.fill("12345")
    await page.locator("form[action='/signin/code'] button[type=submit]").click()
    await expect(phone_field).to_have_attribute("aria-invalid", "true")
    await _check_shown_as(page, lang, elder)
    await axe.audit(page)
    await phone_field.fill(phone)
    await page.locator("form[action='/signin/code'] button[type=submit]").click()
    await expect(page.locator("#sms-code")).to_be_visible()
    await axe.audit(page)


async def _audit_a_flash_message(page: Page, axe: AxeNet, lang: str, elder: bool) -> None:
    """The preference form answers with a success message at the top of the page."""
    await page.locator("#pref-lang").select_option(lang)
    await page.locator("form[action='/preferences/language'] button[type=submit]").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await _check_shown_as(page, lang, elder)
    await axe.audit(page)


async def _audit_showing_a_licence(page: Page, axe: AxeNet, base: str) -> None:
    """亮证: the QR code page, then the verify page a verifier opens from it (the token is
    made at that moment, so these two cannot be fixed VISITS)."""
    await page.goto(f"{base}/licences/1")
    await page.locator("form[action='/licences/1/share'] button[type=submit]").click()
    await expect(page.locator("img.qr")).to_be_visible()
    await axe.audit(page)
    await page.locator("a[href*='/licences/verify/']").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await axe.audit(page)


async def _audit_signing(page: Page, axe: AxeNet, base: str) -> None:
    """A new data-use authorisation for the staff member (who holds a passkey): the signing
    page, signing it, the account page's flash and list, and the signature's verify page."""
    await page.goto(f"{base}/account")
    target = await page.evaluate(
        """async () => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"];
            const response = await fetch("/authorisation", {
                method: "POST",
                headers: {"x-csrftoken": token},
                body: new URLSearchParams({next: "/account"}),
            });
            return response.url;
        }"""
    )
    assert "/sign/" in target, target
    await page.goto(target)
    await expect(page.locator("[data-sign]")).to_be_visible()
    await axe.audit(page)
    await page.locator("[data-sign]").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await axe.audit(page)
    await page.locator("section[aria-labelledby='signatures-title'] a").first.click()
    await expect(page.locator(".notice-success")).to_be_visible()
    await axe.audit(page)


async def _audit_applying(page: Page, axe: AxeNet, base: str) -> None:
    """A draft started from a checklist: the application page with its upload and choice
    forms (the form is found by its action, whatever the language)."""
    await page.goto(f"{base}/guide/drainage-permit/checklist?discharger=catering")
    await page.locator("form[action^='/guide/drainage-permit/apply'] button").click()
    await expect(page.locator("#materials-title")).to_be_visible()
    assert "/applications/" in page.url
    await axe.audit(page)
    # The applicant's own view of the tracking page of that draft.
    await page.locator("a[href^='/track/']").first.click()
    await expect(page.locator("a[href^='/applications/']").first).to_be_visible()
    await axe.audit(page)


async def _audit_identity(page: Page, axe: AxeNet, base: str) -> None:
    """A verification waiting for its images: the challenge, both parts and their forms (李四
    is verified already on the seeded database, so it is made here rather than started)."""
    person = await Account.select(Account.id).where(Account.phone == "+8613800000002").first()
    assert person is not None
    verification = Verification(
        account=person["id"],
        challenge_kind="number",
        challenge="4821",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    await verification.save()
    await page.goto(f"{base}/identity/{verification.id}")
    await expect(page.locator("#identity-parts")).to_be_visible()
    await axe.audit(page)


async def _audit_officer(page: Page, axe: AxeNet, base: str) -> None:
    """A case of the demo applications (app/applications/seed.py) in the officer's inbox:
    its materials, checks, timeline and decision forms."""
    await page.goto(f"{base}/officer")
    await page.locator("a[href^='/officer/cases/']").first.click()
    await expect(page.locator("#timeline-title")).to_be_visible()
    await axe.audit(page)


async def test_every_page_in_both_languages_and_modes_meets_wcag_2_2_aa(
    browser: Browser,
    axe: AxeNet,
    live_server: ServerProcess,
    live_worker: subprocess.Popen[bytes],
) -> None:
    base = live_server.public_url
    contexts = {
        "visitor": await browser.new_context(**PHONE),
        "citizen": await _citizen(browser, base),
        "staff": await _staff(browser, base),
        "courier": await _staff(browser, base, "13800000021"),
        "floor": await _staff(browser, base, "13800000012"),
    }
    pages = {
        who: await context.new_page()
        for who, context in contexts.items()
        if who in ("visitor", "citizen")
    }
    # The page _staff signed in on: the virtual authenticator (holding the passkey) is its own.
    for who in ("staff", "courier", "floor"):
        pages[who] = contexts[who].pages[0]
    audited = []
    for number, (lang, elder) in enumerate(COMBINATIONS):
        for context in contexts.values():
            await _in_mode(context, base, lang, elder)
        for visit in VISITS:
            page = pages[visit.who]
            response = await page.goto(f"{base}{visit.path}")
            assert response is not None and response.status == visit.status, visit
            await _check_shown_as(page, lang, elder)
            await axe.audit(page)
            audited.append((visit, lang, elder))
        visitor = pages["visitor"]
        await _audit_states_of_the_signin_form(
            visitor, axe, base, lang, elder, phone=f"1390000551{number}"
        )
        await _audit_a_flash_message(visitor, axe, lang, elder)
        await _audit_showing_a_licence(pages["citizen"], axe, base)
        await _audit_signing(pages["staff"], axe, base)
        await _audit_applying(pages["citizen"], axe, base)
        await _audit_identity(pages["citizen"], axe, base)
        await _audit_officer(pages["staff"], axe, base)
        for flow in dict.fromkeys(DOMAIN_FLOWS.values()):
            await flow(pages, axe, base)

    await axe.settle()
    # Reported here once, with everything the net saw on the way (the fixture would too).
    found = axe.take()
    assert not found, report(found)
    assert len(audited) == len(VISITS) * len(COMBINATIONS)
