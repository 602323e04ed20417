"""Who reaches what (app/applications/service.py, app/files/service.py): an application only
for its applicant, a case only for an officer of its department, an attached file for its
owner and, once submitted, for officers of a department deciding a case of it. Anything else
is "not found", never "forbidden"."""

from __future__ import annotations

import pytest

from app.accounts.tables import Role
from app.applications import service
from app.applications.service import ApplicationError
from app.files import service as files
from app.files.tables import StoredFile
from tests.applications.people import (
    account,
    act,
    case_in,
    draft,
    fill,
    fresh,
    officer,
    stored_file,
    submit,
    submitted,
)

HUGE = 2**31  # beyond a PostgreSQL integer


async def attached_file(application_id: int) -> StoredFile:
    """The first file attached to the application."""
    pages = await service.files_of(application_id)
    first = next(iter(pages.values()))[0]
    found = await StoredFile.objects().where(StoredFile.id == first["file_id"]).first()
    assert found is not None
    return found


async def test_an_application_is_found_only_for_its_applicant() -> None:
    applicant, application = await submitted("seal-engraving")
    stranger = await account()
    clerk = await officer("public-security")
    assert (await service.application_of(int(applicant.id), int(application.id))) is not None
    assert await service.application_of(int(stranger.id), int(application.id)) is None
    # An officer of its department is not its applicant either.
    assert await service.application_of(int(clerk.id), int(application.id)) is None
    assert await service.application_of(int(applicant.id), 0) is None
    assert await service.application_of(int(applicant.id), HUGE) is None


async def test_a_case_is_found_only_for_an_officer_of_its_department() -> None:
    applicant, application = await submitted("seal-engraving")
    case = await case_in(application, "public-security")
    police, water = await officer("public-security"), await officer("water")
    without_department = await account(Role.OFFICER)
    found = await service.case_for_officer(police, case.id)
    assert found is not None and found.id == case.id
    assert await service.case_for_officer(water, case.id) is None
    assert await service.case_for_officer(without_department, case.id) is None
    assert await service.case_for_officer(applicant, case.id) is None
    assert await service.case_for_officer(police, HUGE) is None


async def test_another_departments_officer_cannot_act_and_changes_nothing() -> None:
    _applicant, application = await submitted("seal-engraving")
    case = await case_in(application, "public-security")
    water = await officer("water")
    for action in ("prereview", "accept", "approve", "reject"):
        with pytest.raises(ApplicationError) as refused:
            await service.act(water, case.id, action, version=case.version, reason="x")
        assert refused.value.code == "no_case" and refused.value.message
    after = await case_in(application, "public-security")
    assert (after.state, after.version) == ("submitted", case.version)
    with pytest.raises(ApplicationError) as refused:
        await service.act(water, HUGE, "prereview", version=0)
    assert refused.value.code == "no_case"


async def test_files_of_a_submitted_application() -> None:
    applicant, application = await submitted("seal-engraving")
    page = await attached_file(int(application.id))
    assert int(page.owner) == int(applicant.id)

    assert await files.can_read(applicant, page)
    assert await files.can_read(await officer("public-security"), page)
    assert not await files.can_read(await officer("water"), page)
    assert not await files.can_read(await account(), page)
    assert not await files.can_read(await account(Role.OFFICER), page)
    assert not await files.can_read(None, page)


async def test_files_of_a_draft_are_the_applicants_alone() -> None:
    applicant, application = await draft("seal-engraving")
    entry = (await service.entries_of(int(application.id)))[0]
    await service.attach(await fresh(application), entry.id, await stored_file(applicant))
    page = await attached_file(int(application.id))
    assert await files.can_read(applicant, page)
    for department in ("public-security", "market-regulation", "water"):
        assert not await files.can_read(await officer(department), page)


async def test_a_file_not_attached_to_any_application_is_its_owners_alone() -> None:
    owner = await account()
    loose = await stored_file(owner)
    assert await files.can_read(owner, loose)
    assert not await files.can_read(await officer("public-security"), loose)


async def test_in_a_bundle_each_department_reads_the_files_of_the_application() -> None:
    applicant, application = await draft("open-restaurant")
    application = await submit(applicant, await fill(applicant, application), "open-restaurant")
    page = await attached_file(int(application.id))
    for department in ("market-regulation", "public-security", "tax", "water"):
        assert await files.can_read(await officer(department), page), department
    assert not await files.can_read(await officer("health"), page)


async def test_after_withdrawal_the_department_still_reads_what_it_received() -> None:
    applicant, application = await submitted("seal-engraving")
    police = await officer("public-security")
    await act(police, (await case_in(application, "public-security")).id, "prereview")
    current = await fresh(application)
    await service.withdraw(applicant, current, version=current.version, reason="不办了")
    page = await attached_file(int(application.id))
    assert await files.can_read(police, page)
    assert not await files.can_read(await officer("water"), page)
