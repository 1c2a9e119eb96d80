"""A workspace's API in One key never shows: not on any page, fragment or admin page, not in a
header, not in the database in the clear, not in a log line, not in an error report; and the
encryption keys rotate without losing it."""

from __future__ import annotations

import io
import logging
import sys
import uuid

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

from generations import client as aio
from generations import inputs
from generations.models import Board, Conversation, Generation, GenerationFile, Message, State
from studio.models import Invitation, Membership, Role, Workspace
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

SECRET = "aio_SECRETVALUE_1234abcd"
SHOWN = "…abcd"  # what a page may show of it: its last four characters
PARTS = (SECRET, "SECRETVALUE", "1234abcd")


def assert_secret_absent(where: str, *texts: str) -> None:
    for text in texts:
        for part in PARTS:
            assert part not in text, f"{part!r} shows in {where}"


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", "replace")


def headers_of(response) -> str:
    return repr(list(response.items())) + response.cookies.output()


def raw_keys() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM studio_workspace")
        return [row[0] for row in cursor.fetchall()]


def raw_key_of(workspace: Workspace) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM studio_workspace WHERE id = %s", [workspace.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def studio(alice, alice_client, upstream, settings, django_capture_on_commit_callbacks):
    """Acme, owned by alice, where ada (an admin) set the key, ran a job (with a result file)
    and a chat, and invited someone; carol is a member there."""
    settings.APIINONE_BASE_URL = upstream.url
    alice_client.post("/workspaces/new", {"name": "Acme"})
    acme = Workspace.objects.get(name="Acme")
    ada, carol = make_user("ada"), make_user("carol")
    for user, role in ((ada, Role.ADMIN), (carol, Role.MEMBER)):
        Membership.objects.create(workspace=acme, user=user, role=role, selected_at=timezone.now())
    admin_client = client_for(ada)
    response = admin_client.post("/workspace/key", {"api_key": SECRET}, follow=True)
    assert f"Key {SHOWN} saved" in response.content.decode()
    acme.refresh_from_db()
    assert acme.api_key == SECRET
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/create/flux-2/",
            {"token": "t1", "prompt": "a lighthouse", "type": "pro", "resolution": "1K"},
        )
    generation = Generation.objects.get()
    assert generation.state == State.SUCCEEDED
    admin_client.post("/chat/new", {"content": "What is a credit?", "reasoning_effort": "low"})
    conversation = Conversation.objects.get()
    reply = conversation.messages.filter(role=Message.Role.ASSISTANT).get()
    assert reply.complete
    admin_client.post("/workspace/invitations", {"role": "member", "days": 7})
    admin_client.post(
        "/gallery/board", {"code": [str(generation.code)], "new_board": "For the client"}
    )
    board = Board.objects.get()
    admin_client.post(f"/boards/{board.code}/share", {"days": "7"})
    return {
        "board": board,
        "share": board.share_links.get(),
        "workspace": acme,
        "ada": ada,
        "carol": carol,
        "client": admin_client,
        "generation": generation,
        "file": generation.files.get(position=0),
        "conversation": conversation,
        "reply": reply,
        "invitation": Invitation.objects.get(),
        "membership": Membership.objects.get(workspace=acme, user=carol),
    }


def url_arguments(name: str, objects: dict) -> dict:
    generation, conversation = objects["generation"], objects["conversation"]
    result: GenerationFile = objects["file"]
    by_code = {"code": generation.code}
    return {
        "credits-budget": {"membership_id": objects["membership"].pk},
        "workspace-switch": {"code": objects["workspace"].code},
        "workspace-invite-revoke": {"invitation_id": objects["invitation"].pk},
        "member-role": {"member_id": objects["membership"].pk},
        "member-remove": {"member_id": objects["membership"].pk},
        "invitation": {"token": objects["invitation"].token},
        "password_reset_confirm": {"uidb64": "MQ", "token": "not-a-token"},
        "run": {"slug": "flux-2"},
        "estimate": {"slug": "flux-2"},
        "rows": {"slug": "flux-2"},
        "picks": {"slug": "flux-2", "name": "input_urls"},
        "board-remove": {"code": objects["board"].code},
        "board-rename": {"code": objects["board"].code},
        "board-delete": {"code": objects["board"].code},
        "board-share": {"code": objects["board"].code},
        "board-share-revoke": {"code": objects["board"].code, "link_id": objects["share"].pk},
        "shared-board": {"token": objects["share"].token},
        "shared-file": {
            "token": objects["share"].token,
            "code": generation.code,
            "position": result.position,
        },
        "generation": by_code,
        "generation-card": by_code,
        "generation-cancel": by_code,
        "generation-retry": by_code,
        "generation-approve": by_code,
        "generation-reject": by_code,
        "generation-star": by_code,
        "generation-file": {**by_code, "position": result.position},
        "generation-input": {**by_code, "name": "input_urls", "index": 0},
        "callback": {**by_code, "token": generation.callback_token},
        "input-file": {"token": inputs.sign("r", result.pk), "filename": result.filename},
        "chat-conversation": {"code": conversation.code},
        "chat-send": {"code": conversation.code},
        "chat-stream": {"code": conversation.code, "message_id": objects["reply"].pk},
        "chat-stop": {"code": conversation.code, "message_id": objects["reply"].pk},
        "chat-regenerate": {"code": conversation.code, "message_id": objects["reply"].pk},
        "chat-edit": {"code": conversation.code, "message_id": objects["reply"].pk - 1},
        "chat-rename": {"code": conversation.code},
        "chat-delete": {"code": conversation.code},
        "chat-settings": {"code": conversation.code},
    }.get(name, {})


def project_urls(objects: dict) -> list[str]:
    """Every URL of the project outside the Django admin, its path arguments filled with real
    objects."""
    urls = []

    def walk(patterns, namespace: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue  # the admin's pages have a test of their own
                walk(pattern.url_patterns, pattern.namespace or namespace)
                continue
            assert isinstance(pattern, URLPattern)
            assert pattern.name, f"{pattern.pattern} has no name"
            kwargs = url_arguments(pattern.name, objects)
            wanted = set(pattern.pattern.converters)
            assert set(kwargs) == wanted, f"teach this test the arguments of {pattern.name}"
            urls.append(reverse(pattern.name, kwargs=kwargs))

    walk(get_resolver().url_patterns)
    return urls


def test_it_never_shows_the_key_on_any_page_or_fragment(studio) -> None:
    ada = studio["client"]
    generation = studio["generation"]
    urls = project_urls(studio)
    assert len(urls) >= 45
    urls += [
        "/?model=flux-2",
        "/?kind=video",
        f"/g/{generation.code}/files/0?preview=1",
        f"/g/{generation.code}/files/0?download=1",
        "/usage/?group=model&bucket=week",
        "/usage/export.csv?group=member",
        "/usage/jobs?group=member&value=ada",
    ]
    owner = studio["workspace"].memberships.get(role=Role.OWNER).user
    answered, broken = {}, []
    for who, browser in (("admin", ada), ("owner", client_for(owner)), ("anonymous", Client())):
        browser.raise_request_exception = False  # a broken page must not hide the others
        for url in urls:
            for extra in ({}, {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "model-panel"}):
                response = browser.get(url, **extra)
                assert_secret_absent(f"{url} ({who})", body_of(response), headers_of(response))
                if response.status_code >= 500:
                    broken.append((who, url, response.status_code))
                if who == "admin" and not extra:
                    answered[url] = response.status_code
    assert broken == []
    # The pages an admin reads did render, not just refuse.
    for url in ("/", "/workspace/", "/workspaces/", "/workspace/audit", "/credits/", "/usage/",
                "/approvals/", "/chat/", f"/g/{generation.code}/", f"/g/{generation.code}/card",
                f"/chat/{studio['conversation'].code}/", f"/invite/{studio['invitation'].token}",
                "/usage/export.csv", "/usage/jobs", "/?model=flux-2"):  # fmt: skip
        assert answered[url] == 200, url
    # What an admin sees of the key: its last four characters.
    page = ada.get("/workspace/").content.decode()
    assert f"<code>{SHOWN}</code>" in page
    assert "badge-sandbox" not in page
    audit = ada.get("/workspace/audit").content.decode()
    assert f"key {SHOWN}" in audit
    # Members see not even that.
    member_page = client_for(studio["carol"]).get("/workspace/").content.decode()
    assert SHOWN not in member_page


def test_it_never_shows_the_key_in_the_django_admin(studio) -> None:
    root = make_user("root")
    root.is_staff = root.is_superuser = True
    root.save()
    superuser = client_for(root)
    Group.objects.create(name="editors")
    examples = {
        "django_q.Schedule": {"func": "math.floor", "name": "nightly"},
        "django_q.Success": {
            "id": uuid.uuid4().hex, "name": "done", "func": "math.floor",
            "started": timezone.now(), "stopped": timezone.now(), "success": True,
        },
        "django_q.Failure": {
            "id": uuid.uuid4().hex, "name": "broke", "func": "math.floor",
            "started": timezone.now(), "stopped": timezone.now(), "success": False,
        },
        "django_q.OrmQ": {"key": "studio", "payload": "x"},
        "axes.AccessAttempt": {
            "username": "ada", "ip_address": "127.0.0.1", "failures_since_start": 1,
        },
        "axes.AccessLog": {"username": "ada", "ip_address": "127.0.0.1"},
        "axes.AccessFailureLog": {"username": "ada", "ip_address": "127.0.0.1"},
    }  # fmt: skip
    assert_secret_absent("/admin/", body_of(superuser.get("/admin/")))
    seen = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        obj = model._default_manager.first()
        if obj is None:
            obj = model._default_manager.create(**examples[label])
        if model is Workspace:
            obj = studio["workspace"]
        info = (model._meta.app_label, model._meta.model_name)
        urls = [
            reverse("admin:{}_{}_changelist".format(*info)),
            reverse("admin:{}_{}_changelist".format(*info)) + "?q=aio_",
            reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
            reverse("admin:{}_{}_history".format(*info), args=[obj.pk]),
        ]
        if model_admin.has_add_permission(type("R", (), {"user": root})()):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        if model is Workspace:
            urls.append(reverse("admin:studio_workspace_delete", args=[obj.pk]))
        for url in urls:
            response = superuser.get(url)
            assert response.status_code == 200, url
            assert_secret_absent(url, body_of(response), headers_of(response))
        seen.append(label)
    assert "studio.Workspace" in seen
    # The workspace's change page names it, without its key.
    page = body_of(superuser.get(f"/admin/studio/workspace/{studio['workspace'].pk}/change/"))
    assert "Acme" in page


def test_it_stores_the_key_only_encrypted(studio) -> None:
    stored = raw_key_of(studio["workspace"])
    assert stored.startswith("fernet:")
    for value in raw_keys():
        assert_secret_absent("studio_workspace.api_key", value)
    # Nor does any other column of any table hold it in the clear.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            for row in cursor.fetchall():
                assert_secret_absent(f"table {table}", repr(row))


class RawRecords(logging.Handler):
    """Sees each record before the console handler's RedactSecrets filter rewrites it: what the
    code tried to log, not just what the safety net let through."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))


def test_it_never_logs_the_key(studio, upstream, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "django.request", "httpx", "httpcore",
                 "generations", "studio", "django_q"):  # fmt: skip
        caplog.set_level(logging.DEBUG, logger=name)
    raw = RawRecords()
    root = logging.getLogger()
    root.handlers.insert(0, raw)
    ada = studio["client"]
    connection.force_debug_cursor = True  # SQL, with its parameters, is logged too
    try:
        ada.post("/workspace/key", {"api_key": SECRET})  # checked upstream again
        upstream.sandbox.state.revoke("aio_refused_key_0000")
        ada.post("/workspace/key", {"api_key": "aio_refused_key_0000"})
        with django_capture_on_commit_callbacks(execute=True):
            ada.post(
                "/create/flux-2/",
                {"token": "t2", "prompt": "a second one", "type": "pro", "resolution": "1K"},
            )
        ada.post("/chat/new", {"content": "And a second question?", "reasoning_effort": "low"})
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(raw)
    assert Generation.objects.filter(state=State.SUCCEEDED).count() == 2
    assert any(r.name == "django.db.backends" for r in caplog.records)  # it did capture
    assert any(r.name.startswith("generations.sandbox") for r in caplog.records)
    for record in caplog.records:
        assert_secret_absent(f"a log record of {record.name}", record.getMessage())
    assert_secret_absent("the formatted log", caplog.text)
    assert len(raw.lines) >= len(caplog.records)
    for line in raw.lines:
        assert_secret_absent("a log line before redaction", line)


Report = tuple[str, str, BaseException]


def error_report(client: Client, path: str, data: dict) -> Report | None:
    """Posts `data` to `path` and, if the view raises, returns the error report Django makes of
    that request (as mailed to ADMINS, or sent to an error tracker): (html, text, error)."""
    reports = []

    def report(sender, request, **kwargs) -> None:
        reporter = ExceptionReporter(request, *sys.exc_info())
        reports.append(
            (reporter.get_traceback_html(), reporter.get_traceback_text(), sys.exc_info()[1])
        )

    client.raise_request_exception = False
    got_request_exception.connect(report)
    try:
        response = client.post(path, data)
    finally:
        got_request_exception.disconnect(report)
    assert_secret_absent(f"the answer to {path}", body_of(response), headers_of(response))
    if not reports:
        assert response.status_code < 500
        return None
    assert response.status_code == 500
    return reports[0]


def test_it_keeps_the_key_out_of_an_error_report_of_the_key_view(studio, monkeypatch) -> None:
    def explode(account: aio.Account) -> None:
        key = account.api_key  # noqa: F841 (a local holding the key, as a real bug would)
        raise RuntimeError("the upstream check broke")

    monkeypatch.setattr(aio, "check_key", explode)
    report = error_report(studio["client"], "/workspace/key", {"api_key": SECRET})
    assert report is not None
    html, text, error = report
    assert isinstance(error, RuntimeError)
    assert "the upstream check broke" in text
    assert "api_key" in text  # the POST is in the report, hidden
    assert_secret_absent("the error report", html, text)


def test_it_keeps_a_pasted_key_out_of_an_error_report(studio) -> None:
    # A key copied from a web page can end in a zero-width space, which str.strip() keeps.
    report = error_report(studio["client"], "/workspace/key", {"api_key": SECRET + "\u200b"})
    if report is not None:  # refusing it plainly, without an error, is fine too
        html, text, _ = report
        assert_secret_absent("the error report", html, text)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/workspace/key", {"api_key": SECRET}),
        ("/chat/new", {"content": "Hello?", "reasoning_effort": "low"}),
    ],
)
def test_it_keeps_the_key_out_of_an_error_report_from_deep_in_the_http_client(
    studio, monkeypatch, path, data
) -> None:
    # An error no one planned for, raised while the request to the upstream is on its way.
    def broken_transport(self, request):
        raise RuntimeError("the transport broke")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", broken_transport)
    report = error_report(studio["client"], path, data)
    assert report is not None
    html, text, error = report
    assert isinstance(error, RuntimeError)
    assert_secret_absent(f"the error report of {path}", html, text)


def test_it_rotates_the_encryption_keys_without_losing_the_key(studio, settings) -> None:
    workspace = studio["workspace"]
    before = raw_key_of(workspace)
    old = list(settings.STUDIO_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    settings.STUDIO_ENCRYPTION_KEYS = [new, *old]

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "studio.Workspace.api_key: 1 of 1 stored value(s) re-encrypted" in out.getvalue()
    after = raw_key_of(workspace)
    assert after != before
    assert after.startswith("fernet:")
    assert Fernet(new).decrypt(after.removeprefix("fernet:").encode()).decode() == SECRET
    assert_secret_absent("the rotated column", after, out.getvalue())

    settings.STUDIO_ENCRYPTION_KEYS = [new]  # the old key dropped
    assert Workspace.objects.get(pk=workspace.pk).api_key == SECRET
    again = io.StringIO()
    call_command("rotate_keys", stdout=again)
    assert "0 of 1 stored value(s)" in again.getvalue()
    assert raw_key_of(workspace) == after
    page = studio["client"].get("/workspace/").content.decode()
    assert f"<code>{SHOWN}</code>" in page
