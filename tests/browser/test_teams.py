"""Teams in the browser: an owner invites by link, a member joins from another browser and makes
an image the owner then sees; a viewer cannot reach the Create form; a withdrawn link says so."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password 7"
INVITE_PATH = re.compile(r"/invite/[\w-]+")
JOB_PATH = re.compile(r"/g/[0-9a-f-]{36}/$")


@pytest.fixture
def new_page(browser, live_studio) -> Iterator:
    """Pages in browser contexts of their own: other people, with cookies of their own."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(base_url=live_studio.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def fill_signup(page: Page, prefix: str) -> str:
    username = f"{prefix}{uuid.uuid4().hex[:6]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    return username


def sign_up_owner(page: Page) -> str:
    page.goto("/accounts/signup/")
    username = fill_signup(page, "own")
    expect(page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    return username


def open_workspace_settings(page: Page) -> None:
    page.goto("/")
    page.locator("details.account-menu > summary").click()
    page.get_by_role("link", name="Workspace settings").click()
    expect(page).to_have_url("/workspace/")
    expect(page.get_by_role("heading", name="Invite")).to_be_visible()


def invite(page: Page, role: str) -> str:
    """Creates an invitation link for `role` on the Workspace settings page; returns its path."""
    open_workspace_settings(page)
    page.get_by_label("Role", exact=True).select_option(label=role)
    page.get_by_role("button", name="Create an invitation link").click()
    message = page.locator(".message-success", has_text="Invitation link")
    expect(message).to_be_visible()
    found = INVITE_PATH.search(message.inner_text())
    assert found, message.inner_text()
    path = found.group(0)
    pending = page.locator(".ws-row", has=page.locator(".invite-link", has_text=path))
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text(role)
    return path


def join(page: Page, invite_path: str, workspace_name: str, role: str, prefix: str) -> str:
    """Opens the link signed out, signs up through it and joins; returns the new username."""
    page.goto(invite_path)
    expect(page.get_by_role("heading", name=f"Join {workspace_name}")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"invites you as {role.lower()}")
    page.get_by_role("link", name="Sign up to join").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/\?next="))
    username = fill_signup(page, prefix)
    # Signed up from the link: in the workspace at once, no second click on the invitation.
    expect(page.locator(".message-success")).to_contain_text(f"Welcome to “{workspace_name}”")
    assert invite_path not in page.url
    expect(page.locator(".topbar .workspace-name")).to_have_text(workspace_name)
    return username


def test_a_member_joins_by_link_and_the_owner_sees_their_image(page, new_page) -> None:
    owner = sign_up_owner(page)
    workspace_name = f"{owner}'s workspace"
    link = invite(page, "Member")

    member_page = new_page()
    member = join(member_page, link, workspace_name, "Member", "mem")
    expect(member_page.get_by_role("heading", name="Create", exact=True)).to_be_visible()
    expect(member_page.locator(".workspace-name-inline")).to_have_text(workspace_name)
    member_page.get_by_role("link", name="Imagen 4").click()
    expect(member_page.get_by_role("heading", name="Imagen 4")).to_be_visible()
    member_page.get_by_label("Prompt", exact=True).fill("a red kite over a green hill")
    member_page.get_by_role("button", name="Run Imagen 4").click()
    card = member_page.locator(".job-card").first
    expect(card).to_contain_text("a red kite over a green hill")
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
    expect(card.locator("img").first).to_be_visible()
    href = card.get_by_role("link", name="Details").get_attribute("href")
    assert href
    assert JOB_PATH.search(href), href

    # The owner finds the member's job among the jobs behind the Usage report, and opens it.
    page.goto(f"/usage/jobs?group=member&value={member}")
    expect(page.get_by_role("heading", name=f"Jobs: {member}")).to_be_visible()
    row = page.locator("tbody tr", has_text="Imagen 4")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(member)
    row.get_by_role("link").click()
    expect(page).to_have_url(href)
    expect(page.locator(".job-facts")).to_contain_text(member)
    owner_card = page.locator(".job-card")
    expect(owner_card.locator(".state-badge")).to_have_text("Done")
    expect(owner_card.locator("img").first).to_be_visible()
    owner_card.locator("img").first.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('.job-card img'); "
        "return i && i.complete && i.naturalWidth > 0; }",
        timeout=15_000,
    )


def test_a_viewer_joins_but_cannot_reach_the_create_form(page, new_page) -> None:
    owner = sign_up_owner(page)
    workspace_name = f"{owner}'s workspace"
    link = invite(page, "Viewer")

    viewer_page = new_page()
    viewer = join(viewer_page, link, workspace_name, "Viewer", "view")
    expect(viewer_page.get_by_role("heading", name="You can look, not spend")).to_be_visible()
    expect(viewer_page.locator("#generation-form")).to_have_count(0)
    expect(viewer_page.locator(".mainnav").get_by_role("link", name="Browse")).to_have_count(1)

    viewer_page.goto("/?model=flux-2")
    expect(viewer_page.get_by_role("heading", name="You can look, not spend")).to_be_visible()
    expect(viewer_page.locator("#generation-form")).to_have_count(0)
    expect(viewer_page.get_by_role("button", name="Run Flux 2")).to_have_count(0)

    csrf = next(c["value"] for c in viewer_page.context.cookies() if c["name"] == "csrftoken")
    response = viewer_page.request.post(
        "/create/flux-2/",
        form={"prompt": "a kite", "token": uuid.uuid4().hex},
        headers={"X-CSRFToken": csrf},
        max_redirects=0,
    )
    assert response.status == 404, (response.status, response.text()[:300])

    # The owner's settings list the viewer as a viewer.
    open_workspace_settings(page)
    expect(page.get_by_label(f"Role of {viewer}")).to_have_value("viewer")


def test_a_revoked_invitation_says_it_was_withdrawn(page, new_page) -> None:
    sign_up_owner(page)
    link = invite(page, "Member")
    pending = page.locator(".ws-row", has=page.locator(".invite-link", has_text=link))
    pending.get_by_role("button", name="Revoke").click()
    expect(page.locator(".message-success")).to_contain_text("Invitation withdrawn")
    expect(page.locator(".invite-link", has_text=link)).to_have_count(0)

    stranger = new_page()
    response = stranger.goto(link)
    assert response is not None
    assert response.status == 410
    expect(stranger.get_by_role("heading", name="This link does not work")).to_be_visible()
    expect(stranger.locator("main")).to_contain_text(
        "This invitation was withdrawn by an admin of the workspace."
    )
    expect(stranger.get_by_role("link", name="Sign up to join")).to_have_count(0)


def test_a_member_is_told_before_run_and_the_owner_approves_from_create(page, new_page) -> None:
    """Issue 14, item 8: the member sees the job will need approval before Run; the owner sees a
    count in the header and the waiting job on their Create page, and approves it there."""
    owner = sign_up_owner(page)
    page.goto("/credits/")
    page.get_by_label("Members' jobs estimated above").fill("3")
    page.locator("form[action='/credits/approval']").get_by_role("button", name="Save").click()
    expect(page.get_by_label("Members' jobs estimated above")).to_have_value("3")
    link = invite(page, "Member")

    member_page = new_page()
    join(member_page, link, f"{owner}'s workspace", "Member", "mem")
    member_page.get_by_role("link", name="Imagen 4").click()
    member_page.get_by_label("Prompt", exact=True).fill("a lighthouse at dawn")
    expect(member_page.locator("#estimate")).to_contain_text("needs an admin's approval")
    member_page.get_by_role("button", name="Run Imagen 4").click()
    card = member_page.locator(".job-card").first
    expect(card.locator(".state-badge")).to_contain_text("approval")

    page.goto("/")
    expect(page.locator("#nav-approvals .count-badge")).to_contain_text("1")
    waiting = page.locator(".waiting-jobs")
    expect(waiting).to_contain_text("a lighthouse at dawn")
    waiting.get_by_role("button", name="Approve").click()
    expect(waiting.locator(".state-badge")).not_to_contain_text("approval")
    expect(card.locator(".state-badge")).to_have_text("Done", timeout=30_000)
