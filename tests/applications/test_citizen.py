"""The applicant's pages over HTTP: apply from a checklist, provide materials, submit, follow;
refusals that change nothing; someone else's application is not found."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.accounts.tables import Account
from app.applications.tables import Application, AttachedFile, MaterialEntry, State
from app.files.tables import StoredFile
from app.notifications.tables import Notification
from tests.accounts.helpers import sign_in
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import PageClient, csrf_from
from tests.files.conftest import jpeg, pdf

ITEM = "drainage-permit"  # uploads, a licence, and a material that may be missing (容缺)


async def citizen(client: PageClient, *, verified: bool = True) -> Account:
    typed, e164 = fresh_phone()
    await sign_in(client, typed)
    if verified:
        await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
            Account.phone == e164
        )
    found = await Account.objects().where(Account.phone == e164).first()
    assert found is not None
    return found


async def token(client: PageClient, path: str = "/applications") -> str:
    return csrf_from(await client.get(path))


async def apply(client: PageClient, code: str = ITEM, answers: str = "discharger=catering") -> int:
    checklist = await client.get(f"/guide/{code}/checklist?{answers}")
    assert checklist.status_code == 200
    assert f'action="/guide/{code}/apply?{answers}"' in checklist.text
    response = await client.post(
        f"/guide/{code}/apply?{answers}",
        data={"_csrf_token": csrf_from(checklist)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/applications/(\d+)", response.headers["location"])
    assert found
    return int(found.group(1))


async def entries(application_id: int) -> dict[str, MaterialEntry]:
    rows = await MaterialEntry.objects().where(MaterialEntry.application == application_id)
    return {row.code: row for row in rows}


async def upload(client: PageClient, application_id: int, entry_id: int, *files: tuple[str, bytes]):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/applications/{application_id}/materials/{entry_id}/files",
        data={"_csrf_token": await token(client, f"/applications/{application_id}")},
        files=[("file", (name, data, "application/octet-stream")) for name, data in files],
        follow_redirects=False,
    )


async def version(application_id: int) -> int:
    row = (
        await Application.select(Application.version)
        .where(Application.id == application_id)
        .first()
    )
    assert row is not None
    return int(row["version"])


async def test_apply_provide_submit_and_follow(client: PageClient) -> None:
    person = await citizen(client)
    application_id = await apply(client)
    page = await client.get(f"/applications/{application_id}")
    assert page.status_code == 200
    assert 'capture="environment"' in page.text  # the phone's camera opens directly
    materials = await entries(application_id)
    # Several pages of one material at once: a photo and a PDF.
    first = materials["application_form"]
    response = await upload(client, application_id, first.id, ("p1.jpg", jpeg()), ("p2.pdf", pdf()))
    assert response.status_code == 303, response.text
    assert await AttachedFile.count().where(AttachedFile.entry == first.id) == 2
    # The tolerable material is left missing for now (容缺).
    grease = materials["grease_trap"]
    response = await client.post(
        f"/applications/{application_id}/materials/{grease.id}",
        data={"_csrf_token": await token(client), "provision": "missing"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    for code, entry in (await entries(application_id)).items():
        if entry.provision == "" and code != "grease_trap":
            assert (
                await upload(client, application_id, entry.id, (f"{code}.jpg", jpeg()))
            ).status_code == 303
    response = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": str(await version(application_id))},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    application = await Application.objects().where(Application.id == application_id).first()
    assert application is not None and application.state == State.SUBMITTED
    page = await client.get(f"/applications/{application_id}")
    shown = f"{application.code[:4]}-{application.code[4:8]}-{application.code[8:]}"
    assert shown in page.text  # the tracking code, shown once submitted
    sms = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == person.phone, Notification.kind == "application_status")
        .output(load_json=True)
        .first()
    )
    assert sms is not None and sms["params"]["code"] == shown
    listing = await client.get("/applications")
    assert shown in listing.text


async def test_refused_uploads_change_nothing(client: PageClient) -> None:
    person = await citizen(client)
    application_id = await apply(client)
    entry = (await entries(application_id))["application_form"]
    before = await StoredFile.count().where(StoredFile.owner == person.id)
    for name, data in (
        ("page.jpg", b"<html><script>alert(1)</script></html>"),
        ("page.png", jpeg()[:200]),  # cut off
        ("empty.pdf", b""),
        ("vector.jpg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ):
        response = await upload(client, application_id, entry.id, (name, data))
        assert response.status_code == 400, name
        assert 'role="alert"' in response.text
    assert await StoredFile.count().where(StoredFile.owner == person.id) == before
    assert await AttachedFile.count().where(AttachedFile.application == application_id) == 0


async def test_submit_refused_until_complete_and_verified(client: PageClient) -> None:
    await citizen(client, verified=False)
    application_id = await apply(client)
    page = await client.get(f"/applications/{application_id}")
    assert "/account" in page.text  # says how to raise the assurance level
    response = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": str(await version(application_id))},
    )
    assert response.status_code == 400
    assert "身份" in response.text or "identity" in response.text
    await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
        Account.id
        == (
            await Application.select(Application.applicant)
            .where(Application.id == application_id)
            .first()
            or {}
        )["applicant"]
    )
    response = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": str(await version(application_id))},
    )
    assert response.status_code == 400  # materials are missing, and the page says which
    state = (
        await Application.select(Application.state).where(Application.id == application_id).first()
    )
    assert state == {"state": "draft"}
    stale = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": "0"},
    )
    assert stale.status_code in (400, 409)


async def test_someone_elses_application_is_not_found(client: PageClient) -> None:
    await citizen(client)
    application_id = await apply(client)
    entry = (await entries(application_id))["application_form"]
    await client.post("/signout", data={"_csrf_token": await token(client, "/account")})
    await citizen(client)
    assert (await client.get(f"/applications/{application_id}")).status_code == 404
    response = await upload(client, application_id, entry.id, ("a.jpg", jpeg()))
    assert response.status_code == 404
    assert await AttachedFile.count().where(AttachedFile.application == application_id) == 0
    assert (await client.get(f"/applications/{2**31}")).status_code == 404


async def test_a_draft_can_be_deleted(client: PageClient) -> None:
    await citizen(client)
    application_id = await apply(client)
    entry = (await entries(application_id))["application_form"]
    assert (await upload(client, application_id, entry.id, ("a.jpg", jpeg()))).status_code == 303
    response = await client.post(
        f"/applications/{application_id}/discard",
        data={"_csrf_token": await token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert not await Application.exists().where(Application.id == application_id)


async def test_a_correction_names_the_materials_and_is_submitted_again(client: PageClient) -> None:
    from app.applications import service
    from tests.applications.people import officer

    await citizen(client)
    application_id = await apply(client)
    for code, entry in (await entries(application_id)).items():
        if entry.provision == "":
            assert (
                await upload(client, application_id, entry.id, (f"{code}.jpg", jpeg()))
            ).status_code == 303
    response = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": str(await version(application_id))},
        follow_redirects=False,
    )
    assert response.status_code == 303
    clerk = await officer("water")
    case = (await service.cases_of(application_id))[0]
    await service.act(clerk, case.id, "prereview", version=case.version)
    case = (await service.cases_of(application_id))[0]
    await service.act(
        clerk,
        case.id,
        "return",
        version=case.version,
        reason="申请书缺少签字",
        materials=["application_form"],
    )
    page = await client.get(f"/applications/{application_id}")
    marked = page.text.split('id="material-')
    form_part = next(part for part in marked[1:] if "application_form.jpg" in part)
    assert "申请书缺少签字" in page.text  # the reason, in the timeline
    assert "工作人员要求您补正这项材料" in form_part  # the material asked for is marked
    entry = (await entries(application_id))["application_form"]
    assert (
        await upload(client, application_id, entry.id, ("signed.jpg", jpeg()))
    ).status_code == 303
    response = await client.post(
        f"/applications/{application_id}/submit",
        data={"_csrf_token": await token(client), "version": str(await version(application_id))},
        follow_redirects=False,
    )
    assert response.status_code == 303
    case = (await service.cases_of(application_id))[0]
    assert case.state == State.RESUBMITTED
