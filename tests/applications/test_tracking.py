"""Tracking (一码通): the code form, the public and the applicant's views of the tracking page,
the JSON API, the QR code and the lookup limit."""

from __future__ import annotations

import re
from typing import Any

import pytest
import segno

from app.accounts.tables import Account
from app.applications import service
from app.applications.tables import Application, Provision
from app.applications.tracking import LOOKUPS_PER_MINUTE, RATE_BUCKET
from app.core.i18n import translations
from tests.accounts.helpers import sign_in
from tests.applications.people import account, fill, fresh, guide_of, officer, submitted
from tests.conftest import PageClient

REASON = "申请人提交的印章样式不符合规定ZQX"  # an officer's words: the applicant's alone


async def lookups_forgotten(redis: Any) -> None:
    """Every client of the suite comes from one address: start each test with a fresh count."""
    async for key in redis.scan_iter(f"tongban:rate:{RATE_BUCKET}:*"):
        await redis.delete(key)


async def rejected() -> tuple[Account, Application]:
    applicant, application = await submitted()
    clerk = await officer("public-security")
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "prereview", version=case.version)
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "reject", version=case.version, reason=REASON)
    return applicant, await fresh(application)


def zh(msgid: str) -> str:
    return translations("zh-Hans").gettext(msgid)


@pytest.fixture
def client(client: PageClient) -> PageClient:
    """Pages in English: the assertions read our msgids, whatever the catalogue holds."""
    client.headers["Accept-Language"] = "en"
    return client


def assert_nothing_personal(text: str, applicant: Account) -> None:
    assert REASON not in text
    assert applicant.name not in text and "李四" not in text  # applicant and officer
    assert applicant.phone[3:] not in text and applicant.phone[-4:] + "<" not in text


async def test_the_form_sends_a_code_as_typed_to_its_page(client: PageClient, redis: Any) -> None:
    page = await client.get("/track")
    assert page.status_code == 200
    assert 'action="/track" method="get"' in page.text
    sent = await client.get("/track", params={"code": " 2026-abcd-2345 "}, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/track/2026ABCD2345"
    # Look-alikes: O is read as 0, which a code never holds, so this cannot be one.
    refused = await client.get("/track", params={"code": "2026-OOOO-2345"})
    assert refused.status_code == 400
    assert "That is not a tracking code." in refused.text
    assert 'aria-invalid="true"' in refused.text


async def test_a_code_holder_sees_states_and_dates_but_no_reasons_or_names(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    applicant, application = await rejected()
    page = await client.get(f"/track/{application.code}")
    assert page.status_code == 200
    assert service.display_code(application.code) in page.text
    assert "Rejected" in page.text  # the state
    assert "Submitted by the applicant" in page.text  # the timeline's labels
    assert "Pre-review started" in page.text
    assert f"/track/{application.code}/qr.svg" in page.text
    assert f'href="/applications/{application.id}"' not in page.text
    assert_nothing_personal(page.text, applicant)
    assert page.headers["cache-control"] == "no-store"


async def test_the_applicant_signed_in_sees_the_reasons_and_a_link(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    applicant, application = await rejected()
    await sign_in(client, applicant.phone)
    page = await client.get(f"/track/{application.code}")
    assert page.status_code == 200
    assert page.text.count(REASON) == 2  # the case's decision and the timeline's event
    assert f'href="/applications/{application.id}"' in page.text
    # Someone else signed in is just another code holder.
    await sign_in(client, (await account()).phone)
    other = await client.get(f"/track/{application.code}")
    assert other.status_code == 200 and REASON not in other.text


async def test_the_applicant_sees_the_materials_still_owed_with_their_due_dates(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    applicant = await account()
    guide = await guide_of("drainage-permit")
    application = await service.start(applicant, guide, {"discharger": frozenset({"catering"})}, {})
    entries = await service.entries_of(int(application.id))
    trap = next(entry for entry in entries if entry.code == "grease_trap")
    await service.choose(applicant, application, int(trap.id), Provision.MISSING)
    application = await fill(applicant, application)
    await service.submit(
        applicant, application, version=application.version, assurance=2, items=guide.items
    )
    clerk = await officer("water")
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "prereview", version=case.version)
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "accept", version=case.version, mode="tolerated")
    owed = next(
        entry
        for entry in await service.entries_of(int(application.id))
        if entry.code == "grease_trap"
    )
    assert owed.due_on is not None

    public = await client.get(f"/track/{application.code}")
    assert public.status_code == 200 and trap.name_zh not in public.text
    await sign_in(client, applicant.phone)
    mine = await client.get(f"/track/{application.code}")
    assert trap.name_zh in mine.text and owed.due_on.isoformat() in mine.text


async def test_unknown_junk_and_draft_codes_are_not_found(client: PageClient, redis: Any) -> None:
    await lookups_forgotten(redis)
    for path in ("/track/2026ABCD2345", "/track/junk", "/track/" + "9" * 300):
        page = await client.get(path)
        assert page.status_code == 404, path
    assert (
        "No application has this tracking code." in (await client.get("/track/2026ABCD2345")).text
    )
    applicant = await account()
    draft = await service.start(applicant, await guide_of("seal-engraving"), {}, {})
    assert (await client.get(f"/track/{draft.code}")).status_code == 404
    await sign_in(client, applicant.phone)
    assert (await client.get(f"/track/{draft.code}")).status_code == 200  # the owner's own


async def test_a_code_as_typed_is_sent_on_to_its_one_address(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    _applicant, application = await submitted()
    typed = service.display_code(application.code).lower()
    moved = await client.get(f"/track/{typed}", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/track/{application.code}"


async def test_the_api_answers_the_public_view_without_personal_data(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    applicant, application = await rejected()
    response = await client.get(f"/api/v1/track/{service.display_code(application.code)}")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in response.headers
    body = response.json()
    assert body["code"] == application.code
    assert (body["state"], body["state_label_zh"], body["state_label_en"]) == (
        "rejected",
        zh("Rejected"),
        "Rejected",
    )
    assert body["cases"] == [
        {
            "title_zh": "公章刻制备案",
            "title_en": "Registration of engraved company seals",
            "state": "rejected",
            "promised_due": None,
        }
    ]
    actions = [event["action"] for event in body["events"]]
    assert actions[0] == "application_create" and actions[-1] == "case_reject"
    assert (
        body["events"][-1]["label_zh"] == zh("Rejected")
        and body["events"][-1]["to_state"] == "rejected"
    )
    assert_nothing_personal(response.text, applicant)

    missing = await client.get("/api/v1/track/2026ABCD2345", headers={"Accept-Language": "en"})
    assert missing.status_code == 404
    assert missing.json() == {
        "status_code": 404,
        "detail": "No application has this tracking code. Check it and try again.",
    }


async def test_lookups_are_limited_per_address(client: PageClient, redis: Any) -> None:
    await lookups_forgotten(redis)
    for _ in range(LOOKUPS_PER_MINUTE):
        assert (await client.get("/track/2026ABCD2345")).status_code == 404
    page = await client.get("/track/2026ABCD2345")
    assert page.status_code == 429
    assert "Too many tracking codes were looked up" in page.text
    api = await client.get("/api/v1/track/2026ABCD2345")
    assert api.status_code == 429 and api.json()["status_code"] == 429
    # The form and the QR code look nothing up: they still work.
    assert (await client.get("/track")).status_code == 200
    assert (await client.get("/track/2026ABCD2345/qr.svg")).status_code == 200
    await lookups_forgotten(redis)


def modules_of(svg: str) -> list[list[bool]]:
    """The dark modules drawn by segno's SVG path (rows of horizontal runs, relative moves)."""
    path = re.search(r' d="([^"]+)"', svg)
    assert path is not None
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, numbers in re.findall(r"([Mmh])([-\d. ]+)", path.group(1)):
        values = [float(n) for n in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(values[0])))
            x += values[0]
    size = max(column for column, _row in dark) + 1 - 4  # less the 4-module quiet zone
    return [[(c + 4, r + 4) in dark for c in range(size)] for r in range(size)]


async def test_the_qr_code_holds_the_public_address_of_the_page(client: PageClient) -> None:
    _applicant, application = await submitted()
    response = await client.get(f"/track/{application.code}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "public" in response.headers["cache-control"]
    assert response.text.startswith("<svg") and "<path" in response.text
    expected = segno.make_qr(f"http://localhost:8000/track/{application.code}", error="m")
    assert modules_of(response.text) == [[bool(v) for v in row] for row in expected.matrix]
    for junk in ("2026-abcd-2345", "junk"):
        assert (await client.get(f"/track/{junk}/qr.svg")).status_code == 404


async def test_the_public_page_is_rendered_once_per_version_and_follows_every_change(
    client: PageClient, redis: Any
) -> None:
    await lookups_forgotten(redis)
    _applicant, application = await submitted()
    before = await client.get(f"/track/{application.code}")
    again = await client.get(f"/track/{application.code}")  # from the page cache
    assert "Pre-review started" not in before.text and "Pre-review started" not in again.text
    clerk = await officer("public-security")
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "prereview", version=case.version)
    after = await client.get(f"/track/{application.code}")
    assert "Pre-review started" in after.text  # a new version: rendered again
