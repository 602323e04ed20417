from __future__ import annotations

import pytest

from app.core.preferences import safe_next
from tests.conftest import PageClient, csrf_from


async def test_switching_to_english_is_remembered_and_confirmed(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    response = await client.post(
        "/preferences/language",
        data={"lang": "en", "next": "/?from=footer", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/?from=footer"
    assert client.cookies["tongban_lang"] == "en"
    page = await client.get("/")
    assert '<html lang="en"' in page.text
    assert "Government services in one place" in page.text
    # The confirmation is flashed once, in the new language, then gone.
    assert "Language changed to English." in page.text
    assert "Language changed" not in (await client.get("/")).text


async def test_elderly_mode_marks_the_page_and_can_be_turned_off(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    await client.post("/preferences/elderly", data={"elder": "1", "_csrf_token": token})
    page = await client.get("/")
    assert 'class="elder"' in page.text
    assert 'aria-pressed="true"' in page.text
    await client.post("/preferences/elderly", data={"elder": "0", "_csrf_token": csrf_from(page)})
    assert 'class="elder"' not in (await client.get("/")).text


@pytest.mark.parametrize(
    ("field", "value"), [("lang", "fr"), ("lang", ""), ("elder", "yes"), ("elder", "2")]
)
async def test_unsupported_choices_get_a_localised_400_and_change_nothing(
    client: PageClient, field: str, value: str
) -> None:
    token = csrf_from(await client.get("/"))
    path = "/preferences/language" if field == "lang" else "/preferences/elderly"
    response = await client.post(path, data={field: value, "_csrf_token": token})
    assert response.status_code == 400
    assert "<html" in response.text
    assert not {"tongban_lang", "tongban_elder"} & set(client.cookies.keys())


async def test_missing_field_is_a_400_not_a_500(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    response = await client.post("/preferences/language", data={"_csrf_token": token})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/offline", "/offline"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("offline", "/"),
        ("/\t/evil.example", "/"),  # browsers drop the tab: //evil.example
        ("/\r/evil.example", "/"),
        ("/\x7f", "/"),
    ],
)
def test_redirect_target_stays_on_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected
