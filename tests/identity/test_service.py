"""The rules of identity verification through the service: challenge, attempts, parts,
review, decisions, the counter, expiry, images purged, who may read them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.accounts.id_number import seal
from app.accounts.services import assurance_level
from app.accounts.tables import Account, Role
from app.applications.audit import verify_chain
from app.config import get_settings
from app.files import service as files
from app.files.storage import LocalStorage
from app.files.tables import StoredFile
from app.identity import service
from app.identity.service import IdentityError
from app.identity.tables import Attempt, Verification, VerificationState
from app.notifications.tables import Notification
from tests.applications.people import account, officer, stored_file

PASSED = {"ok": True, "checks": [{"code": "sharp", "ok": True, "message": "Sharp enough."}]}
FAILED = {"ok": False, "checks": [{"code": "blurry", "ok": False, "message": "Too blurry."}]}


async def citizen() -> Account:
    return await account(identity_verified_at=None)


async def fresh(verification: Verification) -> Verification:
    found = await service.verification_of(int(verification.account), int(verification.id))
    assert found is not None
    return found


async def in_review(person: Account) -> Verification:
    verification = await service.start(person)
    for part in service.PARTS:
        await service.submit_image(
            person, await fresh(verification), part, await stored_file(person)
        )
        await service.record_report(int(verification.id), part, PASSED)
    return await fresh(verification)


async def test_a_start_draws_a_challenge_and_reuses_the_open_verification() -> None:
    person = await citizen()
    first = await service.start(person, "/applications/1")
    assert first.state == VerificationState.CAPTURING
    if first.challenge_kind == "number":
        assert len(first.challenge) == 4 and first.challenge.isdigit()
    else:
        assert first.challenge in service.TURNS
    again = await service.start(person)
    assert again.id == first.id  # one open verification at a time
    kinds = {service.draw_challenge()[0] for _ in range(64)}
    assert kinds == {"number", "turn"}  # both kinds come up


async def test_only_the_failed_part_is_asked_again_then_review_with_the_provider() -> None:
    person = await citizen()
    verification = await service.start(person)
    await service.submit_image(person, verification, "selfie", await stored_file(person))
    assert (await fresh(verification)).state == VerificationState.CHECKING
    await service.record_report(int(verification.id), "selfie", FAILED)
    await service.submit_image(
        person, await fresh(verification), "document", await stored_file(person)
    )
    await service.record_report(int(verification.id), "document", PASSED)
    current = await fresh(verification)
    assert current.state == VerificationState.CAPTURING
    assert not service.part_passed(current, "selfie") and service.part_passed(current, "document")
    with pytest.raises(IdentityError) as refused:
        await service.submit_image(person, current, "document", await stored_file(person))
    assert refused.value.code == "passed"
    await service.submit_image(person, current, "selfie", await stored_file(person))
    await service.record_report(int(verification.id), "selfie", PASSED)
    current = await fresh(verification)
    assert current.state == VerificationState.IN_REVIEW
    assert current.match == {"provider": "demo", "verdict": "deferred", "score": None}


async def test_images_are_counted_per_account_and_refused_beyond_the_limit() -> None:
    person = await citizen()
    verification = await service.start(person)
    limit = get_settings().identity_attempts
    for _ in range(limit):
        await service.submit_image(
            person, await fresh(verification), "selfie", await stored_file(person)
        )
        await service.record_report(int(verification.id), "selfie", FAILED)
    assert await service.attempts_left(int(person.id)) == 0
    before = await Attempt.count().where(Attempt.account == person.id)
    with pytest.raises(IdentityError) as refused:
        await service.submit_image(
            person, await fresh(verification), "selfie", await stored_file(person)
        )
    assert refused.value.code == "attempts" and refused.value.message
    assert await Attempt.count().where(Attempt.account == person.id) == before
    # Attempts older than the window stop counting.
    await Attempt.update({Attempt.created_at: datetime.now(UTC) - timedelta(hours=7)}).where(
        Attempt.account == person.id
    )
    assert await service.attempts_left(int(person.id)) == limit


async def test_an_unfinished_verification_expires_and_a_new_one_can_start() -> None:
    person = await citizen()
    verification = await service.start(person)
    await Verification.update(
        {Verification.expires_at: datetime.now(UTC) - timedelta(seconds=1)}
    ).where(Verification.id == verification.id)
    expired = await fresh(verification)
    assert expired.state == VerificationState.EXPIRED
    with pytest.raises(IdentityError) as refused:
        await service.submit_image(person, expired, "selfie", await stored_file(person))
    assert refused.value.code == "expired"
    assert (await service.start(person)).id != verification.id


async def test_approval_raises_the_account_tells_the_person_and_is_audited() -> None:
    person, clerk = await citizen(), await officer()
    verification = await in_review(person)
    assert assurance_level(person, False) == 1
    decided = await service.decide(
        clerk, int(verification.id), approve=True, reason="", version=verification.version
    )
    assert decided.notification is not None
    raised = await Account.objects().where(Account.id == person.id).first()
    assert raised is not None and raised.identity_verified_at is not None
    assert assurance_level(raised, False) == 2 and assurance_level(raised, True) == 3
    sms = await Notification.objects().where(Notification.id == decided.notification).first()
    assert sms is not None and sms.kind == "identity_verified"
    assert (await verify_chain()).ok
    with pytest.raises(IdentityError) as refused:
        await service.start(raised)
    assert refused.value.code == "verified"


async def test_a_rejection_needs_a_reason_and_a_stale_decision_changes_nothing() -> None:
    person, clerk = await citizen(), await officer()
    verification = await in_review(person)
    with pytest.raises(IdentityError) as refused:
        await service.decide(
            clerk, int(verification.id), approve=False, reason=" ", version=verification.version
        )
    assert refused.value.code == "reason"
    with pytest.raises(IdentityError) as stale:
        await service.decide(
            clerk, int(verification.id), approve=True, reason="", version=verification.version + 5
        )
    assert stale.value.code == "stale"
    assert (await fresh(verification)).state == VerificationState.IN_REVIEW
    await service.decide(
        clerk,
        int(verification.id),
        approve=False,
        reason="照片模糊，看不清数字",
        version=verification.version,
    )
    rejected = await fresh(verification)
    assert (
        rejected.state == VerificationState.REJECTED and rejected.reason == "照片模糊，看不清数字"
    )
    unchanged = await Account.objects().where(Account.id == person.id).first()
    assert unchanged is not None and unchanged.identity_verified_at is None


async def test_two_officers_deciding_at_once_one_wins() -> None:
    person = await citizen()
    first, second = await officer(), await officer()
    verification = await in_review(person)
    results = await asyncio.gather(
        service.decide(
            first, int(verification.id), approve=True, reason="", version=verification.version
        ),
        service.decide(
            second, int(verification.id), approve=False, reason="不符", version=verification.version
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, service.Decided)]
    losses = [r for r in results if isinstance(r, IdentityError)]
    assert len(wins) == 1 and len(losses) == 1 and losses[0].code in ("stale", "not_in_review")


async def test_a_counter_check_is_recorded_and_refusals_change_nothing() -> None:
    person, clerk = await citizen(), await officer()
    for number, reason, code in (
        ("310101199003071231", "核验身份证原件", "id_number"),  # wrong check digit
        ("310101199003071230", "  ", "reason"),
    ):
        with pytest.raises(IdentityError) as refused:
            await service.verify_at_counter(clerk, person, number, reason)
        assert refused.value.code == code
    assert (
        await Account.objects().where(Account.id == person.id).first()
    ).identity_verified_at is None  # type: ignore[union-attr]
    decided = await service.verify_at_counter(clerk, person, "310101199003071230", "核验身份证原件")
    assert decided.verification.method == "counter" and decided.verification.state == "approved"
    raised = await Account.objects().where(Account.id == person.id).first()
    assert raised is not None and raised.identity_verified_at is not None
    other = await citizen()
    await Account.update({Account.id_number_encrypted: seal("110101199001011237")}).where(
        Account.id == other.id
    )
    other = await Account.objects().where(Account.id == other.id).first()
    assert other is not None
    with pytest.raises(IdentityError) as mismatch:
        await service.verify_at_counter(clerk, other, "310101199003071230", "核验身份证原件")
    assert mismatch.value.code == "id_mismatch"


async def test_images_are_readable_by_the_owner_and_by_officers_only_in_review(
    settings: Any,
) -> None:
    person, clerk, stranger = await citizen(), await officer(), await citizen()
    verification = await service.start(person)
    selfie = await stored_file(person)
    await service.submit_image(person, verification, "selfie", selfie)
    assert await files.can_read(person, selfie)
    assert not await files.can_read(clerk, selfie)  # still being captured
    await service.record_report(int(verification.id), "selfie", PASSED)
    await service.submit_image(
        person, await fresh(verification), "document", await stored_file(person)
    )
    await service.record_report(int(verification.id), "document", PASSED)
    assert await files.can_read(clerk, selfie)
    assert not await files.can_read(stranger, selfie)
    courier = await account(Role.COURIER)
    assert not await files.can_read(courier, selfie)


async def test_images_are_purged_after_the_kept_days_and_the_decision_stays(tmp_path: Any) -> None:
    person, clerk = await citizen(), await officer()
    verification = await in_review(person)
    await service.decide(
        clerk, int(verification.id), approve=True, reason="", version=verification.version
    )
    storage = LocalStorage(tmp_path)
    kept = get_settings().identity_image_days
    await service.purge_images(storage, datetime.now(UTC) + timedelta(days=kept - 1))
    assert (await fresh(verification)).selfie is not None  # within the kept days
    await service.purge_images(storage, datetime.now(UTC) + timedelta(days=kept + 1))
    purged = await fresh(verification)
    assert purged.selfie is None and purged.document is None and purged.images_purged_at
    assert purged.state == VerificationState.APPROVED
    assert not await StoredFile.exists().where(StoredFile.owner == person.id)


class Recording:
    """A provider that looks at the images, as a real comparison service would."""

    name = "recording"
    needs_images = True

    def __init__(self) -> None:
        self.seen: list[tuple[bytes | None, bytes | None]] = []

    async def compare(self, selfie: bytes | None, document: bytes | None) -> Any:
        from app.identity.matching import MatchResult, Verdict

        self.seen.append((selfie, document))
        return MatchResult(provider=self.name, verdict=Verdict.MATCH, score=97)


async def test_a_provider_that_compares_gets_the_stored_images(monkeypatch: Any) -> None:
    from app.files.storage import storage_from_settings
    from app.identity import matching

    recording = Recording()
    monkeypatch.setitem(matching.PROVIDERS, "demo", recording)
    person = await citizen()
    storage = storage_from_settings(get_settings())
    verification = await service.start(person)
    for part, content in (("selfie", b"selfie bytes"), ("document", b"card bytes")):
        stored = await stored_file(person)

        async def chunks(data: bytes = content) -> Any:
            yield data

        await storage.put(stored.storage_key, chunks())
        await service.submit_image(person, await fresh(verification), part, stored)
        await service.record_report(int(verification.id), part, PASSED)
    assert recording.seen == [(b"selfie bytes", b"card bytes")]
    assert (await fresh(verification)).match == {
        "provider": "recording",
        "verdict": "match",
        "score": 97,
    }
