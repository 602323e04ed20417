"""How close each page comes to what the framework allows: the real app against a bare render.

Starts the production server configuration (``tongban serve``: granian, one worker,
TONGBAN_ENV=prod, JSON logs at info level) on a temporary SQLite file (or
TONGBAN_BENCH_DATABASE_URL) and an embedded Redis, fetches each page once and saves its HTML,
then starts a bare Litestar + Jinja app — no database, session or middleware — that renders
that saved HTML as a template, under the same granian settings. ``wrk`` loads both, one after
the other for each case, so both share whatever else the machine is doing.

Visits: ``first`` sends no cookies (a new visitor: the app hands out a CSRF cookie);
``repeat`` sends what a browser holds after a visit (CSRF and language cookies); ``signed-in``
adds a session opened by SMS sign-in (the code is read from the outbox).

    python -m bench.pages [--seconds 5] [--connections 64] [--threads 2] [--profile DIR]

``--profile DIR`` samples the app with py-spy during each case (the figures then include
the sampler's cost) and prints where the time went; see bench/profile.py.

Needs wrk (Debian package ``wrk``); run as root, the bench installs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from bench import profile

PAGES_DIR_ENV = "TONGBAN_BENCH_PAGES_DIR"
PHONE = "13800000001"  # a seeded citizen
CASES: tuple[tuple[str, str], ...] = (
    ("/", "first"),
    ("/", "repeat"),
    ("/", "signed-in"),
    ("/signin", "first"),
    ("/signin", "repeat"),
    ("/offline", "first"),
    ("/offline", "repeat"),
    ("/account", "signed-in"),
    ("/healthz", "first"),
    # The catalogue, with SYNTHETIC generated items on top of the seeded ones.
    ("/services", "first"),
    ("/services", "repeat"),
    ("/services?q=spjy", "repeat"),
    ("/services/food-business-licence", "first"),
    ("/services/food-business-licence", "repeat"),
    ("/bundles/open-restaurant", "repeat"),
    ("/departments/market-regulation", "repeat"),
    ("/guide/food-business-licence", "repeat"),
    ("/api/v1/services?q=spjy", "first"),
    # Applications: the demo ones of the seeded citizen (app/applications/seed.py); the
    # tracking page of the first is added once its code is known (``_tracking_case``).
    ("/applications", "signed-in"),
    ("/applications/1", "signed-in"),
    ("/track", "first"),
    # Courier service: the seeded citizen's address book (app/courier/seed.py).
    ("/addresses", "signed-in"),
    # Appointments: the seeded centres (app/appointments/data), the hall display of the first.
    ("/centres", "first"),
    ("/centres/1/board", "first"),
    ("/bookings", "signed-in"),
)
SYNTHETIC = 1100  # generated items: the catalogue has more than Fengxian's 1,093
JSON_PAGES = ("/api/",)


@dataclass(frozen=True, slots=True)
class Result:
    rate: float
    p50: float
    p99: float
    failed: int


# --- the bare baseline -------------------------------------------------------------------


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "_", path.strip("/")) or "home"


def _template_name(visit: str, path: str) -> str:
    suffix = ".json" if path.startswith(JSON_PAGES) else ".html"
    return f"{visit}/{_slug(path)}{suffix}"


def _bare_path(visit: str, path: str) -> str:
    return "/" + _template_name(visit, path).rsplit(".", 1)[0]


def bare_app() -> Litestar:
    """Litestar + Jinja and nothing else: each saved page is a template, /healthz is JSON."""
    pages = Path(os.environ[PAGES_DIR_ENV])
    handlers: list[Any] = []
    for visit_dir in sorted(p for p in pages.iterdir() if p.is_dir()):
        for file in sorted(visit_dir.glob("*.html")):
            name = f"{visit_dir.name}/{file.name}"

            def page(name: str = name) -> Any:
                @get(f"/{name.removesuffix('.html')}", sync_to_thread=False)
                def render() -> Template:
                    return Template(template_name=name)

                return render

            handlers.append(page())
        # JSON answers: the bare app encodes the same data on every request.
        for file in sorted(visit_dir.glob("*.json")):
            data = json.loads(file.read_text(encoding="utf-8"))

            def answer(path: str, data: Any = data) -> Any:
                @get(path, sync_to_thread=False)
                def render() -> Any:
                    return data

                return render

            handlers.append(answer(f"/{visit_dir.name}/{file.stem}"))

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[*handlers, healthz],
        template_config=TemplateConfig(directory=pages, engine=JinjaTemplateEngine),
        openapi_config=None,
        debug=False,
    )


def _save_page(pages: Path, visit: str, path: str, html: str) -> None:
    target = pages / _template_name(visit, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The saved page is rendered as a template; keep any brace sequence literal.
    if re.search(r"\{[{%#]", html):
        html = "{% raw %}" + html + "{% endraw %}"
    target.write_text(html, encoding="utf-8")


# --- the real app ------------------------------------------------------------------------


def _cookies_from(response: httpx.Response, jar: dict[str, str]) -> None:
    # Cookies are Secure (https public URL) while the bench talks plain HTTP: keep them by hand.
    for header in response.headers.get_list("set-cookie"):
        name, _sep, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


async def _read_code(phone: str) -> str:
    from app.notifications.tables import Notification

    row = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == f"+86{phone}")
        .order_by(Notification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert row is not None, "no SMS in the outbox"
    return str(row["params"]["code"])


def _sign_in(base: str, origin: str, jar: dict[str, str]) -> None:
    headers = {"Cookie": _cookie_header(jar), "Origin": origin}
    page = httpx.get(f"{base}/signin", headers=headers)
    _cookies_from(page, jar)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF field on /signin"
    headers["Cookie"] = _cookie_header(jar)
    asked = httpx.post(
        f"{base}/signin/code", data={"phone": PHONE, "_csrf_token": token.group(1)}, headers=headers
    )
    assert asked.status_code == 200, asked.status_code
    _cookies_from(asked, jar)  # the code is redeemable only with the device cookie set here
    headers["Cookie"] = _cookie_header(jar)
    code = asyncio.run(_read_code(PHONE))
    signed = httpx.post(
        f"{base}/signin/verify",
        data={"phone": f"+86{PHONE}", "code": code, "_csrf_token": token.group(1)},
        headers=headers,
    )
    assert signed.status_code == 303, signed.status_code
    _cookies_from(signed, jar)
    assert any(name.endswith("tongban_session") for name in jar), "sign-in set no session"


def _capture(base: str, origin: str, pages: Path) -> dict[str, dict[str, str]]:
    """Fetch every page once per visit kind, save its HTML; return the cookies per visit."""
    visits: dict[str, dict[str, str]] = {"first": {}}
    home = httpx.get(f"{base}/")
    repeat: dict[str, str] = {"tongban_lang": "zh-Hans"}
    _cookies_from(home, repeat)
    # Named tongban_csrf, or __Host-tongban_csrf under HTTPS.
    assert any(name.endswith("tongban_csrf") for name in repeat), "/ set no CSRF cookie"
    visits["repeat"] = repeat
    signed = dict(repeat)
    _sign_in(base, origin, signed)
    visits["signed-in"] = signed
    for path, visit in CASES:
        headers = {"Cookie": _cookie_header(visits[visit])} if visits[visit] else {}
        response = httpx.get(base + path, headers=headers)
        assert response.status_code == 200, (path, visit, response.status_code)
        if path.startswith(JSON_PAGES):
            target = pages / _template_name(visit, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(response.text, encoding="utf-8")
        elif path != "/healthz":
            _save_page(pages, visit, path, response.text)
    return visits


def _tracking_case(base: str, pages: Path, visits: dict[str, dict[str, str]]) -> tuple[str, str]:
    """The public tracking page of demo application 1, whose code is drawn at seeding."""
    own = httpx.get(
        f"{base}/applications/1", headers={"Cookie": _cookie_header(visits["signed-in"])}
    )
    found = re.search(r'href="/track/([0-9A-Z]{12})"', own.text)
    assert found, "no tracking link on /applications/1"
    path = f"/track/{found.group(1)}"
    response = httpx.get(base + path)
    assert response.status_code == 200, (path, response.status_code)
    _save_page(pages, "first", path, response.text)
    return path, "first"


# --- load --------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing the Debian package 'wrk'…", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(
        "bench.pages needs wrk, and none was found. Install the package 'wrk' "
        "(Debian/Ubuntu: sudo apt-get install wrk), then run it again."
    )


def wrk(url: str, seconds: float, connections: int, threads: int, cookie: str = "") -> Result:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def millis(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return Result(
        rate=float(rate.group(1)) if rate else float("nan"),
        p50=millis("50"),
        p99=millis("99"),
        failed=(int(failed.group(1)) if failed else 0) + (int(errors.group(1)) if errors else 0),
    )


# --- processes ---------------------------------------------------------------------------


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve_bare(port: int) -> None:
    from app.cli import web_server

    web_server("bench.pages:bare_app", host="127.0.0.1", port=port, workers=1, factory=True).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5, help="wrk duration per case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--page",
        action="append",
        help="measure only this page (repeatable; a trailing * matches a prefix), e.g. --page /",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the app with py-spy during each case; keep the stacks in DIR",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        _serve_bare(args.serve_bare)
        return
    ensure_wrk()

    from app.core.redis import EmbeddedRedis, free_port

    tmp = Path(tempfile.mkdtemp(prefix="tongban-bench-pages-"))
    redis = EmbeddedRedis(tmp / "redis", persist=False)
    database = os.environ.get("TONGBAN_BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'b.sqlite3'}"
    port, bare_port = free_port(), free_port()
    origin = f"https://localhost:{port}"
    common = {
        "TONGBAN_VAR_DIR": str(tmp),
        "TONGBAN_REDIS_URL": redis.start(),
        "TONGBAN_DATABASE_URL": database,
        "TONGBAN_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "TONGBAN_PUBLIC_URL": origin,
        "TONGBAN_LOG_LEVEL": "info",
        "TONGBAN_SMS_PER_IP_HOUR": "100000",
        "TONGBAN_TRACK_LOOKUPS_PER_MINUTE": "100000000",  # wrk is one client address
    }
    os.environ.update(common)  # this process reads the SMS code from the outbox
    setup = {**os.environ, "TONGBAN_ENV": "dev"}
    production = {
        **os.environ,
        "TONGBAN_ENV": "prod",
        # Required in prod; no worker runs here, so nothing is ever sent to it.
        "TONGBAN_SMS_PROVIDER": "http",
        "TONGBAN_SMS_HTTP_URL": "https://localhost:9/sms",
        "TONGBAN_SMS_HTTP_SECRET": "bench-gateway-secret",
    }
    bare_env = {**production, PAGES_DIR_ENV: str(tmp / "pages")}
    bare_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")])
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for step in (["migrate"], ["seed"], ["catalogue", "generate", str(SYNTHETIC)]):
            subprocess.run(
                [sys.executable, "-m", "app.cli", *step], env=setup, check=True, capture_output=True
            )
        log = (tmp / "web.log").open("wb")
        app = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
            env=production,
            stdin=subprocess.DEVNULL,
            stderr=log,
            stdout=log,
        )
        processes.append(app)
        app_base = f"http://127.0.0.1:{port}"
        _wait_healthy(app_base, app)
        visits = _capture(app_base, origin, tmp / "pages")
        cases = (*CASES, _tracking_case(app_base, tmp / "pages", visits))

        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.pages", "--serve-bare", str(bare_port)],
            env=bare_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(bare)
        bare_base = f"http://127.0.0.1:{bare_port}"
        _wait_healthy(bare_base, bare)
        for path, visit in cases:
            if path == "/healthz":
                continue
            saved = (tmp / "pages" / _template_name(visit, path)).read_text(encoding="utf-8")
            served = httpx.get(bare_base + _bare_path(visit, path))
            if path.startswith(JSON_PAGES):
                assert served.json() == json.loads(saved)
            else:
                assert served.text == saved.removeprefix("{% raw %}").removesuffix("{% endraw %}")

        kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
        print(
            f"pages: tongban serve (granian, 1 worker, prod, {kind}) against a bare Litestar + "
            f"Jinja render of the same HTML; wrk -t{args.threads} -c{args.connections} "
            f"-d{args.seconds:g}s; {os.cpu_count()} cores"
        )
        print(f"catalogue: the seeded items and {SYNTHETIC} generated ones")
        print(
            f"{'page':32} {'visit':9} │ {'app req/s':>9} {'p50 ms':>7} {'p99 ms':>7} │ "
            f"{'bare req/s':>10} {'p50 ms':>7} {'p99 ms':>7} │ {'app/bare':>8}"
        )
        summaries: list[str] = []
        for path, visit in cases:
            if args.page and not any(
                path == wanted or (wanted.endswith("*") and path.startswith(wanted[:-1]))
                for wanted in args.page
            ):
                continue
            cookie = _cookie_header(visits[visit])
            bare_url = (
                f"{bare_base}/healthz"
                if path == "/healthz"
                else bare_base + _bare_path(visit, path)
            )
            measured = []
            for url in (app_base + path, bare_url):
                wrk(url, 1, args.connections, args.threads, cookie)  # warm-up
                sampler = None
                if args.profile and url.startswith(app_base):
                    args.profile.mkdir(parents=True, exist_ok=True)
                    stacks = args.profile / f"{visit}-{_slug(path)}.txt"
                    sampler = profile.record(app.pid, args.seconds, stacks)
                measured.append(wrk(url, args.seconds, args.connections, args.threads, cookie))
                if sampler:
                    sampler.wait()
                    summaries.append(profile.summarise(stacks))
            real, base = measured
            ratio = real.rate / base.rate if base.rate else float("nan")
            flag = f"  ({real.failed} failed)" if real.failed else ""
            print(
                f"{path:32} {visit:9} │ {real.rate:9.0f} {real.p50:7.1f} {real.p99:7.1f} │ "
                f"{base.rate:10.0f} {base.p50:7.1f} {base.p99:7.1f} │ {ratio:7.0%}{flag}",
                flush=True,
            )
        for summary in summaries:
            print(summary)
    finally:
        for process in reversed(processes):
            _stop(process)
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
