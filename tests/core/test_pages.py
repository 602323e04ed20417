from __future__ import annotations

from tests.conftest import PageClient, csrf_from


async def test_home_page_is_chinese_by_default_and_lists_seeded_departments(
    client: PageClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="zh-Hans"' in response.text
    assert "政务服务，一网通办" in response.text
    assert "市场监督管理局" in response.text


async def test_english_is_chosen_from_accept_language(client: PageClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en"' in response.text
    assert "Government services in one place" in response.text
    assert "Administration for Market Regulation" in response.text
    assert response.headers["content-language"] == "en"


async def test_anonymous_page_view_creates_no_session(client: PageClient) -> None:
    response = await client.get("/")
    assert "tongban_session" not in response.cookies


async def test_offline_page_renders(client: PageClient) -> None:
    response = await client.get("/offline")
    assert response.status_code == 200
    assert "您已离线" in response.text


async def test_unknown_page_is_a_localised_404_page(client: PageClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "页面不存在" in response.text
    assert response.headers["x-request-id"] in response.text


async def test_404_for_htmx_is_a_fragment_retargeted_to_messages(client: PageClient) -> None:
    response = await client.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.headers["hx-retarget"] == "#messages"
    assert "<html" not in response.text
    assert 'role="alert"' in response.text


async def test_404_for_json_clients_is_json(client: PageClient) -> None:
    response = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_manifest_describes_an_installable_app(client: PageClient) -> None:
    response = await client.get("/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["short_name"] == "通办"
    assert manifest["display"] == "standalone"
    assert manifest["lang"] == "zh-Hans"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        assert (await client.get(icon["src"])).status_code == 200


async def test_service_worker_is_versioned_and_precaches_the_shell(client: PageClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    body = response.text
    assert "__VERSION__" not in body and "__PRECACHE__" not in body
    for path in ("/offline", "/static/vendor/htmx.min.js", "/static/css/app.css"):
        assert f'"{path}"' in body


async def test_htmx_is_vendored_and_pinned(client: PageClient) -> None:
    response = await client.get("/static/vendor/htmx.min.js")
    assert response.status_code == 200
    assert 'version:"2.0.11"' in response.text.replace(" ", "")


async def test_an_unexpected_error_is_a_localised_500_page_without_details() -> None:
    from litestar import get
    from litestar.testing import AsyncTestClient

    from app.asgi import create_app

    @get("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    app = create_app()
    app.app.register(boom)
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as raw:
        page = await raw.get("/boom")
        fragment = await raw.get("/boom", headers={"HX-Request": "true"})
    assert page.status_code == 500 and "出错了" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
    assert page.headers["x-request-id"] in page.text  # the reference to quote to support
    assert fragment.status_code == 500 and fragment.headers["hx-retarget"] == "#messages"


async def test_a_body_over_the_limit_is_refused_before_it_is_read(client: PageClient) -> None:
    token = csrf_from(await client.get("/"))
    response = await client.post(
        "/preferences/language",
        content=b"lang=en&pad=" + b"x" * (11 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": token},
    )
    assert response.status_code == 413
    assert "超过了允许的大小" in response.text
    assert "tongban_lang" not in client.cookies
