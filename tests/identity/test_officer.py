"""The officers' side of identity verification over HTTP: who gets in (an officer in a
passkey session, any department), the queue of verifications in review and its pages, one
verification with both images and every check, approval and rejection with their SMS and
audit entries, stale and simultaneous decisions, who may fetch the images, and the counter
check with each of its refusals."""

from __future__ import annotations

import asyncio
import re

import httpx

from app.accounts.id_number import seal
from app.accounts.services import assurance_level
from app.accounts.tables import Account
from app.applications.audit import verify_chain
from app.applications.tables import AuditEntry
from app.asgi import create_app
from app.core.display import mask_phone
from app.files.tables import StoredFile
from app.identity import service
from app.identity.officer import PAGE_SIZE
from app.identity.tables import DocumentSource, Method, Verification, VerificationState
from app.notifications.tables import Notification
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.applications.people import account, officer, stored_file
from tests.applications.test_officer import officer_by_sms, officer_signed_in, version_on
from tests.conftest import PageClient, csrf_from
from tests.files.conftest import jpeg
from tests.licences.test_licences import add_licence

SELFIE_PASSED = {
    "ok": True,
    "checks": [
        {"code": "sharp", "ok": True, "message": "Sharp enough."},
        {"code": "face", "ok": True, "message": "Exactly one face, centred."},
    ],
}
DOCUMENT_PASSED = {"ok": True, "checks": [{"code": "size", "ok": True, "message": "Big enough."}]}
FAILED = {"ok": False, "checks": [{"code": "dark", "ok": False, "message": "Too dark."}]}
ID_NUMBER = "310101199003071230"  # a valid check digit
PHONE_OF = re.compile(r"\+86(\d{11})")


# People and verifications ----------------------------------------------------------------


async def citizen(**values: object) -> Account:
    return await account(identity_verified_at=None, **values)


async def current(verification_id: int) -> Verification:
    found = (
        await Verification.objects()
        .where(Verification.id == verification_id)
        .output(load_json=True)
        .first()
    )
    assert found is not None
    return found


async def in_review(person: Account, files: tuple[StoredFile, StoredFile] | None = None) -> int:
    """Both parts sent and passed, as the worker records them after its checks."""
    verification = await service.start(person)
    selfie, document = files or (await stored_file(person), await stored_file(person))
    await service.submit_image(person, verification, service.SELFIE, selfie)
    await service.record_report(int(verification.id), service.SELFIE, SELFIE_PASSED)
    await service.submit_image(
        person, await current(int(verification.id)), service.DOCUMENT, document
    )
    await service.record_report(int(verification.id), service.DOCUMENT, DOCUMENT_PASSED)
    assert (await current(int(verification.id))).state == VerificationState.IN_REVIEW
    return int(verification.id)


async def capturing(person: Account) -> int:
    """A selfie that failed its checks: the person still has to send it again."""
    verification = await service.start(person)
    await service.submit_image(person, verification, service.SELFIE, await stored_file(person))
    await service.record_report(int(verification.id), service.SELFIE, FAILED)
    return int(verification.id)


async def decide(
    client: PageClient, verification_id: int, decision: str, reason: str = "", **extra: str
) -> httpx.Response:
    page = await client.get(f"/officer/identity/{verification_id}")
    assert page.status_code == 200, page.text
    data = {
        "_csrf_token": csrf_from(page),
        "decision": decision,
        "version": str(version_on(page)),
        "reason": reason,
        **extra,
    }
    return await client.post(
        f"/officer/identity/{verification_id}/decide", data=data, follow_redirects=False
    )


def queue_ids(page: httpx.Response) -> list[int]:
    return [int(found) for found in re.findall(r'href="/officer/identity/(\d+)"', page.text)]


async def walk_queue(client: PageClient) -> tuple[list[int], int]:
    """Every id of the queue, following its "next page" links; and how many pages."""
    ids, url, pages = [], "/officer/identity", 0
    while url:
        page = await client.get(url)
        assert page.status_code == 200
        ids.extend(queue_ids(page))
        pages += 1
        following = re.search(r'href="(/officer/identity\?after=\d+)" rel="next"', page.text)
        url = following.group(1) if following else ""
    return ids, pages


async def sms_of(person: Account, kind: str) -> list[Notification]:
    return await Notification.objects().where(
        Notification.user_id == person.id, Notification.kind == kind
    )


async def audit_of(verification_id: int) -> list[AuditEntry]:
    return await AuditEntry.objects().where(
        AuditEntry.subject_type == "identity", AuditEntry.subject_id == str(verification_id)
    )


# Who gets in ----------------------------------------------------------------------------


async def test_a_citizen_and_an_officer_signed_in_by_sms_are_refused(client: PageClient) -> None:
    verification_id = await in_review(await citizen())
    pages = (
        "/officer/identity",
        f"/officer/identity/{verification_id}",
        "/officer/identity/counter",
    )
    typed, _phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    for path in pages:
        assert (await client.get(path)).status_code == 403, path
    for path, data in (
        (f"/officer/identity/{verification_id}/decide", {"decision": "approve", "version": "1"}),
        ("/officer/identity/counter", {"phone": typed, "id_number": ID_NUMBER, "reason": "x"}),
    ):
        posted = await client.post(path, data={"_csrf_token": token, **data})
        assert posted.status_code == 403, path
    client.cookies.clear()
    await officer_by_sms(client)
    for path in pages:
        assert (await client.get(path)).status_code == 403, path
    assert (await current(verification_id)).state == VerificationState.IN_REVIEW


async def test_any_department_reviews_and_ids_beyond_a_serial_are_not_found(
    client: PageClient,
) -> None:
    verification_id = await in_review(await citizen())
    await officer_signed_in(client, "market-regulation")
    assert (await client.get(f"/officer/identity/{verification_id}")).status_code == 200
    for path in ("/officer/identity/2147483648", "/officer/identity/99999999999"):
        assert (await client.get(path)).status_code == 404, path
    token = csrf_from(await client.get("/officer/identity"))
    posted = await client.post(
        "/officer/identity/2147483648/decide",
        data={"_csrf_token": token, "decision": "approve", "version": "1"},
    )
    assert posted.status_code == 404
    for junk in ("abc", "0", "-1", "2147483648"):
        assert (await client.get(f"/officer/identity?after={junk}")).status_code == 400, junk


# The queue ------------------------------------------------------------------------------


async def test_the_queue_lists_only_verifications_in_review_oldest_first_page_by_page(
    client: PageClient,
) -> None:
    waiting = [await in_review(await citizen(name="欧阳娜娜")) for _ in range(PAGE_SIZE + 1)]
    still_capturing = await capturing(await citizen())
    decided_person = await citizen()
    decided = await in_review(decided_person)
    clerk = await officer()
    await service.decide(
        clerk, decided, approve=True, reason="", version=(await current(decided)).version
    )
    await officer_signed_in(client)

    first = await client.get("/officer/identity")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert "欧**娜" in first.text and "欧阳娜娜" not in first.text  # masked names
    ids, pages = await walk_queue(client)
    assert pages >= 2
    assert ids == sorted(ids) and len(ids) == len(set(ids))  # oldest first, none twice
    assert set(waiting) <= set(ids)
    assert still_capturing not in ids and decided not in ids
    states = {
        row["state"]
        for row in await Verification.select(Verification.state).where(Verification.id.is_in(ids))
    }
    assert states == {VerificationState.IN_REVIEW}

    after = await client.get(f"/officer/identity?after={waiting[0]}")
    listed = queue_ids(after)
    assert waiting[0] not in listed and waiting[1] in listed
    assert all(found > waiting[0] for found in listed)


# One verification and the decision --------------------------------------------------------


async def test_the_page_shows_both_images_the_challenge_every_check_and_the_provider(
    client: PageClient,
) -> None:
    person = await citizen(name="张三丰")
    verification_id = await in_review(person)
    verification = await current(verification_id)
    await officer_signed_in(client)
    page = await client.get(f"/officer/identity/{verification_id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'<img src="/files/{verification.selfie}"' in page.text
    assert f'<img src="/files/{verification.document}"' in page.text
    for message in ("Sharp enough.", "Exactly one face, centred.", "Big enough."):
        assert message in page.text
    if verification.challenge_kind == "number":
        assert f"Write the number {verification.challenge} on a piece of paper" in page.text
    else:
        assert f"Turn your head to the {verification.challenge}" in page.text
    assert "No automated comparison: compare the two faces yourself." in page.text
    assert "张*丰" in page.text and "张三丰" not in page.text
    assert mask_phone(person.phone) in page.text and person.phone[3:] not in page.text
    assert 'name="decision" value="approve"' in page.text


async def test_the_licence_record_stands_for_the_document_photo(client: PageClient) -> None:
    person = await citizen(name="王五")
    licence = await add_licence(account=int(person.id), holder="王五")
    verification = await service.start(person)
    await service.submit_image(person, verification, service.SELFIE, await stored_file(person))
    await service.record_report(int(verification.id), service.SELFIE, SELFIE_PASSED)
    # What service.use_licence records once the person signed the data-use authorisation.
    await Verification.update(
        {
            Verification.document_source: DocumentSource.LICENCE,
            Verification.licence: licence,
            Verification.document_report: {"ok": True, "checks": [service.LICENCE_CHECK]},
        }
    ).where(Verification.id == verification.id)
    await service.advance(int(verification.id))
    await officer_signed_in(client)
    page = await client.get(f"/officer/identity/{verification.id}")
    assert page.status_code == 200
    assert "Resident identity card" in page.text or "居民身份证" in page.text
    assert "310***********1230" in page.text and ID_NUMBER not in page.text
    assert "The ID card record of your licence library is used." in page.text


async def test_approval_raises_the_person_to_l2_tells_them_in_their_language_and_is_audited(
    client: PageClient,
) -> None:
    person = await citizen(locale="en")
    verification_id = await in_review(person)
    await officer_signed_in(client)
    approved = await decide(client, verification_id, "approve")
    assert approved.status_code == 303
    assert approved.headers["location"] == f"/officer/identity/{verification_id}"
    shown = await client.get(approved.headers["location"])
    assert "Approved: the person was told by SMS." in shown.text
    assert "Decided by" in shown.text and "王五" in shown.text
    assert 'name="decision"' not in shown.text  # no second decision

    raised = await Account.objects().where(Account.id == person.id).first()
    assert raised is not None and raised.identity_verified_at is not None
    assert assurance_level(raised, False) == 2
    (sms,) = await sms_of(person, "identity_verified")
    assert sms.locale == "en" and sms.recipient == person.phone
    (entry,) = await audit_of(verification_id)
    assert entry.action == "identity_approve"
    assert (await verify_chain()).ok


async def test_a_rejection_needs_a_reason_then_tells_the_person(client: PageClient) -> None:
    person = await citizen()
    verification_id = await in_review(person)
    before = await current(verification_id)
    await officer_signed_in(client)
    refused = await decide(client, verification_id, "reject", "   ")
    assert refused.status_code == 400 and "Please give a reason." in refused.text
    assert (await current(verification_id)).version == before.version
    assert not await sms_of(person, "identity_rejected")

    rejected = await decide(client, verification_id, "reject", "看不清纸上的数字")
    assert rejected.status_code == 303
    after = await current(verification_id)
    assert after.state == VerificationState.REJECTED and after.reason == "看不清纸上的数字"
    (sms,) = await sms_of(person, "identity_rejected")
    assert sms.locale == "zh-Hans"
    unchanged = await Account.objects().where(Account.id == person.id).first()
    assert unchanged is not None and unchanged.identity_verified_at is None
    assert (await audit_of(verification_id))[0].action == "identity_reject"


async def test_a_stale_or_malformed_form_changes_nothing(client: PageClient) -> None:
    person = await citizen()
    verification_id = await in_review(person)
    before = await current(verification_id)
    await officer_signed_in(client)
    stale = await decide(client, verification_id, "approve", version=str(before.version + 3))
    assert stale.status_code == 409 and "changed while you were looking at it" in stale.text
    for decision, reason, version in (
        ("maybe", "理由", None),
        ("reject", "理由", "x"),
        ("reject", "长" * 501, None),
    ):
        extra = {"version": version} if version else {}
        posted = await decide(client, verification_id, decision, reason, **extra)
        assert posted.status_code == 400, (decision, version)
    after = await current(verification_id)
    assert after.state == VerificationState.IN_REVIEW and after.version == before.version
    assert not await audit_of(verification_id)


async def test_two_officers_deciding_at_once_one_wins() -> None:
    verification_id = await in_review(await citizen())
    async with (
        PageClient(app=create_app(), base_url="http://tongban.local") as first,
        PageClient(app=create_app(), base_url="http://tongban.local") as second,
    ):
        await officer_signed_in(first)
        await officer_signed_in(second)
        pages = [await c.get(f"/officer/identity/{verification_id}") for c in (first, second)]
        forms = [
            {"_csrf_token": csrf_from(page), "version": str(version_on(page))} for page in pages
        ]
        results = await asyncio.gather(
            first.post(
                f"/officer/identity/{verification_id}/decide",
                data={**forms[0], "decision": "approve"},
                follow_redirects=False,
            ),
            second.post(
                f"/officer/identity/{verification_id}/decide",
                data={**forms[1], "decision": "reject", "reason": "不是同一人"},
                follow_redirects=False,
            ),
        )
    assert sorted(result.status_code for result in results) == [303, 409]
    assert len(await audit_of(verification_id)) == 1
    state = (await current(verification_id)).state
    assert state == (
        VerificationState.APPROVED if results[0].status_code == 303 else VerificationState.REJECTED
    )


# The images -----------------------------------------------------------------------------


async def test_officers_read_the_images_only_once_in_review_other_citizens_never(
    client: PageClient,
) -> None:
    typed, phone = fresh_phone()
    await sign_in(client, typed)
    token = csrf_from(await client.get("/account"))
    ids = []
    for name in ("selfie.jpg", "card.jpg"):
        sent = await client.post(
            "/files",
            files={"file": (name, jpeg(), "application/octet-stream")},
            headers={"x-csrftoken": token},
        )
        assert sent.status_code == 201, sent.text
        ids.append(int(sent.json()["id"]))
    person = await Account.objects().where(Account.phone == phone).first()
    assert person is not None
    stored = []
    for file_id in ids:
        row = await StoredFile.objects().where(StoredFile.id == file_id).first()
        assert row is not None
        stored.append(row)
    verification = await service.start(person)
    await service.submit_image(person, verification, service.SELFIE, stored[0])

    client.cookies.clear()
    await officer_signed_in(client)
    assert (await client.get(f"/files/{ids[0]}")).status_code == 404  # still capturing
    await service.record_report(int(verification.id), service.SELFIE, SELFIE_PASSED)
    await service.submit_image(
        person,
        await current(int(verification.id)),
        service.DOCUMENT,
        stored[1],
    )
    assert (await client.get(f"/files/{ids[1]}")).status_code == 404  # being checked
    await service.record_report(int(verification.id), service.DOCUMENT, DOCUMENT_PASSED)
    for file_id in ids:
        fetched = await client.get(f"/files/{file_id}")
        assert fetched.status_code == 200 and fetched.content[:2] == b"\xff\xd8", file_id

    client.cookies.clear()
    other, _phone = fresh_phone()
    await sign_in(client, other)
    for file_id in ids:
        assert (await client.get(f"/files/{file_id}")).status_code == 404


# At the counter -------------------------------------------------------------------------


async def counter_post(client: PageClient, **fields: str) -> httpx.Response:
    page = await client.get("/officer/identity/counter")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    data = {"_csrf_token": csrf_from(page), "reason": "核验居民身份证原件", **fields}
    return await client.post("/officer/identity/counter", data=data, follow_redirects=False)


async def test_a_counter_check_raises_the_person_to_l2_and_is_recorded(
    client: PageClient,
) -> None:
    person = await citizen()
    await officer_signed_in(client)
    typed = PHONE_OF.sub(lambda m: f"{m[1][:3]} {m[1][3:7]} {m[1][7:]}", person.phone)
    done = await counter_post(client, phone=typed, id_number=ID_NUMBER.lower())
    assert done.status_code == 303, done.text
    (verification,) = await Verification.objects().where(Verification.account == person.id)
    assert verification.method == Method.COUNTER
    assert verification.state == VerificationState.APPROVED
    assert verification.reason == "核验居民身份证原件"
    assert done.headers["location"] == f"/officer/identity/{verification.id}"
    shown = await client.get(done.headers["location"])
    assert "Identity verified at the counter: the person was told by SMS." in shown.text
    assert "At a service centre counter" in shown.text and "核验居民身份证原件" in shown.text
    raised = await Account.objects().where(Account.id == person.id).first()
    assert raised is not None and assurance_level(raised, False) == 2
    assert len(await sms_of(person, "identity_verified")) == 1
    assert (await audit_of(int(verification.id)))[0].action == "identity_approve"


async def test_each_counter_refusal_is_shown_on_the_form_and_changes_nothing(
    client: PageClient,
) -> None:
    person = await citizen()
    given = await citizen()
    await Account.update({Account.id_number_encrypted: seal("110101199001011237")}).where(
        Account.id == given.id
    )
    done = await citizen()
    await officer_signed_in(client)
    assert (await counter_post(client, phone=done.phone, id_number=ID_NUMBER)).status_code == 303
    unknown, _e164 = fresh_phone()
    cases = (
        ({"phone": unknown}, "There is no account with this number"),
        ({"phone": "12345"}, "Please enter a valid mainland mobile number"),
        ({"phone": person.phone, "id_number": "310101199003071231"}, "not a valid resident"),
        ({"phone": given.phone}, "differs from the one this account gave"),
        ({"phone": person.phone, "reason": "  "}, "Please give a reason."),
        ({"phone": person.phone, "reason": "长" * 501}, "under 500 characters"),
        ({"phone": done.phone}, "verified already"),
    )
    for fields, message in cases:
        refused = await counter_post(client, **{"id_number": ID_NUMBER, **fields})
        assert refused.status_code == 400, fields
        assert message in refused.text, fields
        assert 'aria-invalid="true"' in refused.text or 'role="alert"' in refused.text
    for someone in (person, given):
        row = await Account.objects().where(Account.id == someone.id).first()
        assert row is not None and row.identity_verified_at is None
        assert not await Verification.exists().where(Verification.account == someone.id)
    assert await Verification.count().where(Verification.account == done.id) == 1
