"""Browser tests: Playwright drives Chromium against the real studio, served as `make run` serves it
(`manage.py runstudio`: uvicorn, a django-q2 worker and the sandbox) on a database of its own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import databases

BASE_DIR = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "No Chromium found for the browser tests: install Debian's (apt-get install chromium) "
    "or set CHROMIUM_PATH to a Chromium binary."
)


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    try:  # Playwright's own browser, where someone could install it
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        if path and os.access(path, os.X_OK):
            return path
    except Exception:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveStudio:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env

    def manage(self, *args: str) -> str:
        return databases.manage(self.env, *args)


@pytest.fixture(scope="session")
def live_studio() -> Iterator[LiveStudio]:
    var_dir = Path(tempfile.mkdtemp(prefix="studio-browser-"))
    database_url = databases.create(var_dir, "browser")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STUDIO_VAR_DIR": str(var_dir),
        "DEBUG": "0",
        "SECRET_KEY": "browser-tests-not-secret",
        "SANDBOX_PORT": str(free_port()),
        "Q_CLUSTER_NAME": f"browser-{uuid.uuid4().hex[:8]}",
        "SANDBOX_SPEED": os.environ.get("SANDBOX_SPEED", "0.05"),
        "STUDIO_POLL_FLOOR": "0.3",
        # The tests start jobs faster than a person: room for a few dozen calls a second, so the
        # 60-a-minute limit (tested in test_ratelimit) does not hold the every-model run for 60 s.
        "SANDBOX_RATE_LIMIT": "600",
        "APIINONE_RATE_LIMIT": "600",
        "STUDIO_RESULT_KEEPERS": "4",  # as in production (unit tests run without them)
        "STUDIO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    for name in ("DJANGO_SETTINGS_MODULE", "Q_SYNC"):
        env.pop(name, None)
    studio = LiveStudio(f"http://127.0.0.1:{port}", env)
    studio.manage("migrate", "--noinput")
    studio.manage("collectstatic", "--noinput")
    log = open(var_dir / "server.log", "w")  # noqa: SIM115 - closed below, after the server
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runstudio", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{studio.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("The studio did not start:\n" + (var_dir / "server.log").read_text())
            time.sleep(0.2)
        yield studio
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        databases.drop(database_url)
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    """Per module, not per session: Playwright's sync API runs an event loop in this thread while
    it is open, and the database tests a worker runs after the browser tests would refuse to run
    beside it (SynchronousOnlyOperation)."""
    path = find_chromium()
    if path is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_studio):
    context = browser.new_context(base_url=live_studio.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
