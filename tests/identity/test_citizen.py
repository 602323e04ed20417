"""The citizen's identity verification pages over HTTP: start, the challenge, a selfie and a
document photo checked by the worker's real task, only a failed part asked again, the ID card
of the licence library, the limit of tries, expiry, and someone else's verification not found.
Every refusal leaves nothing stored."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import httpx
from PIL import Image, ImageOps
from skimage import data as samples

from app.accounts.tables import Account
from app.config import get_settings
from app.files.storage import storage_from_settings
from app.files.tables import StoredFile
from app.identity import service, tasks
from app.identity.tables import Attempt, Verification, VerificationState
from tests.accounts.test_passkeys import ORIGIN
from tests.applications.test_citizen import citizen as signed_in_citizen
from tests.conftest import PageClient, csrf_from
from tests.files.conftest import jpeg, pdf
from tests.licences.test_licences import add_licence
from tests.signing.people import authorisation, finish
from tests.signing.people import citizen as citizen_with_passkey
from tests.signing.people import start as start_signing

DRAFT = "/applications/7"


async def in_english(client: PageClient) -> None:
    """The assertions read the English msgids: the person chooses English, as anyone can."""
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/language", data={"lang": "en", "_csrf_token": token})


async def citizen(client: PageClient, *, verified: bool = True) -> Account:
    person = await signed_in_citizen(client, verified=verified)
    await in_english(client)
    return person


def photo(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


# scikit-image's photographs, turned so that no other test uses the very same image (the
# worker refuses a photo already used in another verification). The astronaut (Eileen
# Collins): one face, large and centred; the lower half of her portrait stands in for a card.
def selfie() -> bytes:
    return photo(ImageOps.mirror(Image.fromarray(samples.astronaut())).resize((720, 720)))


def card() -> bytes:
    lower = Image.fromarray(samples.astronaut()).crop((0, 256, 512, 512))
    return photo(ImageOps.mirror(lower).resize((960, 480)))


def coffee() -> bytes:
    """A cup of coffee, 600 × 400: no face, and too small for an identity photo."""
    return photo(Image.fromarray(samples.coffee()))


async def start(client: PageClient, next_path: str = DRAFT) -> int:
    page = await client.get(f"/identity?next={next_path}")
    assert page.status_code == 200
    response = await client.post(
        "/identity/start",
        data={"_csrf_token": csrf_from(page), "next": next_path},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/identity/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def send(client: PageClient, verification_id: int, part: str, data: bytes) -> httpx.Response:
    page = await client.get(f"/identity/{verification_id}")
    return await client.post(
        f"/identity/{verification_id}/{part}",
        data={"_csrf_token": csrf_from(page)},
        files=[("file", (f"{part}.jpg", data, "image/jpeg"))],
        follow_redirects=False,
    )


async def verification(verification_id: int) -> Verification:
    found = (
        await Verification.objects()
        .where(Verification.id == verification_id)
        .output(load_json=True)
        .first()
    )
    assert found is not None
    return found


async def identity_files(account_id: int) -> list[dict[str, Any]]:
    return list(
        await StoredFile.select(StoredFile.id, StoredFile.storage_key, StoredFile.purpose).where(
            StoredFile.owner == account_id, StoredFile.purpose.like("identity:%")
        )
    )


async def check(verification_id: int, part: str) -> str:
    """The worker's task itself, run here as the worker runs it."""
    return await tasks.check_image({}, verification_id, part)


def forms(page: httpx.Response, verification_id: int) -> set[str]:
    return set(re.findall(rf'action="/identity/{verification_id}/(\w+)"', page.text))


async def test_start_shows_the_steps_then_the_challenge(client: PageClient) -> None:
    person = await citizen(client, verified=False)
    page = await client.get("/identity")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'action="/identity/start"' in page.text
    assert "5" in page.text  # tries left
    verification_id = await start(client)
    found = await verification(verification_id)
    assert found.account == person.id and found.next_path == DRAFT
    page = await client.get(f"/identity/{verification_id}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    expected = found.challenge if found.challenge_kind == "number" else "Turn your head to the"
    assert expected in page.text
    assert 'capture="user"' in page.text and 'capture="environment"' in page.text
    assert "/static/js/camera.js" in page.text and "<video" in page.text
    assert forms(page, verification_id) == {"selfie", "document"}  # no licence record: no button
    assert "hx-trigger" not in page.text  # nothing is being checked: no polling
    # Starting again (from the account page, say) continues the same verification.
    assert await start(client, "/account") == verification_id
    assert (await verification(verification_id)).next_path == "/account"


async def test_an_outside_next_is_not_kept(client: PageClient) -> None:
    await citizen(client, verified=False)
    verification_id = await start(client, "//evil.example/")
    assert (await verification(verification_id)).next_path == "/"


async def test_a_verified_person_is_told_so_and_sent_back(client: PageClient) -> None:
    await citizen(client, verified=True)
    page = await client.get(f"/identity?next={DRAFT}")
    assert page.status_code == 200
    assert f'href="{DRAFT}"' in page.text and 'action="/identity/start"' not in page.text
    response = await client.post(
        "/identity/start",
        data={"_csrf_token": csrf_from(page), "next": DRAFT},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == DRAFT


async def test_uploads_are_stored_checked_and_polled(client: PageClient) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    response = await send(client, verification_id, "selfie", jpeg())
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/identity/{verification_id}#part-selfie"
    found = await verification(verification_id)
    assert found.state == VerificationState.CHECKING and found.selfie is not None
    [stored] = await identity_files(int(person.id))
    assert stored["purpose"] == "identity:selfie"
    page = await client.get(f"/identity/{verification_id}")
    # While the selfie is checked the parts poll; only the document's form is offered.
    assert 'hx-trigger="every 2s"' in page.text
    assert f'href="/identity/{verification_id}"' in page.text  # the no-JS refresh
    assert forms(page, verification_id) == {"document"}
    fragment = await client.get(f"/identity/{verification_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="identity-parts"' in fragment.text
    # A second selfie before the check replaces the first, whose object is deleted.
    assert (await send(client, verification_id, "selfie", jpeg(900, 700))).status_code == 303
    [again] = await identity_files(int(person.id))
    assert again["id"] != stored["id"]
    storage = storage_from_settings(get_settings())
    assert not await storage.exists(stored["storage_key"])
    assert await storage.exists(again["storage_key"])


async def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_stored(
    client: PageClient,
) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    for data in (pdf(), b"not an image at all"):
        response = await send(client, verification_id, "selfie", data)
        assert response.status_code == 400
        assert 'role="alert"' in response.text
        assert forms(response, verification_id) == {"selfie", "document"}
    page = await client.get(f"/identity/{verification_id}")
    response = await client.post(
        f"/identity/{verification_id}/selfie",
        data={"_csrf_token": csrf_from(page)},
        files=[("other", ("x.jpg", jpeg(), "image/jpeg"))],
    )
    assert response.status_code == 400  # no field "file"
    assert await identity_files(int(person.id)) == []
    assert await Attempt.count().where(Attempt.account == person.id) == 0
    assert (await verification(verification_id)).state == VerificationState.CAPTURING


async def test_tries_are_limited_and_the_last_refusal_stores_nothing(client: PageClient) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    limit = get_settings().identity_attempts
    for _ in range(limit):
        assert (await send(client, verification_id, "selfie", jpeg())).status_code == 303
    before = await identity_files(int(person.id))
    response = await send(client, verification_id, "document", jpeg())
    assert response.status_code == 400
    assert "You have used every try for now" in response.text
    assert await identity_files(int(person.id)) == before
    assert (await verification(verification_id)).document is None
    assert await Attempt.count().where(Attempt.account == person.id) == limit
    # The start page says when to try again, and points to a counter.
    page = await client.get("/identity")
    assert "You have used every try for now" not in page.text  # one is still under way
    await Verification.update({Verification.state: VerificationState.EXPIRED}).where(
        Verification.id == verification_id
    )
    page = await client.get("/identity")
    assert "You have used every try for now" in page.text and "counter" in page.text
    assert 'action="/identity/start"' not in page.text


async def test_an_expired_verification_says_so_and_a_new_one_starts(client: PageClient) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    await Verification.update(
        {Verification.expires_at: service.now() - timedelta(minutes=1)}
    ).where(Verification.id == verification_id)
    page = await client.get(f"/identity/{verification_id}")
    assert page.status_code == 200
    assert "This verification expired" in page.text
    assert forms(page, verification_id) == set()
    response = await send(client, verification_id, "selfie", jpeg())
    assert response.status_code == 400 and "expired" in response.text
    assert await identity_files(int(person.id)) == []
    assert (await verification(verification_id)).state == VerificationState.EXPIRED
    again = await start(client)
    assert again != verification_id
    assert (await verification(again)).state == VerificationState.CAPTURING


async def test_someone_elses_verification_is_not_found(client: PageClient) -> None:
    await citizen(client, verified=False)
    theirs = await start(client)
    await citizen(client, verified=False)  # another person signs in on the same client
    mine = await start(client)
    token = csrf_from(await client.get(f"/identity/{mine}"))
    assert (await client.get(f"/identity/{theirs}")).status_code == 404
    for path in (f"/identity/{theirs}/selfie", f"/identity/{theirs}/licence"):
        response = await client.post(
            path, data={"_csrf_token": token}, files=[("file", ("a.jpg", jpeg(), "image/jpeg"))]
        )
        assert response.status_code == 404
    assert (await verification(theirs)).selfie is None
    for path in ("/identity/2147483648", "/identity/0", f"/identity/{mine}/passport"):
        method = client.get if path.count("/") == 2 else client.post
        kwargs = {} if method == client.get else {"data": {"_csrf_token": token}}
        assert (await method(path, **kwargs)).status_code == 404, path


async def test_the_id_card_of_the_library_only_with_the_authorisation(client: PageClient) -> None:
    authenticator, account_id = await citizen_with_passkey(client)
    await in_english(client)
    await Account.update({Account.identity_verified_at: None}).where(Account.id == account_id)
    await add_licence(account=account_id)
    verification_id = await start(client)
    page = await client.get(f"/identity/{verification_id}")
    assert "licence" not in forms(page, verification_id)  # not authorised: no button
    response = await client.post(
        f"/identity/{verification_id}/licence", data={"_csrf_token": csrf_from(page)}
    )
    assert response.status_code == 400 and "data-use authorisation" in response.text
    assert (await verification(verification_id)).document_report is None

    document_id = await authorisation(client)
    challenge_id, options, csrf = await start_signing(client, document_id)
    signed = await finish(
        client, document_id, challenge_id, authenticator.get(options, ORIGIN), csrf
    )
    assert signed.status_code == 200, signed.text
    page = await client.get(f"/identity/{verification_id}")
    assert "licence" in forms(page, verification_id)
    response = await client.post(
        f"/identity/{verification_id}/licence",
        data={"_csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    found = await verification(verification_id)
    assert found.document_source == "licence" and found.document_report["ok"]
    page = await client.get(f"/identity/{verification_id}")
    assert forms(page, verification_id) == {"selfie"}
    assert "From your licence library" in page.text


async def test_review_approval_and_rejection_as_the_citizen_sees_them(client: PageClient) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    passed = {"ok": True, "checks": [{"code": "size", "ok": True, "message": "Large enough."}]}
    for part in service.PARTS:
        assert (await send(client, verification_id, part, jpeg())).status_code == 303
        await service.record_report(verification_id, part, passed)
    page = await client.get(f"/identity/{verification_id}")
    assert (await verification(verification_id)).state == VerificationState.IN_REVIEW
    assert "An officer is looking at it" in page.text and "text message" in page.text
    assert forms(page, verification_id) == set() and "hx-trigger" not in page.text
    assert page.text.count('src="/files/') == 2  # the person's own photos, shown back
    found = await verification(verification_id)
    from tests.applications.people import officer

    reviewer = await officer()
    await service.decide(
        reviewer, verification_id, approve=False, reason="照片模糊", version=found.version
    )
    page = await client.get(f"/identity/{verification_id}")
    assert "照片模糊" in page.text and 'action="/identity/start"' in page.text
    again = await start(client)
    for part in service.PARTS:
        assert (await send(client, again, part, jpeg())).status_code == 303
        await service.record_report(again, part, passed)
    found = await verification(again)
    await service.decide(reviewer, again, approve=True, reason="", version=found.version)
    page = await client.get(f"/identity/{again}")
    assert "Your identity is verified" in page.text
    assert f'href="{DRAFT}"' in page.text
    refreshed = await Account.objects().where(Account.id == person.id).first()
    assert refreshed is not None and refreshed.identity_verified_at is not None


async def test_the_worker_checks_each_part_and_only_the_failed_one_is_asked_again(
    client: PageClient,
) -> None:
    person = await citizen(client, verified=False)
    verification_id = await start(client)
    assert (await send(client, verification_id, "selfie", coffee())).status_code == 303
    assert (await send(client, verification_id, "document", card())).status_code == 303
    assert await check(verification_id, "selfie") == "failed"
    assert await check(verification_id, "document") == "passed"
    page = await client.get(f"/identity/{verification_id}")
    assert (await verification(verification_id)).state == VerificationState.CAPTURING
    # Every reason the selfie failed, and only the selfie's form.
    assert "The photo is too small (its shorter side must be at least 480 pixels)" in page.text
    assert "No face was found." in page.text
    assert "The photo is sharp." not in page.text  # what passed is not listed as a failure
    assert forms(page, verification_id) == {"selfie"}
    assert "hx-trigger" not in page.text
    # The worker kept a clean JPEG in place of the card photo.
    found = await verification(verification_id)
    stored = await StoredFile.objects().where(StoredFile.id == found.document).first()
    assert stored is not None and stored.content_type == "image/jpeg"

    assert (await send(client, verification_id, "selfie", selfie())).status_code == 303
    assert await check(verification_id, "selfie") == "passed"
    page = await client.get(f"/identity/{verification_id}")
    assert (await verification(verification_id)).state == VerificationState.IN_REVIEW
    assert "An officer is looking at it" in page.text
    assert len(await identity_files(int(person.id))) == 2  # the failed selfie is gone

    # Someone else sending the same selfie is told it was used already.
    await citizen(client, verified=False)
    other = await start(client)
    assert (await send(client, other, "selfie", selfie())).status_code == 303
    assert await check(other, "selfie") == "failed"
    page = await client.get(f"/identity/{other}")
    assert "This photo was already used in another identity check" in page.text


async def test_the_account_page_leads_to_the_verification_and_shows_it_under_way(
    client: PageClient,
) -> None:
    await citizen(client, verified=False)
    page = await client.get("/account")
    assert 'href="/identity"' in page.text
    verification_id = await start(client)
    page = await client.get("/account")
    assert f'href="/identity/{verification_id}"' in page.text
    await citizen(client, verified=True)
    page = await client.get("/account")
    assert 'id="identity-title"' not in page.text  # verified: nothing to do


async def test_a_draft_needing_level_2_links_to_the_verification_and_back(
    client: PageClient,
) -> None:
    await citizen(client, verified=False)
    checklist = await client.get("/guide/seal-engraving/checklist")
    response = await client.post(
        "/guide/seal-engraving/apply",
        data={"_csrf_token": csrf_from(checklist)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    draft = response.headers["location"]
    page = await client.get(draft)
    assert f'href="/identity?next={draft}"' in page.text
    verification_id = await start(client, draft)
    assert (await verification(verification_id)).next_path == draft
