"""Officer actions on owed materials over HTTP (app/applications/obligations.py): more time
within the limits, the overdue flag cleared, acting on a missing material revokes the licence
issued for the case; every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.accounts.tables import Account
from app.applications import service
from app.applications.tables import (
    Application,
    AuditEntry,
    Case,
    MaterialEntry,
    Mode,
    Obligation,
    State,
)
from app.licences.tables import Licence
from tests.applications.people import act, case_in, draft, fill, submit, to_review
from tests.applications.test_lifecycle import RESTAURANT, sign
from tests.applications.test_officer import officer_signed_in, post_action, version_on
from tests.conftest import PageClient, csrf_from

CATERING = {"discharger": frozenset({"catering"})}
WATER = "water"
MARKET = "market-regulation"


async def owed_case(water: Account) -> tuple[Account, Application, Case, MaterialEntry]:
    """A drainage permit accepted with the grease-trap description missing (容缺)."""
    applicant, application = await draft("drainage-permit", answers=CATERING)
    for entry in await service.entries_of(int(application.id)):
        if entry.code == "grease_trap":
            await service.choose(applicant, application, int(entry.id), "missing")
    application = await fill(applicant, application)
    await submit(applicant, application, "drainage-permit")
    case = await case_in(application, WATER)
    await to_review(water, int(case.id), mode=Mode.TOLERATED)
    owed = (
        await MaterialEntry.objects()
        .where(MaterialEntry.application == application.id, MaterialEntry.code == "grease_trap")
        .first()
    )
    assert owed is not None and owed.obligation == Obligation.OWED and owed.due_on
    return applicant, application, await case_in(application, WATER), owed


async def post(
    client: PageClient, case_id: int, entry_id: int, what: str, **fields: Any
) -> httpx.Response:
    page = await client.get(f"/officer/cases/{case_id}")
    assert page.status_code == 200
    data = {"_csrf_token": csrf_from(page), "version": str(version_on(page)), **fields}
    return await client.post(
        f"/officer/cases/{case_id}/obligations/{entry_id}/{what}",
        data=data,
        follow_redirects=False,
    )


async def snapshot(case_id: int, entry_id: int) -> tuple[Any, ...]:
    """The case's counters, the material's obligation and the application's audit trail."""
    case = (
        await Case.select(Case.version, Case.owed, Case.obligation_overdue, Case.application)
        .where(Case.id == case_id)
        .first()
    )
    assert case is not None
    entry = (
        await MaterialEntry.select(MaterialEntry.obligation, MaterialEntry.due_on)
        .where(MaterialEntry.id == entry_id)
        .first()
    )
    trail = await AuditEntry.count().where(
        AuditEntry.subject_type == "application",
        AuditEntry.subject_id == str(case["application"]),
    )
    return case, entry, trail


async def test_more_time_is_granted_within_90_days_and_clears_the_overdue_flag(
    client: PageClient,
) -> None:
    water = await officer_signed_in(client, WATER)
    _applicant, application, case, owed = await owed_case(water)
    case_id, entry_id = int(case.id), int(owed.id)
    page = await client.get(f"/officer/cases/{case_id}")
    assert f'action="/officer/cases/{case_id}/obligations/{entry_id}/extend"' in page.text
    assert f"due {owed.due_on.isoformat()}" in page.text  # type: ignore[union-attr]

    # Past due: the recount flags it, as the nightly sweep would.
    today = service.today()
    await MaterialEntry.update({MaterialEntry.due_on: today - timedelta(days=1)}).where(
        MaterialEntry.id == entry_id
    )
    await service._recount_owed(int(application.id))
    assert (await snapshot(case_id, entry_id))[0]["obligation_overdue"] is True

    before = await snapshot(case_id, entry_id)
    for fields in (
        {"new_due": (today + timedelta(days=91)).isoformat(), "reason": "施工中"},
        {"new_due": today.isoformat(), "reason": "施工中"},
        {"new_due": "2026-13-40", "reason": "施工中"},
        {"new_due": "soon", "reason": "施工中"},
        {"new_due": (today + timedelta(days=10)).isoformat(), "reason": " "},
    ):
        refused = await post(client, case_id, entry_id, "extend", **fields)
        assert refused.status_code == 400, fields
        assert await snapshot(case_id, entry_id) == before, fields

    new_due = today + timedelta(days=90)
    granted = await post(
        client, case_id, entry_id, "extend", new_due=new_due.isoformat(), reason="设施施工中"
    )
    assert granted.status_code == 303
    case_row, entry_row, _trail = await snapshot(case_id, entry_id)
    assert entry_row["due_on"] == new_due and entry_row["obligation"] == Obligation.OWED
    assert case_row["obligation_overdue"] is False and case_row["owed"] == 1
    assert case_row["version"] == before[0]["version"] + 1
    entry = (
        await AuditEntry.select(AuditEntry.reason, AuditEntry.payload, AuditEntry.actor_id)
        .where(AuditEntry.action == "obligation_extend")
        .order_by(AuditEntry.seq, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert entry is not None and entry["reason"] == "设施施工中"
    assert entry["actor_id"] == water.id and entry["payload"]["to"] == new_due.isoformat()
    timeline = await client.get(f"/officer/cases/{case_id}")
    assert "More time granted for an owed material" in timeline.text

    # Not later than the new date: refused.
    again = await post(
        client, case_id, entry_id, "extend", new_due=new_due.isoformat(), reason="再延"
    )
    assert again.status_code == 400


async def test_acting_on_a_missing_material_revokes_the_issued_licence(
    client: PageClient,
) -> None:
    water = await officer_signed_in(client, WATER)
    applicant, application, case, owed = await owed_case(water)
    case_id, entry_id = int(case.id), int(owed.id)
    await act(water, case_id, "approve")
    assert (await case_in(application, WATER)).state == State.ISSUED
    licence = (
        await Licence.select(Licence.id, Licence.revoked_at)
        .where(Licence.holder_account == applicant.id)
        .first()
    )
    assert licence is not None and licence["revoked_at"] is None

    refused = await post(client, case_id, entry_id, "enforce", reason="")
    assert refused.status_code == 400
    enforced = await post(client, case_id, entry_id, "enforce", reason="逾期未补交隔油设施说明")
    assert enforced.status_code == 303
    row = await Licence.select(Licence.revoked_at).where(Licence.id == licence["id"]).first()
    assert row is not None and row["revoked_at"] is not None
    case_row, entry_row, _trail = await snapshot(case_id, entry_id)
    assert entry_row["obligation"] == Obligation.ENFORCED and case_row["owed"] == 0
    audit = (
        await AuditEntry.select(AuditEntry.payload)
        .where(AuditEntry.action == "obligation_enforce")
        .order_by(AuditEntry.seq, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert audit is not None and audit["payload"]["licence_revoked"] == licence["id"]
    # Once acted on, there is nothing more to act on.
    before = await snapshot(case_id, entry_id)
    page = await client.get(f"/officer/cases/{case_id}")
    assert f"/obligations/{entry_id}/enforce" not in page.text
    again = await client.post(
        f"/officer/cases/{case_id}/obligations/{entry_id}/enforce",
        data={
            "_csrf_token": csrf_from(page),
            "version": str(before[0]["version"]),
            "reason": "再次",
        },
    )
    assert again.status_code == 400
    assert await snapshot(case_id, entry_id) == before


async def test_stale_forms_other_departments_and_other_materials_change_nothing(
    client: PageClient,
) -> None:
    water = await officer_signed_in(client, WATER)
    _applicant, _application, case, owed = await owed_case(water)
    case_id, entry_id = int(case.id), int(owed.id)
    page = await client.get(f"/officer/cases/{case_id}")
    old = version_on(page)
    await service.act(water, case_id, "return", version=old, reason="请补正")
    before = await snapshot(case_id, entry_id)
    stale = await client.post(
        f"/officer/cases/{case_id}/obligations/{entry_id}/enforce",
        data={"_csrf_token": csrf_from(page), "version": str(old), "reason": "逾期"},
    )
    assert stale.status_code == 409
    assert await snapshot(case_id, entry_id) == before

    # A material of another application, through this case: not found.
    _other, other_application = await draft("drainage-permit", answers=CATERING)
    foreign = (await service.entries_of(int(other_application.id)))[0]
    assert (
        await post(client, case_id, int(foreign.id), "enforce", reason="逾期")
    ).status_code == 404
    for entry in (2**31, 0):
        response = await client.post(
            f"/officer/cases/{case_id}/obligations/{entry}/extend",
            data={"_csrf_token": csrf_from(page), "version": "1", "new_due": "2026-12-01"},
        )
        assert response.status_code == 404

    client.cookies.clear()
    await officer_signed_in(client, "market-regulation")
    token = csrf_from(await client.get("/officer"))
    response = await client.post(
        f"/officer/cases/{case_id}/obligations/{entry_id}/enforce",
        data={"_csrf_token": token, "version": str(before[0]["version"]), "reason": "逾期"},
    )
    assert response.status_code == 404
    assert await snapshot(case_id, entry_id) == before


async def test_a_pledge_is_shown_with_its_signature_and_acting_on_it_revokes_the_licence(
    client: PageClient, redis: Any
) -> None:
    """Food business licence, accepted on a signed pledge, approved at two levels by two
    officers through the page, then the pledge found untrue."""
    applicant, application = await draft("food-business-licence", answers=RESTAURANT)
    rules = next(
        e for e in await service.entries_of(int(application.id)) if e.code == "safety_rules"
    )
    chosen = await service.choose(
        applicant,
        application,
        int(rules.id),
        "pledge",
        pledge_title="告知承诺书",
        pledge_body="本人承诺食品安全管理制度已建立并执行。",
    )
    application = await fill(applicant, application)
    signature_id = await sign(redis, applicant, int(chosen.pledge_document))  # type: ignore[arg-type]
    application = await submit(applicant, application, "food-business-licence")
    case_id = int((await case_in(application, MARKET)).id)

    await officer_signed_in(client, MARKET)
    page = await client.get(f"/officer/cases/{case_id}")
    assert f'href="/signatures/{signature_id}/verify"' in page.text
    for action, fields in (("prereview", {}), ("accept", {"mode": "pledge"}), ("review", {})):
        assert (await post_action(client, case_id, action, **fields)).status_code == 303
    assert (await post_action(client, case_id, "approve")).status_code == 303
    assert (await case_in(application, MARKET)).approvals == 1
    # The same officer cannot pass the second level.
    assert (await post_action(client, case_id, "approve")).status_code == 400
    client.cookies.clear()
    await officer_signed_in(client, MARKET)
    assert (await post_action(client, case_id, "approve")).status_code == 303
    assert (await case_in(application, MARKET)).state == State.ISSUED

    enforced = await post(client, case_id, int(rules.id), "enforce", reason="现场核查与承诺不符")
    assert enforced.status_code == 303
    licences = await Licence.select(Licence.revoked_at).where(
        Licence.holder_account == applicant.id
    )
    assert len(licences) == 1 and licences[0]["revoked_at"] is not None
    row = (
        await MaterialEntry.select(MaterialEntry.obligation)
        .where(MaterialEntry.id == rules.id)
        .first()
    )
    assert row is not None and row["obligation"] == Obligation.ENFORCED
    done = await client.get(f"/officer/cases/{case_id}")
    assert "Officer acted on the pledge" in done.text
