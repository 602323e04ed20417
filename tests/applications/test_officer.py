"""The officers' back office over HTTP: who gets in (an officer in a passkey session, of the
case's department), the case page with its materials side by side, every decision through its
form, stale and refused forms that change nothing, and the files an officer may fetch."""

from __future__ import annotations

import re

import httpx

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from app.applications import service
from app.applications.tables import Application, AuditEntry, Case, State
from app.files.tables import StoredFile
from app.licences.tables import Licence
from app.notifications.tables import Notification
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.applications.people import case_in, draft, fresh, guide_of, submitted, to_review
from tests.conftest import PageClient, csrf_from
from tests.files.conftest import jpeg, pdf
from tests.people import staff_signed_in

SEALS = "public-security"  # the department of seal-engraving


# People ---------------------------------------------------------------------------------


async def officer_signed_in(client: PageClient, department: str = SEALS) -> Account:
    """A new officer who added a passkey at the first (SMS) sign-in, then signed in with it;
    English pages, so that the assertions read the msgids themselves."""
    return await staff_signed_in(client, Role.OFFICER, "王五", department)


async def officer_by_sms(client: PageClient, department: str = SEALS) -> None:
    typed, phone = fresh_phone()
    await create_account(phone, Role.OFFICER, department_code=department, name="赵六")
    assert (await sign_in(client, typed)).status_code == 303


def version_on(page: httpx.Response) -> int:
    found = re.search(r'name="version" value="(\d+)"', page.text)
    assert found, "no version field on the page"
    return int(found.group(1))


async def post_action(
    client: PageClient, case_id: int, action: str, **fields: str | list[str]
) -> httpx.Response:
    page = await client.get(f"/officer/cases/{case_id}")
    assert page.status_code == 200, page.text
    data: dict[str, str | list[str]] = {
        "_csrf_token": csrf_from(page),
        "action": action,
        "version": str(version_on(page)),
        **fields,
    }
    return await client.post(f"/officer/cases/{case_id}/act", data=data, follow_redirects=False)


async def seal_case(applicant: Account | None = None) -> tuple[Account, Application, Case]:
    applicant, application = await submitted("seal-engraving", applicant)
    return applicant, application, await case_in(application, SEALS)


async def state_of(case_id: int) -> tuple[str, int]:
    row = await Case.select(Case.state, Case.version).where(Case.id == case_id).first()
    assert row is not None
    return row["state"], row["version"]


# Who gets in ----------------------------------------------------------------------------


async def test_a_citizen_and_an_officer_signed_in_by_sms_are_refused(client: PageClient) -> None:
    _applicant, _application, case = await seal_case()
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    for path in ("/officer", f"/officer/cases/{case.id}"):
        assert (await client.get(path)).status_code == 403, path
    client.cookies.clear()
    await officer_by_sms(client)
    refused = await client.get("/officer")
    assert refused.status_code == 403 and "通行密钥" in refused.text
    assert (await client.get(f"/officer/cases/{case.id}")).status_code == 403
    client.cookies.clear()
    anonymous = await client.get(
        "/officer", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")


async def test_another_departments_case_a_draft_and_ids_beyond_a_serial_are_not_found(
    client: PageClient,
) -> None:
    _applicant, _application, case = await seal_case()
    await officer_signed_in(client, "market-regulation")
    assert (await client.get(f"/officer/cases/{case.id}")).status_code == 404
    token = csrf_from(await client.get("/officer"))
    posted = await client.post(
        f"/officer/cases/{case.id}/act",
        data={"_csrf_token": token, "action": "prereview", "version": str(case.version)},
    )
    assert posted.status_code == 404
    assert await state_of(int(case.id)) == (State.SUBMITTED, case.version)

    client.cookies.clear()
    await officer_signed_in(client)
    _someone, unsent = await draft()
    draft_case = await case_in(unsent, SEALS)
    assert (await client.get(f"/officer/cases/{draft_case.id}")).status_code == 404
    for case_id in (2**31, 0):
        assert (await client.get(f"/officer/cases/{case_id}")).status_code == 404
    assert (await client.get(f"/officer/cases/{case.id}")).status_code == 200


# The pages ------------------------------------------------------------------------------


async def test_the_inbox_lists_the_departments_cases_with_their_countdown(
    client: PageClient,
) -> None:
    me = await officer_signed_in(client)
    assert 'href="/officer"' in (await client.get("/staff")).text
    _applicant, application, case = await seal_case()
    await to_review(me, int(case.id))
    page = await client.get("/officer")
    assert page.status_code == 200
    assert f'href="/officer/cases/{case.id}"' in page.text
    assert service.display_code(application.code) in page.text
    assert "In review" in page.text
    assert "working day" in page.text and "left" in page.text  # the countdown
    # A filter that excludes it, a GET form that needs no token.
    rejected = await client.get("/officer?state=rejected")
    assert f'href="/officer/cases/{case.id}"' not in rejected.text
    for junk in ("state=draft", "state=nope", "mode=x", "due=later", "after=abc", "after=0"):
        response = await client.get(f"/officer?{junk}")
        assert response.status_code == 400, junk
    assert (await client.get(f"/officer?after={2**31}")).status_code == 400


async def test_the_case_page_shows_the_applicant_masked_the_materials_and_the_timeline(
    client: PageClient,
) -> None:
    await officer_signed_in(client)
    applicant, application, case = await seal_case()
    page = await client.get(f"/officer/cases/{case.id}")
    assert page.status_code == 200
    assert service.display_code(application.code) in page.text
    digits = applicant.phone.removeprefix("+86")
    assert f"{digits[:3]}****{digits[-4:]}" in page.text and digits not in page.text
    assert "张三" in page.text and 'lang="zh-Hans">张三' in page.text
    files = await service.files_of(int(application.id))
    for pages in files.values():
        for file in pages:
            assert f'<img src="/files/{file["file_id"]}"' in page.text
    assert "Check pending" in page.text  # each page's image-check status
    assert "Submitted by the applicant" in page.text  # the timeline
    # Submitted: only the pre-review can start.
    assert 'name="action" value="prereview"' in page.text
    assert 'name="action" value="accept"' not in page.text


# Decisions ------------------------------------------------------------------------------


async def test_every_decision_goes_through_its_form_up_to_the_licence(
    client: PageClient,
) -> None:
    await officer_signed_in(client)
    applicant, application, case = await seal_case()
    case_id = int(case.id)

    moved = await post_action(client, case_id, "prereview")
    assert moved.status_code == 303 and moved.headers["location"] == f"/officer/cases/{case_id}"
    page = await client.get(f"/officer/cases/{case_id}")
    assert "Done: Pre-review started." in page.text  # the flash message
    assert await state_of(case_id) == (State.PRE_REVIEW, case.version + 1)
    assert 'type="radio"' in page.text and 'value="complete" checked' in page.text

    assert (await post_action(client, case_id, "accept", mode="complete")).status_code == 303
    accepted = await Case.objects().where(Case.id == case_id).first()
    assert accepted is not None
    assert (accepted.state, accepted.mode) == (State.ACCEPTED, "complete")
    assert accepted.promised_due is not None
    assert (await post_action(client, case_id, "review")).status_code == 303

    before = await Licence.count().where(Licence.holder_account == applicant.id)
    sms_before = await Notification.count().where(Notification.recipient == applicant.phone)
    assert (await post_action(client, case_id, "approve")).status_code == 303
    assert (await state_of(case_id))[0] == State.ISSUED
    assert await Licence.count().where(Licence.holder_account == applicant.id) == before + 1
    # The applicant is told, through the outbox.
    assert (
        await Notification.count().where(Notification.recipient == applicant.phone)
        == sms_before + 1
    )
    done = await client.get(f"/officer/cases/{case_id}")
    assert 'action="/officer/cases/' + str(case_id) + '/act"' not in done.text  # nothing left
    assert (await fresh(application)).state == State.ISSUED


async def test_return_for_correction_names_the_materials_and_needs_a_reason(
    client: PageClient,
) -> None:
    me = await officer_signed_in(client)
    _applicant, application, case = await seal_case()
    case_id = int(case.id)
    await to_review(me, case_id)
    state, version = await state_of(case_id)

    refused = await post_action(client, case_id, "return", reason="  ")
    assert refused.status_code == 400 and "Please give a reason." in refused.text
    assert await state_of(case_id) == (state, version)

    codes = [entry.code for entry in await service.entries_of(int(application.id))]
    returned = await post_action(
        client, case_id, "return", reason="身份证照片不清晰", materials=codes[:1]
    )
    assert returned.status_code == 303
    assert (await state_of(case_id))[0] == State.CORRECTION
    entry = (
        await AuditEntry.select(AuditEntry.reason, AuditEntry.payload)
        .where(AuditEntry.action == "case_return", AuditEntry.subject_id == str(application.id))
        .output(load_json=True)
        .first()
    )
    assert entry is not None
    assert entry["reason"] == "身份证照片不清晰" and entry["payload"]["materials"] == codes[:1]
    page = await client.get(f"/officer/cases/{case_id}")
    assert "Paused (waiting for correction)" in page.text


async def test_reject_needs_a_reason_and_unknown_actions_change_nothing(
    client: PageClient,
) -> None:
    me = await officer_signed_in(client)
    _applicant, _application, case = await seal_case()
    case_id = int(case.id)
    await to_review(me, case_id)
    before = await state_of(case_id)
    for action, fields in (
        ("reject", {}),
        ("issue", {}),
        ("fly", {}),
        ("withdraw", {}),
        ("accept", {"mode": "pledge"}),
    ):
        response = await post_action(client, case_id, action, **fields)
        assert response.status_code == 400, action
        assert await state_of(case_id) == before, action
    rejected = await post_action(client, case_id, "reject", reason="不符合条件")
    assert rejected.status_code == 303
    assert (await state_of(case_id))[0] == State.REJECTED


async def test_a_stale_form_gets_409_with_the_message_and_changes_nothing(
    client: PageClient,
) -> None:
    await officer_signed_in(client)
    _applicant, _application, case = await seal_case()
    case_id = int(case.id)
    page = await client.get(f"/officer/cases/{case_id}")
    old = version_on(page)
    assert (await post_action(client, case_id, "prereview")).status_code == 303
    now = await state_of(case_id)
    stale = await client.post(
        f"/officer/cases/{case_id}/act",
        data={"_csrf_token": csrf_from(page), "action": "prereview", "version": str(old)},
    )
    assert stale.status_code == 409
    assert "This case changed while you were looking at it" in stale.text
    assert await state_of(case_id) == now
    for junk in ("", "x", "-1", "1" * 30):
        response = await client.post(
            f"/officer/cases/{case_id}/act",
            data={"_csrf_token": csrf_from(page), "action": "accept", "version": junk},
        )
        assert response.status_code == 400, junk
    assert await state_of(case_id) == now


# Files ----------------------------------------------------------------------------------


async def test_officers_of_the_department_may_fetch_attached_files_no_one_else(
    client: PageClient,
) -> None:
    """The file is uploaded over HTTP (real storage), attached, then fetched by each person."""
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    ids = []
    for name, data in (("执照.jpg", jpeg()), ("证明.pdf", pdf())):
        response = await client.post(
            "/files",
            files={"file": (name, data, "application/octet-stream")},
            headers={"x-csrftoken": token},
        )
        assert response.status_code == 201, response.text
        ids.append(int(response.json()["id"]))
    applicant = await Account.objects().where(Account.phone == phone).first()
    assert applicant is not None
    _me, application = await draft("seal-engraving", applicant)
    entries = await service.entries_of(int(application.id))
    for entry, file_id in zip(entries, ids, strict=True):
        stored = await StoredFile.objects().where(StoredFile.id == file_id).first()
        assert stored is not None
        await service.attach(await fresh(application), int(entry.id), stored)
    current = await fresh(application)
    guide = await guide_of("seal-engraving")
    await service.submit(
        applicant, current, version=current.version, assurance=2, items=guide.items
    )

    client.cookies.clear()
    await officer_signed_in(client)
    page = await client.get(f"/officer/cases/{(await case_in(application, SEALS)).id}")
    assert f'<img src="/files/{ids[0]}"' in page.text and f'href="/files/{ids[1]}"' in page.text
    for file_id in ids:
        fetched = await client.get(f"/files/{file_id}")
        assert fetched.status_code == 200, file_id
    client.cookies.clear()
    await officer_signed_in(client, "market-regulation")
    for file_id in ids:
        assert (await client.get(f"/files/{file_id}")).status_code == 404
    client.cookies.clear()
    other, _phone = fresh_phone()
    await sign_in(client, other)
    for file_id in ids:
        assert (await client.get(f"/files/{file_id}")).status_code == 404
