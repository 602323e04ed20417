"""Two officers deciding the same case at the same moment, with the same version: exactly one
wins, the other is told the case changed, and exactly one licence is issued. Run on SQLite
(BEGIN IMMEDIATE serialises the writers) and on PostgreSQL (the case's advisory lock does)."""

from __future__ import annotations

import asyncio

from app.applications import service
from app.applications.service import ApplicationError
from app.applications.tables import AuditEntry, Case, State
from app.asgi import create_app
from app.licences.tables import Licence
from tests.applications.people import officer, submitted, to_review
from tests.applications.test_officer import SEALS, officer_signed_in, version_on
from tests.conftest import PageClient, csrf_from


async def in_review() -> tuple[int, int, int]:
    """A seal-engraving case in review: (case id, its version, the applicant's id)."""
    applicant, application = await submitted()
    case = next(iter(await service.cases_of(int(application.id))))
    await to_review(await officer(SEALS), int(case.id))
    row = await Case.select(Case.version).where(Case.id == case.id).first()
    assert row is not None
    return int(case.id), int(row["version"]), int(applicant.id)


async def approvals(case_id: int) -> int:
    rows = (
        await AuditEntry.select(AuditEntry.payload)
        .where(AuditEntry.action == "case_approve")
        .output(load_json=True)
    )
    return sum(1 for row in rows if row["payload"].get("case") == case_id)


async def test_two_officers_approving_at_once_one_wins_one_licence() -> None:
    case_id, version, applicant_id = await in_review()
    first, second = await officer(SEALS), await officer(SEALS)
    results = await asyncio.gather(
        service.act(first, case_id, "approve", version=version),
        service.act(second, case_id, "approve", version=version),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, service.Moved)]
    lost = [r for r in results if isinstance(r, ApplicationError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].code == "stale"
    assert await Licence.count().where(Licence.holder_account == applicant_id) == 1
    assert await approvals(case_id) == 1
    row = await Case.select(Case.state, Case.version).where(Case.id == case_id).first()
    assert row is not None and row["state"] == State.ISSUED


async def test_two_officers_posting_the_same_form_at_once_over_http(client: PageClient) -> None:
    case_id, _version, applicant_id = await in_review()
    await officer_signed_in(client)
    async with PageClient(app=create_app(), base_url="http://tongban.local") as other:
        await officer_signed_in(other)
        pages = [await c.get(f"/officer/cases/{case_id}") for c in (client, other)]
        assert version_on(pages[0]) == version_on(pages[1])
        responses = await asyncio.gather(
            *(
                c.post(
                    f"/officer/cases/{case_id}/act",
                    data={
                        "_csrf_token": csrf_from(page),
                        "action": "approve",
                        "version": str(version_on(page)),
                    },
                    follow_redirects=False,
                )
                for c, page in zip((client, other), pages, strict=True)
            )
        )
    assert sorted(r.status_code for r in responses) == [303, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert "This case changed while you were looking at it" in loser.text
    assert await Licence.count().where(Licence.holder_account == applicant_id) == 1
    assert await approvals(case_id) == 1
