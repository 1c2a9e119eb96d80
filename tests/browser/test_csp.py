"""Every page of the studio, walked in Chromium with its Content-Security-Policy on: not one
violation (no inline script or style, no eval), and a hostile SVG result never runs its script."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error, Page, expect

from generations import catalog
from tests.browser.test_generate import sign_up

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`
  ));
"""


class Violations:
    """CSP violations seen on a page, from the browser's console and its violation events."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on(
            "dialog",
            lambda dialog: (self.seen.append(f"dialog: {dialog.message}"), dialog.dismiss()),
        )

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.seen.append(f"{self.page.url}: {message.text}")

    def collect(self) -> None:
        try:
            events = self.page.evaluate("window.__csp || []")
        except Error:  # navigating
            return
        self.seen.extend(f"{self.page.url}: {event}" for event in events)
        self.page.evaluate("window.__csp = []")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None, path
        assert response.status < 400, (path, response.status)
        assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
        self.collect()  # by the load event, the page's scripts and styles have all been tried


def test_no_page_breaks_its_content_security_policy(page, live_studio) -> None:
    seen = Violations(page)
    username = sign_up(page)
    seen.collect()

    # Create: every model's form (htmx swaps it in), an estimate, a job run to its end.
    seen.visit("/")
    for spec in catalog.MODELS.values():
        if spec.async_task:
            seen.visit(f"/?model={spec.slug}")
    seen.visit("/")
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a red kite over green hills")
    page.get_by_label("Prompt", exact=True).press("Tab")
    page.get_by_role("button", name="Run Flux 2").click()
    card = page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    seen.collect()
    job = card.get_by_role("link", name="Details").get_attribute("href")

    # A result that is an SVG with a script: refused, said on its card, never run.
    page.get_by_label("Prompt", exact=True).fill("a logo [sandbox:svg]")
    page.get_by_role("button", name="Run Flux 2").click()
    refused = page.locator(".job-card").first
    expect(refused.locator(".state-badge")).to_have_text("Failed", timeout=30_000)
    expect(refused).to_contain_text("not an image file the studio keeps")
    seen.collect()

    # Gallery with a search (htmx), the job's page, its file.
    seen.visit("/gallery/")
    page.get_by_label("Search prompts").fill("kite")
    expect(page).to_have_url(re.compile(r"q=kite"))
    seen.collect()
    seen.visit(job)
    seen.visit(f"{job}files/0")

    # Chat: a streamed reply (the page's own script, from static/).
    seen.visit("/chat/")
    page.get_by_label("Message").fill("What is a credit?")
    page.get_by_role("button", name="Start chat").click()
    reply = page.locator(".bubble-assistant").last
    expect(reply.locator(".bubble-credits")).to_contain_text("credit", timeout=30_000)
    seen.collect()

    for path in (
        "/usage/",
        "/usage/?group=model&bucket=day",
        "/usage/jobs?group=member&value=" + username,
        "/credits/",
        "/approvals/",
        "/workspace/",
        "/workspace/audit",
        "/workspaces/",
        "/accounts/password/",
    ):
        seen.visit(path)

    page.context.clear_cookies()
    for path in (
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/admin/login/",
        "/invite/not-a-real-token-at-all",
    ):
        page.goto(path)
        seen.collect()
    assert seen.seen == []


def test_a_stored_svg_with_a_script_is_downloaded_not_run(page, live_studio) -> None:
    seen = Violations(page)
    username = sign_up(page)
    page.get_by_role("link", name="Flux 2").click()
    page.get_by_label("Prompt", exact=True).fill("a plain square")
    page.get_by_role("button", name="Run Flux 2").click()
    expect(page.locator(".job-card .state-badge").first).to_have_text("Done", timeout=30_000)
    # What an older studio (or any bug) could have kept: the job's file swapped for an SVG that
    # claims to be an image and carries a script.
    live_studio.manage(
        "shell",
        "-c",
        "from generations.models import GenerationFile as F;"
        "from generations.sandbox.server import HOSTILE_SVG;"
        f"f = F.objects.filter(generation__user__username={username!r}).get();"
        "open(f.file.path, 'wb').write(HOSTILE_SVG);"
        "F.objects.filter(pk=f.pk).update(content_type='image/svg+xml')",
    )
    job = page.locator(".job-card").first.get_by_role("link", name="Details").get_attribute("href")
    with page.expect_download() as download, pytest.raises(Error, match="Download is starting"):
        page.goto(f"{job}files/0")  # a download, not a page
    assert download.value.suggested_filename.endswith(".png")
    page.wait_for_timeout(300)
    assert page.title() != "svg script ran"
    assert not [line for line in seen.seen if "svg script ran" in line]
