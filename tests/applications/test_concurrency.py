"""Two people acting on the same case at the same moment (app/applications/service.py): the
conditional update on the case's version lets exactly one through; the other is told the case
changed ("stale") and changes nothing. Run on SQLite and on PostgreSQL
(TONGBAN_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.applications import service
from app.applications.service import ApplicationError
from app.applications.tables import AuditEntry
from app.licences.tables import Licence
from tests.applications.people import act, case_in, draft, fill, fresh, officer, submit, submitted

ROUNDS = 3


def outcome(results: list[Any]) -> tuple[list[service.Moved], list[BaseException]]:
    """The successes and the failures of a race, each failure re-raised if not "stale"."""
    won = [r for r in results if isinstance(r, service.Moved)]
    lost = [r for r in results if isinstance(r, BaseException)]
    for error in lost:
        if not (isinstance(error, ApplicationError) and error.code == "stale"):
            raise error
    return won, lost


async def case_actions(application_id: int, case_id: int) -> list[str]:
    return [
        row["action"]
        for row in await AuditEntry.select(AuditEntry.action, AuditEntry.payload)
        .where(AuditEntry.subject_id == str(application_id))
        .order_by(AuditEntry.seq)
        .output(load_json=True)
        if (row["payload"] or {}).get("case") == case_id
    ]


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"action": "accept", "mode": "complete"}, {"action": "accept", "mode": "complete"}),
        ({"action": "accept", "mode": "complete"}, {"action": "return", "reason": "照片不清"}),
        ({"action": "reject", "reason": "不符合条件"}, {"action": "accept", "mode": "complete"}),
    ],
    ids=["accept-accept", "accept-return", "reject-accept"],
)
async def test_two_officers_on_the_same_version_only_one_wins(
    round_: int, first: dict[str, Any], second: dict[str, Any]
) -> None:
    _applicant, application = await submitted("seal-engraving")
    one, two = await officer("public-security"), await officer("public-security")
    case = await case_in(application, "public-security")
    await act(one, case.id, "prereview")
    version = (await case_in(application, "public-security")).version

    won, lost = outcome(
        await asyncio.gather(
            service.act(one, case.id, version=version, **first),
            service.act(two, case.id, version=version, **second),
            return_exceptions=True,
        )
    )
    assert (len(won), len(lost)) == (1, 1)
    after = await case_in(application, "public-security")
    assert after.version == version + 1
    actions = await case_actions(int(application.id), case.id)
    assert actions[:2] == ["case_submit", "case_prereview"] and len(actions) == 3
    assert after.state == won[0].application.state


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_approve_raced_twice_issues_exactly_one_licence(round_: int) -> None:
    applicant, application = await submitted("seal-engraving")
    one, two = await officer("public-security"), await officer("public-security")
    case = await case_in(application, "public-security")
    await act(one, case.id, "prereview")
    await act(one, case.id, "accept", mode="complete")
    await act(one, case.id, "review")
    version = (await case_in(application, "public-security")).version

    won, lost = outcome(
        await asyncio.gather(
            service.act(one, case.id, "approve", version=version),
            service.act(two, case.id, "approve", version=version),
            return_exceptions=True,
        )
    )
    assert (len(won), len(lost)) == (1, 1)
    assert await Licence.count().where(Licence.holder_account == applicant.id) == 1
    assert (await case_in(application, "public-security")).state == "issued"
    actions = await case_actions(int(application.id), case.id)
    assert actions.count("case_approve") == 1 and actions.count("case_issue") == 1


async def test_two_levels_raced_pass_one_level_only() -> None:
    applicant, application = await draft(
        "food-business-licence",
    )
    application = await submit(
        applicant, await fill(applicant, application), "food-business-licence"
    )
    one, two = await officer("market-regulation"), await officer("market-regulation")
    case = await case_in(application, "market-regulation")
    await act(one, case.id, "prereview")
    await act(one, case.id, "accept", mode="complete")
    await act(one, case.id, "review")
    version = (await case_in(application, "market-regulation")).version

    won, lost = outcome(
        await asyncio.gather(
            service.act(one, case.id, "approve", version=version),
            service.act(two, case.id, "approve", version=version),
            return_exceptions=True,
        )
    )
    assert (len(won), len(lost)) == (1, 1)
    case = await case_in(application, "market-regulation")
    assert (case.state, case.approvals) == ("in_review", 1)
    assert await Licence.count().where(Licence.holder_account == applicant.id) == 0


@pytest.mark.parametrize("round_", range(ROUNDS))
async def test_the_applicant_withdrawing_while_an_officer_accepts(round_: int) -> None:
    applicant, application = await submitted("seal-engraving")
    clerk = await officer("public-security")
    case = await case_in(application, "public-security")
    await act(clerk, case.id, "prereview")
    application = await fresh(application)
    version = (await case_in(application, "public-security")).version

    won, lost = outcome(
        await asyncio.gather(
            service.act(clerk, case.id, "accept", version=version, mode="complete"),
            service.withdraw(applicant, application, version=application.version, reason="不办了"),
            return_exceptions=True,
        )
    )
    assert (len(won), len(lost)) == (1, 1)
    after = await case_in(application, "public-security")
    assert after.state in ("accepted", "withdrawn") and after.version == version + 1
    assert (await fresh(application)).state == after.state
