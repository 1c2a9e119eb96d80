"""Isolation: every URL of the studio × every kind of visitor, from one explicit table.

W is the workspace under test: its owner, an admin, a member and a viewer. X is another
workspace: a member of it ("other") and its owner ("other-owner", so that admin-only URLs are
refused for being W's, not merely for the visitor's role). Anything of W answers 404 to X's
people: never 403, never a byte of W, and nothing of W changes. `EXPECTED` names every URL
pattern of the project; a new URL without an entry fails `test_it_has_an_entry_for_every_url`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.core import signing
from django.core.files.base import ContentFile
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve, reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import Image

from generations import actions, catalog, inputs
from generations.models import (
    Board,
    BoardItem,
    Conversation,
    Generation,
    GenerationFile,
    Message,
    ShareLink,
    State,
    Tag,
    Upload,
)
from studio.models import AuditEvent, Budget, Invitation, LedgerEntry, Membership, Role, Workspace
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "viewer", "member", "admin", "owner", "other", "other-owner")
INSIDERS = ("viewer", "member", "admin", "owner")
OUTSIDERS = ("other", "other-owner")
USERNAMES = {
    "owner": "olga_w",
    "admin": "adam_w",
    "member": "mira_w",
    "viewer": "vic_w",
    "other": "zoe_x",
    "other-owner": "yan_x",
}

W_NAME = "Wisteria Lane Studio"
X_NAME = "Xanadu Works"
BOARD_NAME = "wisteria picks for the client"
DONE_PROMPT = "a lighthouse that only wisteria sees"
WAITING_PROMPT = "an expensive wisteria waterfall"
FAILED_PROMPT = "a wisteria kite that fell"
CHAT_TITLE = "the wisteria diary of mira"
CHAT_QUESTION = "what does mira whisper to wisteria"
CHAT_ANSWER = "a wisteria answer for mira alone"
CHAT_SECRETS = (CHAT_TITLE, CHAT_QUESTION, CHAT_ANSWER)
# What no one outside W may ever read: its name, its prompts, its chats, its people.
W_SECRETS = (
    W_NAME,
    DONE_PROMPT,
    WAITING_PROMPT,
    FAILED_PROMPT,
    BOARD_NAME,
    *CHAT_SECRETS,
    *(USERNAMES[role] for role in INSIDERS),
)

LOGIN = "login"  # a redirect to the login page, with ?next= back here
N = 404


def to(url_name: str) -> str:
    """A redirect (302) to the page of this URL name."""
    return f"→{url_name}"


def row(
    anonymous: int | str,
    viewer: int | str,
    member: int | str,
    admin: int | str,
    owner: int | str,
    other: int | str,
    other_owner: int | str,
) -> dict[str, int | str]:
    values = (anonymous, viewer, member, admin, owner, other, other_owner)
    return dict(zip(ROLES, values, strict=True))


def everyone(status: int | str) -> dict[str, int | str]:
    return row(*(status,) * len(ROLES))


def signed_in(status: int | str) -> dict[str, int | str]:
    return row(LOGIN, *(status,) * (len(ROLES) - 1))


# fmt: off
EXPECTED: dict[str, dict[str, int | str]] = {
    # Columns: anonymous, viewer, member, admin, owner, other (member of X), other-owner (of X).
    # Public by design: health, the favicon, the invitation page (its token is the key),
    # upstream callbacks (need the job's token) and signed input links (need a signature).
    "healthz": everyone(200),
    "favicon": everyone(301),  # a redirect to the static icon
    "invitation": everyone(200),
    "callback": everyone(204),
    "input-file": everyone(200),
    # Accounts.
    "signup": row(200, *(to("create"),) * 6),
    "login": row(200, *(to("create"),) * 6),
    "logout": everyone(to("login")),
    "password_change": signed_in(200),
    "password_change_done": signed_in(200),
    # Password reset: open to all, and the same for all (it tells nothing of who exists).
    "password_reset": everyone(200),
    "password_reset_done": everyone(200),
    "password_reset_confirm": everyone(200),
    "password_reset_complete": everyone(200),
    # Usage: everyone sees their current workspace's (members only their own jobs).
    "usage": signed_in(200),
    "usage-csv": signed_in(200),
    "usage-jobs": signed_in(200),
    # Credits: owners and admins of the current workspace; X's owner acts on X only.
    "credits": row(LOGIN, N, N, 200, 200, N, 200),
    "credits-pool": row(LOGIN, N, N, to("credits"), to("credits"), N, to("credits")),
    "credits-grant": row(LOGIN, N, N, to("credits"), to("credits"), N, to("credits")),
    "credits-threshold": row(LOGIN, N, N, to("credits"), to("credits"), N, to("credits")),
    "credits-adjust": row(LOGIN, N, N, to("credits"), to("credits"), N, to("credits")),
    "credits-budget": row(LOGIN, N, N, to("credits"), to("credits"), N, N),  # M's membership
    # Workspaces.
    "workspaces": signed_in(200),
    "workspace-new": signed_in(to("workspace")),
    "workspace-switch": row(LOGIN, *(to("create"),) * 4, N, N),  # to W
    "workspace": signed_in(200),
    "workspace-rename": row(LOGIN, N, N, N, to("workspace"), N, to("workspace")),
    # The last owner cannot leave (an error, back to the workspace page).
    "workspace-leave": row(
        LOGIN, to("create"), to("create"), to("create"), to("workspace"), to("create"),
        to("workspace"),
    ),
    # Confirmed with W's name: W's owner deletes W; X's owner only gets "type X's name".
    "workspace-delete": row(LOGIN, N, N, N, to("create"), N, to("workspace")),
    "workspace-key": row(LOGIN, N, N, to("workspace"), to("workspace"), N, to("workspace")),
    "workspace-audit": row(LOGIN, N, N, 200, 200, N, 200),
    "workspace-invite": row(LOGIN, N, N, to("workspace"), to("workspace"), N, to("workspace")),
    "workspace-invite-revoke": row(LOGIN, N, N, to("workspace"), to("workspace"), N, N),
    "member-role": row(LOGIN, N, N, to("workspace"), to("workspace"), N, N),  # V → member
    "member-remove": row(LOGIN, N, N, to("workspace"), to("workspace"), N, N),  # V
    # Create: viewers browse, spenders run (X's people in X).
    "create": signed_in(200),
    "run": row(LOGIN, N, *(to("generation"),) * 5),
    "estimate": row(LOGIN, N, 200, 200, 200, 200, 200),
    "rows": row(LOGIN, N, 200, 200, 200, 200, 200),
    "picks": row(LOGIN, N, 200, 200, 200, 200, 200),  # gallery thumbnails: X's people see X's
    # W's jobs (by M, not private).
    "generation": row(LOGIN, 200, 200, 200, 200, N, N),
    "generation-card": row(LOGIN, 200, 200, 200, 200, N, N),
    "generation-cards": signed_in(200),  # W's cards for W's people; X's people get none of them
    "generation-file": row(LOGIN, 200, 200, 200, 200, N, N),
    "generation-input": row(LOGIN, 200, 200, 200, 200, N, N),  # a file uploaded as its input
    "generation-cancel": row(LOGIN, N, *(to("generation"),) * 3, N, N),  # author or admin
    "generation-retry": row(LOGIN, N, to("generation"), N, N, N, N),  # its author only
    "generation-approve": row(LOGIN, N, N, to("approvals"), to("approvals"), N, N),
    "generation-reject": row(LOGIN, N, N, to("approvals"), to("approvals"), N, N),
    "generation-star": row(LOGIN, N, *(to("generation"),) * 3, N, N),  # W's creators star W's
    "approvals": row(LOGIN, N, N, 200, 200, N, 200),
    "gallery": signed_in(200),  # the current workspace's results only
    "gallery-zip": signed_in(200),  # a zip of the current workspace's results only
    # Back to the gallery; X's people's ticks of W's codes star nothing (test below).
    "gallery-star": row(LOGIN, N, *(to("gallery"),) * 5),
    "gallery-delete": row(LOGIN, N, *(to("gallery"),) * 5),  # X's ticks delete nothing of W's
    "gallery-restore": row(LOGIN, N, *(to("gallery"),) * 5),
    # Boards: W's for W's people (a viewer looks); X's people's requests name none of W's.
    "boards": signed_in(200),
    "gallery-board": row(LOGIN, N, *(to("gallery"),) * 5),  # X: "choose a board", nothing added
    "gallery-tag": row(LOGIN, N, *(to("gallery"),) * 5),  # X's ticks of W's codes tag nothing
    "board-remove": row(LOGIN, N, *(to("gallery"),) * 3, N, N),
    "board-rename": row(LOGIN, N, *(to("gallery"),) * 3, N, N),
    "board-delete": row(LOGIN, N, *(to("boards"),) * 3, N, N),
    "board-share": row(LOGIN, N, *(to("gallery"),) * 3, N, N),
    "board-share-revoke": row(LOGIN, N, *(to("gallery"),) * 3, N, N),
    # A live share link: the board's public results to anyone who holds it, signed in or not.
    "shared-board": row(200, 200, 200, 200, 200, 200, 200),
    "shared-file": row(200, 200, 200, 200, 200, 200, 200),
    "compare": signed_in(200),  # W's results for W's people; for X's, "choose two" and nothing
    # Chat: conversations are private to their author (M), even from W's owner and admins.
    "chat": signed_in(200),
    "chat-new": row(LOGIN, N, 200, 200, 200, 200, 200),  # empty form: shown again
    "chat-conversation": row(LOGIN, N, 200, N, N, N, N),
    "chat-send": row(LOGIN, N, 200, N, N, N, N),  # empty form: shown again
    "chat-stream": row(LOGIN, N, 410, N, N, N, N),  # its reply was answered already
    "chat-stop": row(LOGIN, N, to("chat-conversation"), N, N, N, N),  # answered: nothing stops
    "chat-regenerate": row(LOGIN, N, to("chat-conversation"), N, N, N, N),
    "chat-edit": row(LOGIN, N, 200, N, N, N, N),  # empty form: shown again
    "chat-rename": row(LOGIN, N, 200, N, N, N, N),  # empty form: shown again
    "chat-settings": row(LOGIN, N, 200, N, N, N, N),  # empty form: shown again
    "chat-delete": row(LOGIN, N, to("chat"), N, N, N, N),
}
# fmt: on


# -- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, Any]
    w: Workspace
    x: Workspace
    memberships: dict[str, Membership]
    done: Generation
    result: GenerationFile
    waiting: Generation
    failed: Generation
    conversation: Conversation
    reply: Message
    invitation: Invitation
    x_job: Generation
    board: Board
    share: ShareLink

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (120, 80, 160)).save(out, "PNG")
    return out.getvalue()


def add_result(generation: Generation, position: int = 0) -> GenerationFile:
    data = png_bytes()
    result = GenerationFile(
        generation=generation, position=position, kind="image", content_type="image/png",
        size=len(data), width=8, height=6,
    )  # fmt: skip
    result.file.save(f"result-{position}.png", ContentFile(data), save=True)
    return result


def job(workspace: Workspace, user, prompt: str, token: str, **fields) -> Generation:
    return Generation.objects.create(
        workspace=workspace, user=user, model_slug="flux-2", kind="image",
        params={"prompt": prompt}, estimate=5, token=token, **fields,
    )  # fmt: skip


@pytest.fixture
def world(db, settings, tmp_path) -> World:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    settings.APIINONE_BASE_URL = "http://127.0.0.1:9/nowhere"  # nothing here may go upstream
    users = {role: make_user(name) for role, name in USERNAMES.items()}
    # Everyone also owns a personal workspace (make_user); the most recent selection wins.
    later = timezone.now() + timedelta(hours=1)
    w = Workspace.objects.create(name=W_NAME, approval_threshold=1)
    w.api_key, w.api_key_last4 = "aio_wisteria_key_0000", "0000"
    w.save()
    x = Workspace.objects.create(name=X_NAME)
    memberships = {
        role: Membership.objects.create(
            workspace=w, user=users[role], role=Role(role), selected_at=later
        )
        for role in INSIDERS
    }
    Membership.objects.create(workspace=x, user=users["other"], role=Role.MEMBER, selected_at=later)
    Membership.objects.create(
        workspace=x, user=users["other-owner"], role=Role.OWNER, selected_at=later
    )
    member = users["member"]
    done = job(
        w, member, DONE_PROMPT, "done", state=State.SUCCEEDED, upstream_task_id="sbx-w-done",
        accepted_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip
    result = add_result(done)
    uploaded = Upload(workspace=w, user=member, content_type="image/png", size=10)
    uploaded.file.save("input.png", ContentFile(png_bytes()), save=True)
    done.params = {"prompt": DONE_PROMPT, "input_urls": [{"upload": str(uploaded.code)}]}
    done.save(update_fields=["params"])
    params = {"prompt": WAITING_PROMPT}
    waiting = actions.start_job(
        workspace=w, user=member, model_slug="flux-2", kind="image", params=params,
        estimate=catalog.get("flux-2").estimate(params), token="waiting",
    )  # fmt: skip
    assert waiting.state == State.AWAITING_APPROVAL
    failed = job(
        w, member, FAILED_PROMPT, "failed", state=State.FAILED, error_kind="upstream",
        error_message="It broke.", finished_at=timezone.now(),
    )  # fmt: skip
    conversation = Conversation.objects.create(workspace=w, user=member, title=CHAT_TITLE)
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content=CHAT_QUESTION)
    reply = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content=CHAT_ANSWER
    )
    invitation = Invitation.objects.create(workspace=w, role=Role.MEMBER, created_by=users["owner"])
    AuditEvent.record(w, users["owner"], "workspace created", W_NAME)
    x_job = job(x, users["other"], "an x job", "x-job", state=State.SUCCEEDED)
    board = Board.objects.create(workspace=w, name=BOARD_NAME, created_by=member)
    board.add(Generation.objects.filter(pk=done.pk), member)
    share = ShareLink.objects.create(
        board=board, created_by=member, expires_at=timezone.now() + timedelta(days=7)
    )
    return World(
        users=users, w=w, x=x, memberships=memberships, done=done, result=result,
        waiting=waiting, failed=failed, conversation=conversation, reply=reply,
        invitation=invitation, x_job=x_job, board=board, share=share,
    )  # fmt: skip


WORKSPACE_FIELDS = (
    "name", "deleted_at", "pool_enabled", "pool_balance", "approval_threshold", "api_key",
    "api_key_last4",
)  # fmt: skip
COUNTED = (
    Workspace, Membership, Invitation, Generation, Conversation, Message, LedgerEntry, Budget,
    Upload,
)  # fmt: skip


def snapshot(world: World) -> dict[str, Any]:
    """Everything of W a request could change, and the global counts of what could be made."""
    w = world.w
    return {
        "workspace": Workspace.objects.filter(pk=w.pk).values(*WORKSPACE_FIELDS).get(),
        "members": list(
            Membership.objects.filter(workspace=w).order_by("pk").values_list("pk", "role")
        ),
        "budgets": list(
            Budget.objects.filter(membership__workspace=w).values_list("pk", "limit", "period")
        ),
        "invitations": list(
            Invitation.objects.filter(workspace=w)
            .order_by("pk")
            .values_list("pk", "revoked_at", "used_at")
        ),
        "jobs": list(
            Generation.objects.filter(workspace=w)
            .order_by("pk")
            .values_list("pk", "state", "user_id", "next_check_at", "starred", "deleted_at")
        ),
        "boards": list(Board.objects.filter(workspace=w).order_by("pk").values_list("pk", "name")),
        "board items": list(
            BoardItem.objects.filter(board__workspace=w).order_by("pk").values_list("pk", flat=True)
        ),
        "tags": list(
            Tag.results.through.objects.filter(tag__workspace=w).values_list(
                "tag_id", "generation_id"
            )
        ),
        "share links": list(
            ShareLink.objects.filter(board__workspace=w)
            .order_by("pk")
            .values_list("pk", "revoked_at")
        ),
        "messages": list(
            Message.objects.filter(conversation__workspace=w)
            .order_by("pk")
            .values_list("pk", "content", "complete", "usage")
        ),
        "ledger": list(LedgerEntry.objects.filter(workspace=w).values_list("pk", flat=True)),
        "audit": AuditEvent.objects.filter(workspace=w).count(),
        "all": [model.objects.count() for model in COUNTED],
    }


def w_only(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "all"}


# -- how each URL is asked ------------------------------------------------------------------------


def _no_args(world: World) -> list:
    return []


def _no_data(world: World) -> dict:
    return {}


@dataclass(frozen=True)
class Call:
    method: str
    args: Callable[[World], list] = _no_args
    data: Callable[[World], dict] = _no_data


def _budget_data(world: World) -> dict:
    pk = world.memberships["member"].pk
    return {f"m{pk}-limit": "25", f"m{pk}-period": "week"}


GET, POST = "GET", "POST"
REQUESTS: dict[str, Call] = {
    "healthz": Call(GET),
    "favicon": Call(GET),
    "invitation": Call(GET, lambda w: [w.invitation.token]),
    "callback": Call(POST, lambda w: [w.done.code, w.done.callback_token]),
    "input-file": Call(GET, lambda w: [inputs.sign("f", w.result.pk), w.result.filename]),
    "signup": Call(GET),
    "login": Call(GET),
    "logout": Call(POST),
    "password_change": Call(GET),
    "password_change_done": Call(GET),
    "password_reset": Call(GET),
    "password_reset_done": Call(GET),
    "password_reset_confirm": Call(GET, lambda w: ["MQ", "not-a-token"]),
    "password_reset_complete": Call(GET),
    "usage": Call(GET),
    "usage-csv": Call(GET),
    "usage-jobs": Call(GET),
    "credits": Call(GET),
    "credits-pool": Call(POST, data=lambda w: {"pool_enabled": "on"}),
    "credits-grant": Call(POST, data=lambda w: {"amount": "10", "reason": "matrix"}),
    "credits-threshold": Call(POST, data=lambda w: {"approval_threshold": "50"}),
    "credits-adjust": Call(POST, data=lambda w: {"amount": "-1", "reason": "matrix"}),
    "credits-budget": Call(POST, lambda w: [w.memberships["member"].pk], _budget_data),
    "workspaces": Call(GET),
    "workspace-new": Call(POST, data=lambda w: {"name": "A fresh start"}),
    "workspace-switch": Call(POST, lambda w: [w.w.code]),
    "workspace": Call(GET),
    "workspace-rename": Call(POST, data=lambda w: {"name": "Renamed"}),
    "workspace-leave": Call(POST),
    "workspace-delete": Call(POST, data=lambda w: {"confirm": W_NAME}),
    "workspace-key": Call(POST, data=lambda w: {"action": "clear"}),
    "workspace-audit": Call(GET),
    "workspace-invite": Call(POST, data=lambda w: {"role": "member", "days": "7"}),
    "workspace-invite-revoke": Call(POST, lambda w: [w.invitation.pk]),
    "member-role": Call(POST, lambda w: [w.memberships["viewer"].pk], lambda w: {"role": "member"}),
    "member-remove": Call(POST, lambda w: [w.memberships["viewer"].pk]),
    "create": Call(GET),
    "run": Call(POST, lambda w: ["flux-2"], lambda w: {"token": "matrix", "prompt": "a cat"}),
    "estimate": Call(POST, lambda w: ["flux-2"], lambda w: {"prompt": "a cat"}),
    "rows": Call(
        POST, lambda w: ["elevenlabs-v3"], lambda w: {"dialogue-rows": "2", "rows": "dialogue:add"}
    ),
    "picks": Call(GET, lambda w: ["bg-remover", "image"], lambda w: {"q": "wisteria"}),
    "generation": Call(GET, lambda w: [w.done.code]),
    "generation-card": Call(GET, lambda w: [w.done.code]),
    "generation-cards": Call(GET, data=lambda w: {"code": [str(w.done.code), str(w.waiting.code)]}),
    "generation-file": Call(GET, lambda w: [w.done.code, 0]),
    "generation-input": Call(GET, lambda w: [w.done.code, "input_urls", 0]),
    "generation-cancel": Call(POST, lambda w: [w.waiting.code]),
    "generation-retry": Call(POST, lambda w: [w.failed.code], lambda w: {"token": "0" * 32}),
    "generation-approve": Call(POST, lambda w: [w.waiting.code]),
    "generation-reject": Call(POST, lambda w: [w.waiting.code]),
    "generation-star": Call(POST, lambda w: [w.done.code], lambda w: {"starred": "1"}),
    "approvals": Call(GET),
    "gallery": Call(GET),
    "gallery-zip": Call(GET),
    "gallery-star": Call(POST, data=lambda w: {"code": [str(w.done.code)], "starred": "1"}),
    "gallery-delete": Call(POST, data=lambda w: {"code": [str(w.done.code)]}),
    "gallery-restore": Call(POST, data=lambda w: {"code": [str(w.done.code)]}),
    "boards": Call(GET),
    "gallery-tag": Call(POST, data=lambda w: {"code": [str(w.done.code)], "tags": "wisteria"}),
    "gallery-board": Call(
        POST,
        data=lambda w: {"code": [str(w.failed.code), str(w.done.code)], "board": str(w.board.code)},
    ),
    "board-remove": Call(POST, lambda w: [w.board.code], lambda w: {"code": [str(w.done.code)]}),
    "board-rename": Call(POST, lambda w: [w.board.code], lambda w: {"name": "renamed"}),
    "board-delete": Call(POST, lambda w: [w.board.code]),
    "board-share": Call(POST, lambda w: [w.board.code], lambda w: {"days": "7"}),
    "board-share-revoke": Call(POST, lambda w: [w.board.code, w.share.pk]),
    "shared-board": Call(GET, lambda w: [w.share.token]),
    "shared-file": Call(GET, lambda w: [w.share.token, w.done.code, 0]),
    "compare": Call(GET, data=lambda w: {"code": [str(w.done.code)] * 2}),
    "chat": Call(GET),
    "chat-new": Call(POST),
    "chat-conversation": Call(GET, lambda w: [w.conversation.code]),
    "chat-send": Call(POST, lambda w: [w.conversation.code]),
    "chat-stream": Call(GET, lambda w: [w.conversation.code, w.reply.pk]),
    "chat-stop": Call(POST, lambda w: [w.conversation.code, w.reply.pk]),
    "chat-regenerate": Call(POST, lambda w: [w.conversation.code, w.reply.pk]),
    "chat-edit": Call(
        POST, lambda w: [w.conversation.code, w.conversation.messages.get(role="user").pk]
    ),
    "chat-rename": Call(POST, lambda w: [w.conversation.code]),
    "chat-settings": Call(POST, lambda w: [w.conversation.code]),
    "chat-delete": Call(POST, lambda w: [w.conversation.code]),
}


def body_of(response) -> str:
    # The test client closes a streamed response once its content is read (holding off the
    # signal that closes database connections); closing it again here would close the test's.
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


def outcome(response) -> int | str:
    """The response in the table's terms: a status, LOGIN, or →url-name for other redirects."""
    if response.status_code != 302:
        return response.status_code
    location = response["Location"]
    if location.startswith(f"{reverse('login')}?next="):
        return LOGIN
    return to(resolve(urlsplit(location).path).url_name)


# -- the URL patterns -----------------------------------------------------------------------------

ADMIN_PREFIX = "admin/"


def url_patterns(patterns=None, prefix: str = "") -> list[tuple[str, str]]:
    """(name, or route when unnamed; route) of every pattern, through includes; without Django's
    admin (its own staff checks; see the admin test) and static files."""
    found = []
    static = django_settings.STATIC_URL.lstrip("/")
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(ADMIN_PREFIX) or (static and route.startswith(static)):
            continue
        if isinstance(entry, URLResolver):
            found += url_patterns(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            found.append((entry.name or route, route))
    return found


def test_it_has_an_entry_for_every_url() -> None:
    names = {name for name, _route in url_patterns()}
    missing = sorted(names - EXPECTED.keys())
    assert not missing, f"URL patterns without an entry in EXPECTED: {missing}"
    stale = sorted(EXPECTED.keys() - names)
    assert not stale, f"EXPECTED names URLs that no longer exist: {stale}"
    assert REQUESTS.keys() == EXPECTED.keys()
    for name, expected in EXPECTED.items():
        assert tuple(expected) == ROLES, name


def test_a_new_url_without_an_entry_would_be_caught() -> None:
    def view(request) -> HttpResponse:
        return HttpResponse()

    extra = [path("brand-new/", view, name="brand-new"), path("unnamed/", view)]
    found = dict(url_patterns([*get_resolver().url_patterns, *extra]))
    assert found.keys() - EXPECTED.keys() == {"brand-new", "unnamed/"}


def test_the_secrets_read_the_same_in_html() -> None:
    """Else an escaped apostrophe would hide a leak from the body checks."""
    for secret in (*W_SECRETS, PRIVATE_PROMPT):
        assert escape(secret) == secret, secret


def test_it_finds_urls_inside_includes() -> None:
    routes = dict(url_patterns())
    assert routes["generation-file"] == "g/<uuid:code>/files/<int:position>"
    assert routes["healthz"] == "healthz"
    assert not any(route.startswith(ADMIN_PREFIX) for route in routes.values())


# -- the matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [(name, role) for name in EXPECTED for role in ROLES],
    ids=[f"{name}|{role}" for name in EXPECTED for role in ROLES],
)
def test_each_visitor_gets_what_their_role_allows(world: World, name: str, role: str) -> None:
    call = REQUESTS[name]
    url = reverse(name, args=call.args(world))
    expected = EXPECTED[name][role]
    before = snapshot(world)
    client = world.client(role)
    send = client.get if call.method == GET else client.post
    response = send(url, call.data(world))
    body = body_of(response)

    assert response.status_code != 403, f"{call.method} {url} as {role}: 403 (never 403)"
    assert outcome(response) == expected, f"{call.method} {url} as {role}"
    after = snapshot(world)
    if expected in (N, LOGIN) or call.method == GET:
        assert after == before, f"{call.method} {url} as {role} changed something"
    if role in OUTSIDERS:
        assert w_only(after) == w_only(before), f"{url} as {role} changed W"
    # Never data: nothing of W reaches anyone outside it (the invitation page names W to whoever
    # holds its token: that is what it is for), and M's chat reaches no one else in W.
    if role in (*OUTSIDERS, "anonymous") and name != "invitation":
        # A share link shows whoever holds it its board's name and results, nothing else of W.
        shown = (BOARD_NAME, DONE_PROMPT) if name == "shared-board" else ()
        leaked = [secret for secret in W_SECRETS if secret in body and secret not in shown]
        assert not leaked, f"{call.method} {url} as {role} shows W's {leaked}"
    if role != "member":
        leaked = [secret for secret in CHAT_SECRETS if secret in body]
        assert not leaked, f"{call.method} {url} as {role} shows M's chat {leaked}"


def test_the_watched_secrets_do_show_where_they_may(world: World) -> None:
    """The "never data" checks look for these strings: they must be there for those who may see
    them, or the checks would prove nothing."""
    members_page = body_of(world.client("viewer").get(reverse("workspace")))
    assert all(USERNAMES[role] in members_page for role in INSIDERS)
    for role, name, args, secrets in (
        ("viewer", "generation", [world.done.code], [DONE_PROMPT, W_NAME]),
        ("viewer", "generation", [world.failed.code], [FAILED_PROMPT]),
        ("admin", "approvals", [], [WAITING_PROMPT]),
        ("viewer", "gallery", [], [DONE_PROMPT]),
        ("member", "chat", [], [CHAT_TITLE]),
        ("member", "chat-conversation", [world.conversation.code], list(CHAT_SECRETS)),
        ("anonymous", "invitation", [world.invitation.token], [W_NAME]),
    ):
        body = body_of(world.client(role).get(reverse(name, args=args)))
        assert all(secret in body for secret in secrets), (role, name)
    image = world.client("viewer").get(reverse("generation-file", args=[world.done.code, 0]))
    assert b"".join(image.streaming_content) == png_bytes()
    image.close()


def test_what_the_allowed_actions_did(world: World) -> None:
    """A few of the matrix's redirects, checked for what they changed (and where)."""
    owner, admin, other_owner = (world.client(r) for r in ("owner", "admin", "other-owner"))
    admin.post(reverse("member-role", args=[world.memberships["viewer"].pk]), {"role": "member"})
    assert Membership.objects.get(pk=world.memberships["viewer"].pk).role == Role.MEMBER
    admin.post(reverse("generation-approve", args=[world.waiting.code]))
    assert Generation.objects.get(pk=world.waiting.pk).state == State.QUEUED
    other_owner.post(reverse("workspace-delete"), {"confirm": W_NAME})  # X's owner, W's name
    other_owner.post(reverse("workspace-rename"), {"name": "Renamed X"})
    assert Workspace.objects.get(pk=world.w.pk).name == W_NAME
    assert Workspace.objects.get(pk=world.x.pk).name == "Renamed X"
    assert Workspace.objects.filter(deleted_at__isnull=False).count() == 0
    owner.post(reverse("workspace-delete"), {"confirm": W_NAME})
    assert Workspace.objects.get(pk=world.w.pk).deleted_at is not None


# -- Django's admin -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_django_admin_sends_everyone_who_is_not_staff_to_its_login(world: World, role: str) -> None:
    client = world.client(role)
    for url in (
        reverse("admin:index"),
        reverse("admin:studio_workspace_changelist"),
        reverse("admin:studio_workspace_change", args=[world.w.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302, (url, role)
        assert response["Location"].startswith(f"{reverse('admin:login')}?next="), (url, role)


# -- the public URLs need their secret ------------------------------------------------------------


def test_a_callback_needs_its_jobs_own_token(world: World) -> None:
    before = snapshot(world)
    code = world.done.code
    for url in (
        reverse("callback", args=[code, "wrong-token"]),
        reverse("callback", args=[code, world.x_job.callback_token]),  # another job's token
        reverse("callback", args=[world.x_job.code, world.done.callback_token]),
        reverse("callback", args=["00000000-0000-0000-0000-000000000000", "x"]),
    ):
        response = Client().post(url, {"task_id": "sbx-w-done"}, content_type="application/json")
        assert response.status_code == 404, url
        assert response.content == b""
    assert snapshot(world) == before


def test_an_input_link_needs_a_valid_unexpired_signature(world: World, monkeypatch) -> None:
    filename = world.result.filename
    good = inputs.sign("f", world.result.pk)
    assert Client().get(reverse("input-file", args=[good, filename])).status_code == 200
    with monkeypatch.context() as m:
        past = time.time() - inputs.URL_LIFETIME - 60
        m.setattr(signing.time, "time", lambda: past)
        expired = inputs.sign("f", world.result.pk)
    forged = signing.dumps(["f", world.result.pk], salt="another salt", compress=True)
    for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), expired, forged, "x"):
        response = Client().get(reverse("input-file", args=[token, filename]))
        assert response.status_code == 404, token
        assert png_bytes() not in body_of(response).encode()


def test_an_invitation_link_with_an_unknown_token_answers_404(world: World) -> None:
    response = Client().get(reverse("invitation", args=["not-a-token"]))
    assert response.status_code == 404
    assert W_NAME not in response.content.decode()


# -- private jobs ---------------------------------------------------------------------------------

PRIVATE_PROMPT = "the private wisteria sketch of olga"


@pytest.fixture
def private(world: World) -> GenerationFile:
    """A private job of W's owner, with a kept image: only she and W's admins see it."""
    generation = job(
        world.w, world.users["owner"], PRIVATE_PROMPT, "private", state=State.SUCCEEDED,
        private=True, finished_at=timezone.now(),
    )  # fmt: skip
    return add_result(generation)


@pytest.mark.parametrize(
    ("role", "status"),
    [("viewer", 404), ("member", 404), ("admin", 200), ("owner", 200), ("other", 404)],
)
def test_a_private_job_is_seen_by_its_author_and_admins_only(
    world: World, private: GenerationFile, role: str, status: int
) -> None:
    client = world.client(role)
    code = private.generation.code
    for url in (
        reverse("generation", args=[code]),
        reverse("generation-card", args=[code]),
        reverse("generation-file", args=[code, 0]),
    ):
        response = client.get(url)
        assert response.status_code == status, (url, role)
        if status == 404:
            assert PRIVATE_PROMPT not in body_of(response)
    for page in (
        reverse("create"), reverse("usage-jobs"), reverse("approvals"), reverse("gallery"),
        f"{reverse('gallery')}?q=private+wisteria",
        f"{reverse('create')}?model=bg-remover&input={private.generation.code}:0",
    ):  # fmt: skip
        response = client.get(page)
        if status == 404:
            assert PRIVATE_PROMPT not in body_of(response), (page, role)


def test_a_private_job_is_not_offered_to_others_in_the_gallery_picker(
    world: World, private: GenerationFile
) -> None:
    """The Create form's "From the gallery" lists W's results with their prompts: not someone
    else's private one."""
    page = world.client("member").get(reverse("create"), {"model": "bg-remover"})
    page = page.content.decode()
    assert DONE_PROMPT[:30] in page  # the picker is there, with W's public result
    assert PRIVATE_PROMPT not in page
    assert f'name="image__pick" value="{private.pk}"' not in page


def test_a_private_job_cannot_be_picked_as_an_input_by_others(
    world: World, private: GenerationFile, settings
) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example"  # picks need a public address
    settings.STUDIO_REACHABLE = "yes"  # (one no resolver here can check)
    response = world.client("member").post(
        reverse("run", args=["bg-remover"]), {"token": "pick", "image__pick": str(private.pk)}
    )
    assert not Generation.objects.filter(token="pick").exists(), outcome(response)
    # An admin (who sees private jobs) may pick it.
    response = world.client("admin").post(
        reverse("run", args=["bg-remover"]), {"token": "pick", "image__pick": str(private.pk)}
    )
    assert outcome(response) == to("generation")
    assert Generation.objects.get(token="pick").params["image"] == {"file": private.pk}


def test_ticked_codes_of_other_workspaces_or_private_jobs_star_nothing(
    world: World, private: GenerationFile
) -> None:
    codes = [str(world.done.code), str(private.generation.code)]
    for role in ("other", "other-owner"):
        response = world.client(role).post(reverse("gallery-star"), {"code": codes, "starred": "1"})
        assert "Tick at least one result first." in messages_of(response)
    member = world.client("member").post(reverse("gallery-star"), {"code": codes, "starred": "1"})
    assert "Starred 1 result." in messages_of(member)  # W's public one, not the private one
    starred = Generation.objects.filter(starred=True).values_list("code", flat=True)
    assert [str(code) for code in starred] == [str(world.done.code)]


# -- owner-only changes ---------------------------------------------------------------------------


def post_as(world: World, role: str, name: str, args=(), data=None):
    """One POST from a fresh session, so that its messages are its own."""
    return world.client(role).post(reverse(name, args=list(args)), data or {})


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_admins_cannot_make_or_unmake_admins_and_owners(world: World) -> None:
    """Owner-only changes by an admin: back to the workspace page with the reason, and nothing
    changed; renaming and deleting the workspace do not exist for them."""
    ms = world.memberships
    before = snapshot(world)
    owners_only = "Only owners make or unmake admins and owners."
    for member_id, role in (
        (ms["member"].pk, "admin"),
        (ms["viewer"].pk, "owner"),
        (ms["owner"].pk, "viewer"),
        (ms["admin"].pk, "member"),  # nor step down themselves
    ):
        response = post_as(world, "admin", "member-role", [member_id], {"role": role})
        assert outcome(response) == to("workspace")
        assert messages_of(response) == [owners_only]
    response = post_as(world, "admin", "member-remove", [ms["owner"].pk])
    assert outcome(response) == to("workspace")
    assert messages_of(response) == [owners_only]
    response = post_as(world, "admin", "workspace-invite", data={"role": "admin", "days": "7"})
    assert outcome(response) == to("workspace")
    assert messages_of(response) == ["Only owners invite admins and owners."]
    for owner_only in ("workspace-rename", "workspace-delete"):
        response = post_as(world, "admin", owner_only, data={"name": "Mine", "confirm": W_NAME})
        assert response.status_code == 404, owner_only
    assert snapshot(world) == before


def test_owners_make_admins_but_keep_an_owner(world: World) -> None:
    ms = world.memberships
    response = post_as(world, "owner", "member-role", [ms["owner"].pk], {"role": "member"})
    assert messages_of(response) == [
        "A workspace keeps at least one owner: make someone else owner first."
    ]
    assert Membership.objects.get(pk=ms["owner"].pk).role == Role.OWNER
    response = post_as(world, "owner", "member-role", [ms["member"].pk], {"role": "admin"})
    assert outcome(response) == to("workspace")
    assert Membership.objects.get(pk=ms["member"].pk).role == Role.ADMIN


# -- posted ownership is ignored ------------------------------------------------------------------


def forged_fields(world: World) -> dict[str, str]:
    other = world.users["other"]
    return {
        "workspace": str(world.x.code),
        "workspace_id": str(world.x.pk),
        "owner": str(other.pk),
        "user": str(other.pk),
        "user_id": str(other.pk),
        "created_by": str(other.pk),
    }


def test_posted_workspace_owner_and_user_fields_are_ignored(
    world: World, upstream, django_capture_on_commit_callbacks
) -> None:
    Workspace.objects.filter(pk=world.w.pk).update(
        approval_threshold=None, api_key="", api_key_last4=""
    )  # runs through the test sandbox, now
    member = world.client("member")
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(
            reverse("run", args=["flux-2"]),
            {"token": "forged", "prompt": "a forged cat", **forged_fields(world)},
        )
    assert outcome(response) == to("generation")
    generation = Generation.objects.get(token="forged")
    assert (generation.workspace_id, generation.user_id) == (world.w.pk, world.users["member"].pk)
    assert generation.state == State.SUCCEEDED
    entries = LedgerEntry.objects.filter(generation=generation)
    assert {(e.workspace_id, e.member_id) for e in entries} == {
        (world.w.pk, world.users["member"].pk)
    }
    assert all(str(world.w.code) in f.file.name for f in generation.files.all())

    member.post(reverse("chat-new"), {"content": "hello", "reasoning_effort": "low",
                                      **forged_fields(world)})  # fmt: skip
    chat = Conversation.objects.exclude(pk=world.conversation.pk).get()
    assert (chat.workspace_id, chat.user_id) == (world.w.pk, world.users["member"].pk)

    admin = world.client("admin")
    admin.post(reverse("workspace-invite"), {"role": "member", "days": "7", **forged_fields(world)})
    invitation = Invitation.objects.exclude(pk=world.invitation.pk).get()
    assert (invitation.workspace_id, invitation.created_by_id) == (
        world.w.pk, world.users["admin"].pk,
    )  # fmt: skip
    admin.post(reverse("credits-grant"), {"amount": "7", "reason": "r", **forged_fields(world)})
    grant = LedgerEntry.objects.get(kind=LedgerEntry.Kind.GRANT)
    assert (grant.workspace_id, grant.created_by_id) == (world.w.pk, world.users["admin"].pk)

    member.post(reverse("workspace-new"), {"name": "Mira's own", **forged_fields(world)})
    fresh = Workspace.objects.get(name="Mira's own")
    assert list(fresh.memberships.values_list("user_id", "role")) == [
        (world.users["member"].pk, Role.OWNER)
    ]
    assert not LedgerEntry.objects.filter(workspace=world.x).exists()
    assert not Generation.objects.filter(workspace=world.x).exclude(pk=world.x_job.pk).exists()


@pytest.mark.parametrize("ended", ["revoked", "expired"])
@pytest.mark.parametrize("role", ROLES)
def test_an_ended_share_link_opens_nothing_for_anyone(world: World, role: str, ended: str) -> None:
    """The share link rows of the matrix, after the link was revoked or has expired: 404 for
    every visitor, W's people included, and nothing of W in the answer."""
    now = timezone.now()
    if ended == "revoked":
        ShareLink.objects.filter(pk=world.share.pk).update(revoked_at=now)
    else:
        ShareLink.objects.filter(pk=world.share.pk).update(expires_at=now - timedelta(seconds=1))
    client = world.client(role)
    for url in (
        reverse("shared-board", args=[world.share.token]),
        reverse("shared-file", args=[world.share.token, world.done.code, 0]),
        reverse("shared-file", args=[world.share.token, world.done.code, 0]) + "?preview=1",
    ):
        response = client.get(url)
        assert response.status_code == 404, f"{url} as {role} ({ended})"
        if role in (*OUTSIDERS, "anonymous"):  # (W's people see their own header)
            leaked = [secret for secret in W_SECRETS if secret in body_of(response)]
            assert not leaked, f"{url} as {role} ({ended}) shows {leaked}"
