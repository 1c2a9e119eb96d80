"""Teams: workspaces (create, switch, rename, leave, delete), roles, invitations, the team's
API in One key, private jobs, the audit log, and fields a form must not take from the poster.
Everything goes through the views, as a browser would."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from generations import client as aio
from generations.models import Generation, State
from generations.sandbox.state import key_hash
from studio.models import (
    AuditEvent,
    Budget,
    Invitation,
    LedgerEntry,
    Membership,
    Role,
    Workspace,
)
from tests.conftest import PASSWORD, client_for, make_user, sandbox_tasks

pytestmark = pytest.mark.django_db

TEAM_KEY = "aio_team_key_for_tests_7Kq2"
LAST_OWNER = "You are its last owner: make someone else owner, or delete it."
KEEPS_AN_OWNER = "A workspace keeps at least one owner: make someone else owner first."
ONLY_OWNERS = "Only owners make or unmake admins and owners."


def text(response) -> str:
    """A page's text as a person reads it (entities decoded)."""
    return html.unescape(response.content.decode())


def member(workspace: Workspace, user) -> Membership:
    return Membership.objects.get(workspace=workspace, user=user)


def current(user) -> Workspace:
    return Membership.current_for(user).workspace


def raw_key_column(workspace: Workspace) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM studio_workspace WHERE id = %s", [workspace.pk])
        return cursor.fetchone()[0]


def run_flux(client: Client, capture, prompt: str = "a calm lake", **extra):
    data = {"token": uuid.uuid4().hex, "prompt": prompt, "type": "pro", "resolution": "1K"}
    with capture(execute=True):
        return client.post("/create/flux-2/", {**data, **extra})


def set_role(client: Client, workspace: Workspace, user, role: str, /, **extra):
    return client.post(
        f"/workspace/members/{member(workspace, user).pk}/role",
        {"role": role, **extra},
        follow=True,
    )


def leave_only_in(client: Client, user, workspace: Workspace) -> None:
    """Deletes the user's personal workspace through the views, so that `workspace` is the only
    one they belong to."""
    personal = Workspace.objects.get(personal=True, memberships__user=user)
    assert client.post(f"/workspaces/{personal.code}/switch").status_code == 302
    client.post("/workspace/delete", {"confirm": personal.name})
    assert list(Workspace.objects.for_user(user)) == [workspace]


@pytest.fixture
def team(alice, alice_client):
    """Acme, made by alice through the page (she owns it), with an admin, two members and a
    viewer added; each of them works in Acme."""
    response = alice_client.post("/workspaces/new", {"name": "Acme"})
    assert response.status_code == 302
    acme = Workspace.objects.get(name="Acme")
    people = {"alice": alice}
    for name, role in [
        ("ada", Role.ADMIN),
        ("carol", Role.MEMBER),
        ("dave", Role.MEMBER),
        ("vic", Role.VIEWER),
    ]:
        user = make_user(name)
        Membership.objects.create(workspace=acme, user=user, role=role, selected_at=timezone.now())
        people[name] = user
    return SimpleNamespace(workspace=acme, **people)


# -- create and switch ---------------------------------------------------------------------------


def test_it_creates_a_workspace_its_creator_owns_and_works_in(alice, alice_client) -> None:
    response = alice_client.post("/workspaces/new", {"name": "  Acme    Films "})
    assert response.status_code == 302
    assert response["Location"] == "/workspace/"
    acme = Workspace.objects.get(name="Acme Films")
    assert not acme.personal
    assert member(acme, alice).role == Role.OWNER
    assert current(alice) == acme
    page = alice_client.get("/workspace/")
    assert page.context["workspace"] == acme
    assert "“Acme Films” is ready" in text(page)
    names = [m.workspace.name for m in alice_client.get("/workspaces/").context["memberships"]]
    assert names == ["Acme Films", "alice's workspace"]
    event = AuditEvent.objects.get(workspace=acme)
    assert (event.action, event.actor) == ("workspace created", alice)


def test_it_refuses_a_blank_name(alice, alice_client) -> None:
    response = alice_client.post("/workspaces/new", {"name": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert Workspace.objects.count() == 1


def test_it_switches_and_the_choice_sticks_in_a_new_session(alice, alice_client, bob) -> None:
    alice_client.post("/workspaces/new", {"name": "Acme"})
    acme = Workspace.objects.get(name="Acme")
    personal = Workspace.objects.get(personal=True, memberships__user=alice)
    assert current(alice) == acme

    response = alice_client.post(f"/workspaces/{personal.code}/switch")
    assert response.status_code == 302
    assert alice_client.get("/workspace/").context["workspace"] == personal

    elsewhere = client_for(alice)  # another browser, another session
    assert elsewhere.get("/workspace/").context["workspace"] == personal
    elsewhere.post(f"/workspaces/{acme.code}/switch")
    assert alice_client.get("/workspace/").context["workspace"] == acme
    fresh = Client()
    fresh.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert fresh.get("/workspace/").context["workspace"] == acme


def test_it_does_not_switch_to_a_workspace_one_is_not_in(alice, alice_client, bob) -> None:
    bobs = Workspace.objects.get(memberships__user=bob)
    assert alice_client.post(f"/workspaces/{bobs.code}/switch").status_code == 404
    assert alice_client.post(f"/workspaces/{uuid.uuid4()}/switch").status_code == 404
    assert alice_client.get(f"/workspaces/{bobs.code}/switch").status_code == 405
    assert current(alice).personal
    assert not Membership.objects.filter(user=alice, workspace=bobs).exists()


# -- rename ----------------------------------------------------------------------------------


def test_it_lets_only_an_owner_rename(team) -> None:
    for name in ("ada", "carol", "vic"):
        response = client_for(getattr(team, name)).post("/workspace/rename", {"name": "Mine"})
        assert response.status_code == 404, name
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Acme"

    owner = client_for(team.alice)
    response = owner.post("/workspace/rename", {"name": " Acme   Studio "}, follow=True)
    assert "Renamed." in text(response)
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Acme Studio"
    event = AuditEvent.objects.filter(workspace=team.workspace, action="renamed").get()
    assert event.actor == team.alice
    assert event.detail == "Acme → Acme Studio"
    owner.post("/workspace/rename", {"name": ""})
    team.workspace.refresh_from_db()
    assert team.workspace.name == "Acme Studio"


# -- leave -----------------------------------------------------------------------------------


def test_it_refuses_to_let_the_last_owner_leave(team) -> None:
    response = client_for(team.alice).post("/workspace/leave", follow=True)
    assert LAST_OWNER in text(response)
    assert member(team.workspace, team.alice).role == Role.OWNER
    assert current(team.alice) == team.workspace


def test_it_lets_a_member_leave(team) -> None:
    carol = client_for(team.carol)
    response = carol.post("/workspace/leave")
    assert response.status_code == 302
    assert not Membership.objects.filter(workspace=team.workspace, user=team.carol).exists()
    assert current(team.carol).personal
    names = [m.workspace.name for m in carol.get("/workspaces/").context["memberships"]]
    assert names == ["carol's workspace"]
    assert carol.post(f"/workspaces/{team.workspace.code}/switch").status_code == 404
    event = AuditEvent.objects.get(workspace=team.workspace, action="left")
    assert event.actor == team.carol


def test_it_lets_an_owner_leave_when_another_owner_stays(team) -> None:
    set_role(client_for(team.alice), team.workspace, team.ada, Role.OWNER)
    assert member(team.workspace, team.ada).role == Role.OWNER
    assert client_for(team.alice).post("/workspace/leave").status_code == 302
    assert not Membership.objects.filter(workspace=team.workspace, user=team.alice).exists()
    assert member(team.workspace, team.ada).role == Role.OWNER


def test_it_gives_a_member_who_leaves_their_only_workspace_a_new_one(team) -> None:
    carol = client_for(team.carol)
    leave_only_in(carol, team.carol, team.workspace)
    carol.post("/workspace/leave")
    mine = list(Workspace.objects.for_user(team.carol))
    assert len(mine) == 1
    assert mine[0].personal
    assert carol.get("/").status_code == 200


# -- delete ----------------------------------------------------------------------------------


def test_it_deletes_only_for_an_owner_who_types_the_exact_name(team) -> None:
    for name in ("ada", "carol"):
        response = client_for(getattr(team, name)).post("/workspace/delete", {"confirm": "Acme"})
        assert response.status_code == 404, name
    owner = client_for(team.alice)
    for wrong in ("", "acme", "Acme Inc", "Acm"):
        response = owner.post("/workspace/delete", {"confirm": wrong}, follow=True)
        assert "Type the workspace's name, “Acme”, to delete it." in text(response)
    team.workspace.refresh_from_db()
    assert team.workspace.deleted_at is None


def test_it_deletes_a_workspace_but_keeps_its_jobs_and_ledger(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    carol = client_for(team.carol)
    leave_only_in(carol, team.carol, team.workspace)  # Acme is all carol has
    run_flux(carol, django_capture_on_commit_callbacks, "kept on record")
    job = Generation.objects.get(workspace=team.workspace)
    assert job.state == State.SUCCEEDED
    entries = list(
        LedgerEntry.objects.filter(workspace=team.workspace).values_list("pk", flat=True)
    )
    assert len(entries) == 2  # its hold and its settlement
    invitation = Invitation.objects.create(workspace=team.workspace, created_by=team.alice)

    response = client_for(team.alice).post("/workspace/delete", {"confirm": "Acme"}, follow=True)
    assert "“Acme” is deleted. Its jobs and ledger are kept on record." in text(response)

    team.workspace.refresh_from_db()
    assert team.workspace.deleted_at is not None
    # Kept for the record.
    assert list(Generation.objects.filter(workspace=team.workspace)) == [job]
    kept = LedgerEntry.objects.filter(workspace=team.workspace).values_list("pk", flat=True)
    assert list(kept) == entries
    # Gone for everyone.
    for name in ("alice", "ada", "carol", "dave", "vic"):
        user = getattr(team, name)
        client = client_for(user)
        assert current(user) != team.workspace, name
        memberships = client.get("/workspaces/").context["memberships"]
        assert team.workspace not in [m.workspace for m in memberships], name
        assert client.post(f"/workspaces/{team.workspace.code}/switch").status_code == 404
        assert client.get(f"/g/{job.code}/").status_code == 404, name
        assert client.get(f"/g/{job.code}/card").status_code == 404, name
        assert client.get(f"/g/{job.code}/files/0").status_code == 404, name
        assert client.get("/workspace/").context["workspace"] != team.workspace
    # carol had nothing else: she gets a new workspace of her own; the others keep theirs.
    mine = list(Workspace.objects.for_user(team.carol))
    assert len(mine) == 1
    assert mine[0].personal
    assert carol.get("/").status_code == 200
    assert Workspace.objects.filter(memberships__user=team.dave, personal=True).count() == 1
    # Its invitations no longer work.
    response = client_for(make_user("erin")).get(f"/invite/{invitation.token}")
    assert response.status_code == 410
    assert "The workspace this invitation was for no longer exists." in text(response)
    event = AuditEvent.objects.get(workspace=team.workspace, action="workspace deleted")
    assert event.actor == team.alice


def test_it_leaves_a_deleted_workspace_out_of_every_list(team) -> None:
    client_for(team.alice).post("/workspace/delete", {"confirm": "Acme"})
    carol = client_for(team.carol)
    listed = carol.get("/workspaces/").context["memberships"]
    assert [m.workspace.name for m in listed] == ["carol's workspace"]
    # The same list, shown again under a refused "new workspace" form.
    refused = carol.post("/workspaces/new", {"name": ""})
    assert refused.status_code == 200
    assert [m.workspace.name for m in refused.context["memberships"]] == ["carol's workspace"]
    assert "Acme" not in text(refused)


# -- roles -----------------------------------------------------------------------------------


def test_it_lets_an_admin_move_members_and_viewers_only(team) -> None:
    ada = client_for(team.ada)
    ws = team.workspace
    assert "carol is now viewer." in text(set_role(ada, ws, team.carol, Role.VIEWER))
    assert member(ws, team.carol).role == Role.VIEWER
    assert "vic is now member." in text(set_role(ada, ws, team.vic, Role.MEMBER))
    assert member(ws, team.vic).role == Role.MEMBER

    for target, role in [
        (team.dave, Role.ADMIN),
        (team.dave, Role.OWNER),
        (team.alice, Role.MEMBER),
        (team.alice, Role.ADMIN),
    ]:
        before = member(ws, target).role
        assert ONLY_OWNERS in text(set_role(ada, ws, target, role)), (target, role)
        assert member(ws, target).role == before
    # Nor another admin (nor herself).
    other = make_user("abe")
    Membership.objects.create(workspace=ws, user=other, role=Role.ADMIN)
    assert ONLY_OWNERS in text(set_role(ada, ws, other, Role.MEMBER))
    assert ONLY_OWNERS in text(set_role(ada, ws, team.ada, Role.VIEWER))
    assert member(ws, other).role == Role.ADMIN
    assert member(ws, team.ada).role == Role.ADMIN
    # Nor remove an admin or an owner; a member, yes.
    response = ada.post(f"/workspace/members/{member(ws, other).pk}/remove", follow=True)
    assert ONLY_OWNERS in text(response)
    response = ada.post(f"/workspace/members/{member(ws, team.alice).pk}/remove", follow=True)
    assert ONLY_OWNERS in text(response)
    response = ada.post(f"/workspace/members/{member(ws, team.dave).pk}/remove", follow=True)
    assert "dave no longer belongs to this workspace." in text(response)
    assert not Membership.objects.filter(workspace=ws, user=team.dave).exists()
    assert Membership.objects.filter(workspace=ws, user__in=[other, team.alice]).count() == 2


def test_it_lets_members_and_viewers_change_no_one(team) -> None:
    for name in ("carol", "vic"):
        client = client_for(getattr(team, name))
        response = client.post(
            f"/workspace/members/{member(team.workspace, team.dave).pk}/role",
            {"role": Role.VIEWER},
        )
        assert response.status_code == 404
        remove = f"/workspace/members/{member(team.workspace, team.dave).pk}/remove"
        assert client.post(remove).status_code == 404
    assert member(team.workspace, team.dave).role == Role.MEMBER


def test_it_lets_an_owner_make_and_unmake_admins_and_owners(team) -> None:
    alice = client_for(team.alice)
    ws = team.workspace
    set_role(alice, ws, team.carol, Role.ADMIN)
    assert member(ws, team.carol).role == Role.ADMIN
    set_role(alice, ws, team.ada, Role.MEMBER)
    assert member(ws, team.ada).role == Role.MEMBER
    set_role(alice, ws, team.dave, Role.OWNER)
    assert member(ws, team.dave).role == Role.OWNER
    # Two owners: one may now step down, or be removed.
    set_role(alice, ws, team.alice, Role.ADMIN)
    assert member(ws, team.alice).role == Role.ADMIN
    client_for(team.dave).post(f"/workspace/members/{member(ws, team.alice).pk}/remove")
    assert not Membership.objects.filter(workspace=ws, user=team.alice).exists()


def test_it_keeps_the_last_owner(team) -> None:
    alice = client_for(team.alice)
    ws = team.workspace
    for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
        assert KEEPS_AN_OWNER in text(set_role(alice, ws, team.alice, role))
        assert member(ws, team.alice).role == Role.OWNER
    response = alice.post(f"/workspace/members/{member(ws, team.alice).pk}/remove", follow=True)
    assert KEEPS_AN_OWNER in text(response)
    assert member(ws, team.alice).role == Role.OWNER
    assert "Choose a role." in text(set_role(alice, ws, team.carol, "superuser"))
    assert member(ws, team.carol).role == Role.MEMBER


def test_it_applies_a_demotion_on_the_very_next_request(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    carol = client_for(team.carol)
    run_flux(carol, django_capture_on_commit_callbacks, "before the change")
    assert Generation.objects.count() == 1
    assert sandbox_tasks(upstream) == 1

    set_role(client_for(team.alice), team.workspace, team.carol, Role.VIEWER)
    response = run_flux(carol, django_capture_on_commit_callbacks, "after the change")
    assert response.status_code == 404
    assert carol.post("/create/flux-2/estimate", {"prompt": "x"}).status_code == 404
    assert carol.post("/chat/new", {"content": "hello"}).status_code == 404
    assert Generation.objects.count() == 1
    assert sandbox_tasks(upstream) == 1
    # A viewer still browses: the gallery, a job, the reports.
    home = carol.get("/")
    assert home.status_code == 200
    assert "Recent jobs in this workspace" in text(home)
    assert "before the change" in text(home)
    job = Generation.objects.get()
    assert carol.get(f"/g/{job.code}/").status_code == 200
    assert carol.get(f"/g/{job.code}/files/0").status_code == 200
    assert carol.get("/usage/").status_code == 200
    assert carol.get("/usage/jobs").status_code == 200


def test_it_applies_a_promotion_on_the_very_next_request(team) -> None:
    carol = client_for(team.carol)
    assert carol.get("/credits/").status_code == 404
    assert carol.get("/workspace/audit").status_code == 404
    set_role(client_for(team.alice), team.workspace, team.carol, Role.ADMIN)
    assert carol.get("/credits/").status_code == 200
    assert carol.get("/workspace/audit").status_code == 200
    assert "Credits</a>" in carol.get("/").content.decode()


def test_it_lets_a_promoted_member_manage_budgets_once_jobs_have_run(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    run_flux(client_for(team.dave), django_capture_on_commit_callbacks, "the team at work")
    assert Generation.objects.get().state == State.SUCCEEDED
    set_role(client_for(team.alice), team.workspace, team.carol, Role.ADMIN)
    carol = client_for(team.carol)
    carol.raise_request_exception = False
    page = carol.get("/credits/")
    assert page.status_code == 200
    assert "Flux 2" in text(page)  # the job's ledger entries (by model name), with their member
    dave = member(team.workspace, team.dave)
    carol.post(
        f"/credits/budget/{dave.pk}", {f"m{dave.pk}-limit": "10", f"m{dave.pk}-period": "day"}
    )
    assert Budget.objects.get(membership=dave).limit == 10


def test_it_gives_a_removed_member_a_workspace_to_work_in(team) -> None:
    carol = client_for(team.carol)
    leave_only_in(carol, team.carol, team.workspace)
    client_for(team.ada).post(f"/workspace/members/{member(team.workspace, team.carol).pk}/remove")
    assert not Membership.objects.filter(workspace=team.workspace, user=team.carol).exists()
    # Like leaving, or a deleted workspace: someone left with none gets one of their own.
    assert carol.get("/").status_code == 200
    assert Workspace.objects.for_user(team.carol).filter(personal=True).count() == 1


# -- invitations -----------------------------------------------------------------------------


def invite(client: Client, role: str = Role.MEMBER, email: str = "", days: int = 7):
    return client.post(
        "/workspace/invitations", {"role": role, "email": email, "days": days}, follow=True
    )


def test_it_invites_and_the_link_joins_a_signed_in_user_with_its_role(team) -> None:
    ada = client_for(team.ada)
    response = invite(ada, Role.VIEWER, "erin@example.com", 3)
    invitation = Invitation.objects.get()
    assert invitation.workspace == team.workspace
    assert (invitation.role, invitation.email) == (Role.VIEWER, "erin@example.com")
    assert invitation.created_by == team.ada
    assert timedelta(days=2, hours=23) < invitation.expires_at - timezone.now() <= timedelta(3)
    link = f"http://testserver/invite/{invitation.token}"
    assert f"Invitation link (works once): {link}" in text(response)
    # Admins see it pending.
    page = ada.get("/workspace/")
    assert list(page.context["invitations"]) == [invitation]
    assert link in text(page)
    assert "erin@example.com" in text(page)

    erin = make_user("erin")
    erin_client = client_for(erin)
    offer = erin_client.get(f"/invite/{invitation.token}")
    assert offer.status_code == 200
    assert "Join Acme" in text(offer)
    assert "ada invites you as <strong>viewer</strong>" in text(offer)
    assert not Membership.objects.filter(workspace=team.workspace, user=erin).exists()
    response = erin_client.post(f"/invite/{invitation.token}")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert member(team.workspace, erin).role == Role.VIEWER
    assert current(erin) == team.workspace
    invitation.refresh_from_db()
    assert invitation.used_at is not None
    assert invitation.used_by == erin
    assert list(ada.get("/workspace/").context["invitations"]) == []
    events = AuditEvent.objects.filter(workspace=team.workspace)
    assert events.get(action="invitation created").actor == team.ada
    assert events.get(action="joined").actor == erin


def test_it_joins_through_signup(team) -> None:
    invite(client_for(team.ada), Role.MEMBER)
    token = Invitation.objects.get().token
    visitor = Client()
    offer = visitor.get(f"/invite/{token}")
    assert offer.status_code == 200
    assert f'href="/accounts/signup/?next=/invite/{token}"' in offer.content.decode()
    assert f'href="/accounts/login/?next=/invite/{token}"' in offer.content.decode()
    assert visitor.post(f"/invite/{token}").status_code == 200  # no one to join yet
    assert Invitation.objects.get().used_at is None

    response = visitor.post(
        f"/accounts/signup/?next=/invite/{token}",
        {"username": "frank", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"  # joined at sign-up: no second click on the link
    assert "Welcome to “Acme”." in text(visitor.get("/"))
    assert visitor.post(f"/invite/{token}").status_code == 302  # a second click: already in
    frank = Membership.objects.get(workspace=team.workspace, user__username="frank")
    assert frank.role == Role.MEMBER
    assert current(frank.user) == team.workspace
    assert Workspace.objects.filter(memberships__user=frank.user, personal=True).count() == 1


def test_it_joins_through_login(team) -> None:
    invite(client_for(team.ada), Role.MEMBER)
    token = Invitation.objects.get().token
    make_user("gina")
    visitor = Client()
    response = visitor.post(
        f"/accounts/login/?next=/invite/{token}",
        {"username": "gina", "password": PASSWORD, "next": f"/invite/{token}"},
    )
    assert response["Location"] == f"/invite/{token}"
    visitor.post(f"/invite/{token}")
    assert Membership.objects.get(workspace=team.workspace, user__username="gina").role == "member"


@pytest.mark.parametrize("why", ["used", "expired", "revoked"])
def test_it_says_plainly_why_a_link_does_not_work(team, why) -> None:
    ada = client_for(team.ada)
    invite(ada)
    invitation = Invitation.objects.get()
    if why == "used":
        client_for(make_user("erin")).post(f"/invite/{invitation.token}")
        sentence = "This invitation has already been used; each link works once."
    elif why == "expired":
        invitation.expires_at = timezone.now() - timedelta(minutes=1)
        invitation.save()
        day = invitation.expires_at.strftime("%Y-%m-%d")
        sentence = f"This invitation expired on {day}; ask for a new one."
    else:
        response = ada.post(f"/workspace/invitations/{invitation.pk}/revoke", follow=True)
        assert "Invitation withdrawn: its link no longer works." in text(response)
        sentence = "This invitation was withdrawn by an admin of the workspace."
    assert list(ada.get("/workspace/").context["invitations"]) == []

    latecomer = make_user("zoe")
    for client in (Client(), client_for(latecomer)):
        for method in (client.get, client.post):
            response = method(f"/invite/{invitation.token}")
            assert response.status_code == 410
            page = text(response)
            assert "This link does not work" in page
            assert sentence in page
            assert "Join Acme" not in page
    assert not Membership.objects.filter(workspace=team.workspace, user=latecomer).exists()
    members = Membership.objects.filter(workspace=team.workspace).count()
    assert members == (6 if why == "used" else 5)


def test_it_says_so_for_a_link_that_never_existed(team) -> None:
    response = client_for(team.carol).post("/invite/not-a-token")
    assert response.status_code == 404
    assert "This invitation link is not valid" in text(response)


def test_it_keeps_invitations_from_non_admins(team) -> None:
    invite(client_for(team.ada))
    invitation = Invitation.objects.get()
    for name in ("carol", "vic"):
        client = client_for(getattr(team, name))
        assert invite(client).status_code == 404
        response = client.post(f"/workspace/invitations/{invitation.pk}/revoke")
        assert response.status_code == 404
        page = client.get("/workspace/")
        assert "invitations" not in page.context
        assert invitation.token not in page.content.decode()
    assert Invitation.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.problem() is None
    # Nor from another workspace's admin.
    bob = make_user("bob")
    assert client_for(bob).post(f"/workspace/invitations/{invitation.pk}/revoke").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_it_lets_only_owners_invite_admins_and_owners(team) -> None:
    ada = client_for(team.ada)
    for role in (Role.ADMIN, Role.OWNER):
        assert "Only owners invite admins and owners." in text(invite(ada, role))
    assert not Invitation.objects.exists()
    alice = client_for(team.alice)
    invite(alice, Role.ADMIN)
    invitation = Invitation.objects.get()
    assert invitation.role == Role.ADMIN
    erin = make_user("erin")
    client_for(erin).post(f"/invite/{invitation.token}")
    assert member(team.workspace, erin).role == Role.ADMIN


ACTORS = ("alice", "ada", "carol", "vic", "outsider")  # owner, admin, member, viewer, none
MAY_GIVE = {
    "alice": set(Role.values),
    "ada": {Role.MEMBER, Role.VIEWER},
    "carol": set(),
    "vic": set(),
    "outsider": set(),
}


def actor_client(team, name: str) -> Client:
    if name == "outsider":
        return client_for(make_user("outsider"))
    return client_for(getattr(team, name))


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("role", Role.values)
def test_only_who_may_give_a_role_sees_creates_or_revokes_its_invitations(
    team, actor, role
) -> None:
    allowed = role in MAY_GIVE[actor]
    made = Invitation.objects.create(
        workspace=team.workspace, role=role, created_by=team.alice,
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    client = actor_client(team, actor)
    # See: the page lists (and shows the link of) only invitations to roles one may give.
    page = client.get("/workspace/").content.decode()
    assert (made.token in page) is allowed
    # Create.
    response = invite(client, role)
    created = Invitation.objects.filter(workspace=team.workspace, role=role).exclude(pk=made.pk)
    assert created.exists() is allowed
    if not allowed and actor == "ada":
        assert "Only owners invite admins and owners." in text(response)
    # Revoke.
    response = client.post(f"/workspace/invitations/{made.pk}/revoke")
    made.refresh_from_db()
    assert (made.revoked_at is not None) is allowed
    if not allowed:
        assert response.status_code == 404


@pytest.mark.parametrize("role", Role.values)
def test_an_owners_link_joins_anyone_holding_it_with_its_role_and_audit_says_whose(
    team, role
) -> None:
    invite(client_for(team.alice), role)
    invitation = Invitation.objects.get()
    erin = make_user("erin")
    client_for(erin).post(f"/invite/{invitation.token}")
    assert member(team.workspace, erin).role == role
    joined = AuditEvent.objects.get(action="joined")
    assert joined.detail == f"erin as {role}, with invitation #{invitation.pk} made by alice"


@pytest.mark.parametrize("actor", ["ada", "carol", "vic"])
@pytest.mark.parametrize("role", Role.values)
def test_a_member_opening_any_link_of_their_own_workspace_keeps_their_role(
    team, actor, role
) -> None:
    """Accept, for those already in: no link raises (or lowers) anyone."""
    invite(client_for(team.alice), role)
    invitation = Invitation.objects.get()
    person = getattr(team, actor)
    before = member(team.workspace, person).role
    client_for(person).post(f"/invite/{invitation.token}")
    assert member(team.workspace, person).role == before
    invitation.refresh_from_db()
    assert invitation.used_at is None  # still there for whom it was meant


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_a_link_to_a_powerful_role_dies_with_its_makers_ownership(team, role) -> None:
    Membership.objects.filter(workspace=team.workspace, user=team.ada).update(role=Role.OWNER)
    invite(client_for(team.ada), role)
    invitation = Invitation.objects.get()
    Membership.objects.filter(workspace=team.workspace, user=team.ada).update(role=Role.ADMIN)
    erin = make_user("erin")
    response = client_for(erin).post(f"/invite/{invitation.token}")
    assert response.status_code == 410
    assert "may no longer give that role" in text(response)
    assert not Membership.objects.filter(workspace=team.workspace, user=erin).exists()


# -- the key ---------------------------------------------------------------------------------


def post_key(client: Client, value: str, **extra):
    return client.post("/workspace/key", {"api_key": value, **extra}, follow=True)


def test_it_checks_a_key_upstream_then_shows_only_its_last_four(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    ada = client_for(team.ada)
    before = text(ada.get("/workspace/"))
    assert "badge-sandbox" in before
    assert "this workspace uses the <strong>sandbox</strong>" in before

    response = post_key(ada, f"  {TEAM_KEY} ")
    page = text(response)
    assert "Key …7Kq2 saved: this workspace now uses API in One." in page
    assert "Jobs here use the team's key <code>…7Kq2</code>." in page
    assert TEAM_KEY not in page
    assert "team_key_for_tests" not in page
    assert "badge-sandbox" not in page
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == TEAM_KEY
    assert team.workspace.api_key_last4 == "…7Kq2"
    stored = raw_key_column(team.workspace)
    assert stored.startswith("fernet:")
    assert TEAM_KEY not in stored
    for name in ("alice", "ada", "carol", "vic"):
        for path in ("/", "/workspace/", "/workspaces/", "/usage/"):
            body = client_for(getattr(team, name)).get(path).content.decode()
            assert TEAM_KEY not in body, (name, path)
    # Members do not see the key section at all.
    assert "…7Kq2" not in text(client_for(team.carol).get("/workspace/"))


def test_it_refuses_a_key_the_upstream_refuses_and_saves_nothing(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    upstream.sandbox.state.revoke(TEAM_KEY)
    ada = client_for(team.ada)
    page = text(post_key(ada, TEAM_KEY))
    assert "This key is not valid" in page
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == ""
    assert team.workspace.api_key_last4 == ""
    assert raw_key_column(team.workspace) == ""
    assert "badge-sandbox" in page
    # With a good key stored, a refused one does not replace it.
    good = "aio_the_good_one_AB12"
    post_key(ada, good)
    assert "This key is not valid" in text(post_key(ada, TEAM_KEY))
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == good
    assert not AuditEvent.objects.filter(detail__contains="7Kq2").exists()


@pytest.fixture
def service():
    """A stand-in for the real service answering the key check as told (status, body)."""
    import json as jsonlib
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    answer = {"status": 404, "body": {"error": {"code": 404, "message": "Task not found."}}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answer["body"]
            data = body.encode() if isinstance(body, str) else jsonlib.dumps(body).encode()
            self.send_response(answer["status"])
            self.send_header(
                "Content-Type", "text/html" if isinstance(body, str) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    answer["url"] = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    yield answer
    server.shutdown()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error": {"code": 404, "message": "Task not found."}}),
        (400, {"error": {"code": 400, "message": "Invalid task id."}}),
        (422, {"detail": "task_id: not a valid id"}),
        (200, {"code": 404, "message": "task not found", "data": None}),
    ],
)
def test_a_good_key_is_saved_however_the_service_words_an_unknown_task(
    team, service, settings, status, body
) -> None:
    settings.APIINONE_BASE_URL = service["url"]
    service.update(status=status, body=body)
    page = text(post_key(client_for(team.ada), TEAM_KEY))
    assert "Key …7Kq2 saved" in page
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == TEAM_KEY


REFUSED = "This key is not valid: API in One refused it"
UNREACHED = "API in One could not be reached to check the key"


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (
            401,
            {"error": {"code": 401, "message": "Invalid API key"}},
            "(HTTP 401: Invalid API key).",
        ),
        (403, {"error": {"code": 403, "message": "Key disabled"}}, "(HTTP 403: Key disabled)."),
        (502, "<html><body>Bad Gateway</body></html>", "(HTTP 502); the key was not saved"),
        (500, {"error": {"code": 500, "message": "Internal error"}}, "(HTTP 500: Internal error)"),
    ],
)
def test_only_a_refusal_says_the_key_is_bad_and_other_answers_are_said_exactly(
    team, service, settings, monkeypatch, status, body, said
) -> None:
    monkeypatch.setattr(aio, "backoff", lambda *a, **k: 0.0)
    settings.APIINONE_BASE_URL = service["url"]
    service.update(status=status, body=body)
    page = text(post_key(client_for(team.ada), TEAM_KEY))
    assert f"{REFUSED if status < 500 else UNREACHED} {said}" in page
    assert TEAM_KEY not in page
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == ""


@pytest.mark.parametrize("value", ["not-a-key", "aio_short", "sk-aio_1234567890"])
def test_it_refuses_what_is_not_a_key_without_asking_upstream(team, value) -> None:
    page = text(post_key(client_for(team.ada), value))
    assert "This is not an API in One key: they are aio_ and then at least 8" in page
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == ""


def test_it_answers_a_pasted_key_with_an_invisible_character_plainly(
    team, upstream, settings
) -> None:
    # Copied from a web page or a chat, a key can carry a zero-width space that strip() keeps.
    settings.APIINONE_BASE_URL = upstream.url
    response = post_key(client_for(team.ada), TEAM_KEY + "\u200b")
    assert response.status_code == 200
    page = text(response)
    team.workspace.refresh_from_db()
    if team.workspace.api_key:  # cleaned, checked and saved: fine too
        assert team.workspace.api_key == TEAM_KEY
        assert "Key …7Kq2 saved" in page
    else:
        assert "This is not an API in One key" in page or "This key is not valid" in page


def test_it_keeps_the_stored_key_on_a_blank_submission(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    ada = client_for(team.ada)
    post_key(ada, TEAM_KEY)
    stored = raw_key_column(team.workspace)
    for blank in ("", "   "):
        assert "The stored key is kept." in text(post_key(ada, blank))
    assert "The stored key is kept." in text(ada.post("/workspace/key", {}, follow=True))
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == TEAM_KEY
    assert raw_key_column(team.workspace) == stored


def test_it_clears_the_key_and_the_sandbox_says_so_again(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    ada = client_for(team.ada)
    post_key(ada, TEAM_KEY)
    page = text(ada.post("/workspace/key", {"action": "clear", "api_key": ""}, follow=True))
    assert "Key removed: this workspace now uses the sandbox." in page
    assert "badge-sandbox" in page
    assert "this workspace uses the <strong>sandbox</strong>" in page
    team.workspace.refresh_from_db()
    assert (team.workspace.api_key, team.workspace.api_key_last4) == ("", "")
    assert raw_key_column(team.workspace) == ""


def test_it_keeps_the_key_from_members_and_viewers(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    post_key(client_for(team.ada), TEAM_KEY)
    for name in ("carol", "vic"):
        client = client_for(getattr(team, name))
        assert client.post("/workspace/key", {"api_key": "aio_someone_elses_1"}).status_code == 404
        assert client.post("/workspace/key", {"action": "clear"}).status_code == 404
    team.workspace.refresh_from_db()
    assert team.workspace.api_key == TEAM_KEY


def test_it_runs_a_keyed_workspace_s_jobs_with_its_key(
    team, upstream, settings, django_capture_on_commit_callbacks
) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    state = upstream.sandbox.state
    post_key(client_for(team.ada), TEAM_KEY)
    run_flux(client_for(team.carol), django_capture_on_commit_callbacks, "on the team's key")
    job = Generation.objects.get()
    assert job.state == State.SUCCEEDED
    assert job.workspace == team.workspace
    hashes = [row[0] for row in state._execute("SELECT key_hash FROM tasks").fetchall()]
    assert hashes == [key_hash(TEAM_KEY)]
    assert state.account(TEAM_KEY)["balance"] == state.starting_balance - job.consumed_credits
    assert state.account(settings.SANDBOX_API_KEY)["balance"] == state.starting_balance
    # A workspace without a key still runs on the sandbox's.
    run_flux(client_for(team.carol), django_capture_on_commit_callbacks)  # still Acme
    personal = client_for(make_user("hal"))
    run_flux(personal, django_capture_on_commit_callbacks, "no key here")
    sandboxed = Generation.objects.get(params__prompt="no key here")
    assert sandboxed.state == State.SUCCEEDED
    hashes = [row[0] for row in state._execute("SELECT key_hash FROM tasks").fetchall()]
    assert hashes.count(key_hash(settings.SANDBOX_API_KEY)) == 1


# -- private jobs ----------------------------------------------------------------------------


def test_it_hides_a_private_job_from_other_members(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    carol = client_for(team.carol)
    run_flux(carol, django_capture_on_commit_callbacks, "a secret lighthouse", private="on")
    run_flux(carol, django_capture_on_commit_callbacks, "an open meadow")
    secret = Generation.objects.get(params__prompt="a secret lighthouse")
    shared = Generation.objects.get(params__prompt="an open meadow")
    assert secret.private
    assert not shared.private
    assert secret.state == shared.state == State.SUCCEEDED

    for name in ("dave", "vic"):
        other = client_for(getattr(team, name))
        for suffix in ("", "card", "files/0", "files/0?preview=1"):
            assert other.get(f"/g/{secret.code}/{suffix}").status_code == 404, (name, suffix)
        assert other.get(f"/g/{shared.code}/").status_code == 200, name
        assert other.post(f"/g/{secret.code}/cancel").status_code == 404
        for path in ("/", "/usage/", "/usage/jobs"):
            assert "a secret lighthouse" not in text(other.get(path)), (name, path)
    assert "an open meadow" in text(client_for(team.vic).get("/"))  # a viewer's gallery

    for name in ("carol", "alice", "ada"):
        client = client_for(getattr(team, name))
        for suffix in ("", "card", "files/0"):
            assert client.get(f"/g/{secret.code}/{suffix}").status_code == 200, (name, suffix)
        assert "a secret lighthouse" in text(client.get(f"/g/{secret.code}/"))
    assert "a secret lighthouse" in text(carol.get("/"))


def test_it_does_not_offer_a_private_job_s_results_to_other_members(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    carol = client_for(team.carol)
    run_flux(carol, django_capture_on_commit_callbacks, "a secret lighthouse", private="on")
    # flux-2 takes input images, picked "From the gallery" of the workspace's results.
    assert "a secret lighthouse" in text(carol.get("/?model=flux-2"))
    page = text(client_for(team.dave).get("/?model=flux-2"))
    assert "a secret lighthouse" not in page


# -- the audit log ---------------------------------------------------------------------------


def test_it_keeps_an_audit_log_of_who_did_what_for_admins(team, upstream, settings) -> None:
    settings.APIINONE_BASE_URL = upstream.url
    ws = team.workspace
    alice, ada = client_for(team.alice), client_for(team.ada)
    set_role(alice, ws, team.carol, Role.VIEWER)
    invite(ada, Role.MEMBER, "erin@example.com")
    number = Invitation.objects.get().pk
    ada.post(f"/workspace/invitations/{number}/revoke")
    post_key(ada, TEAM_KEY)
    ada.post("/workspace/key", {"action": "clear"})
    dave = member(ws, team.dave)
    ada.post(
        f"/credits/budget/{dave.pk}", {f"m{dave.pk}-limit": "50", f"m{dave.pk}-period": "week"}
    )
    alice.post("/workspace/rename", {"name": "Acme Two"})
    ada.post(f"/workspace/members/{member(ws, team.vic).pk}/remove")

    expected = [
        ("alice", "workspace created", "Acme"),
        ("alice", "role changed", "carol: member → viewer"),
        ("ada", "invitation created", f"#{number} (member) for erin@example.com"),
        ("ada", "invitation revoked", f"#{number} (member) made by ada"),
        ("ada", "key set", "key …7Kq2"),
        ("ada", "key cleared", ""),
        ("ada", "budget changed", "dave: 50 per week"),
        ("alice", "renamed", "Acme → Acme Two"),
        ("ada", "member removed", "vic"),
    ]
    page = ada.get("/workspace/audit")
    assert page.status_code == 200
    shown = [(e.actor.username, e.action, e.detail) for e in page.context["events"]]
    assert shown == expected[::-1]
    body = text(page)
    for actor, action, detail in expected:
        assert f"<td>{actor}</td><td>{action}</td><td>{detail}</td>" in body
    assert TEAM_KEY not in body
    assert not any(TEAM_KEY in e.detail for e in AuditEvent.objects.all())
    assert client_for(team.alice).get("/workspace/audit").status_code == 200
    for name in ("carol", "dave"):
        assert client_for(getattr(team, name)).get("/workspace/audit").status_code == 404

    alice.post("/workspace/delete", {"confirm": "Acme Two"})
    last = AuditEvent.objects.filter(workspace=ws).first()
    assert (last.actor, last.action, last.detail) == (team.alice, "workspace deleted", "Acme Two")
    assert last.created_at <= timezone.now()


# -- fields a form must not take from the poster ---------------------------------------------


def test_it_ignores_workspace_owner_and_user_in_the_create_form(
    team, upstream, django_capture_on_commit_callbacks
) -> None:
    bob = make_user("bob")
    bobs = Workspace.objects.get(memberships__user=bob)
    response = run_flux(
        client_for(team.carol),
        django_capture_on_commit_callbacks,
        "whose is it",
        workspace=bobs.pk,
        workspace_id=bobs.pk,
        owner=bob.pk,
        user=bob.pk,
        user_id=bob.pk,
    )
    assert response.status_code == 302
    job = Generation.objects.get()
    assert job.workspace == team.workspace
    assert job.user == team.carol
    assert job.state == State.SUCCEEDED
    assert not Generation.objects.filter(workspace=bobs).exists()
    entry = LedgerEntry.objects.filter(generation=job).first()
    assert (entry.workspace, entry.member) == (team.workspace, team.carol)


def test_it_ignores_workspace_owner_and_user_in_role_and_budget_forms(team) -> None:
    bob = make_user("bob")
    bobs = Workspace.objects.get(memberships__user=bob)
    bobs_membership = member(bobs, bob)
    ada = client_for(team.ada)
    carol = member(team.workspace, team.carol)
    extra = {
        "workspace": bobs.pk,
        "owner": bob.pk,
        "user": bob.pk,
        "membership": bobs_membership.pk,
    }
    set_role(ada, team.workspace, team.carol, Role.VIEWER, **extra)
    carol.refresh_from_db()
    assert (carol.workspace, carol.user, carol.role) == (team.workspace, team.carol, Role.VIEWER)
    bobs_membership.refresh_from_db()
    assert bobs_membership.role == Role.OWNER
    assert list(Membership.objects.filter(user=bob)) == [bobs_membership]

    prefixed = {f"m{carol.pk}-{name}": value for name, value in extra.items()}
    ada.post(
        f"/credits/budget/{carol.pk}",
        {f"m{carol.pk}-limit": "40", f"m{carol.pk}-period": "day", **extra, **prefixed},
    )
    budget = Budget.objects.get()
    assert budget.membership == carol
    assert (budget.limit, budget.period) == (40, "day")
    assert not Budget.objects.filter(membership=bobs_membership).exists()
    # Another workspace's membership is not reachable by id.
    assert ada.post(f"/credits/budget/{bobs_membership.pk}", {}).status_code == 404
    response = ada.post(f"/workspace/members/{bobs_membership.pk}/role", {"role": "viewer"})
    assert response.status_code == 404
    assert ada.post(f"/workspace/members/{bobs_membership.pk}/remove").status_code == 404
    bobs_membership.refresh_from_db()
    assert bobs_membership.role == Role.OWNER


def test_an_admin_is_offered_only_what_an_admin_may_do(team) -> None:
    page = client_for(team.ada).get("/workspace/").content.decode()
    ws = team.workspace
    # Members and viewers: a role to change and a Remove; the owner: neither.
    assert f'action="/workspace/members/{member(ws, team.carol).pk}/role"' in page
    assert f'action="/workspace/members/{member(ws, team.carol).pk}/remove"' in page
    assert f'action="/workspace/members/{member(ws, team.alice).pk}/role"' not in page
    assert f'action="/workspace/members/{member(ws, team.alice).pk}/remove"' not in page
    assert '<option value="owner"' not in page  # not in a role list, not in the invitation's
    assert '<option value="admin"' not in page
    owner_page = client_for(team.alice).get("/workspace/").content.decode()
    assert f'action="/workspace/members/{member(ws, team.ada).pk}/role"' in owner_page
    assert '<option value="owner"' in owner_page


def test_a_viewer_is_not_told_about_their_own_jobs(team) -> None:
    home = client_for(team.vic).get("/").content.decode()
    assert "Nothing yet: the team's jobs show up here." in home
    assert "your jobs" not in home


def test_roles_are_read_through_the_membership_s_own_words() -> None:
    """can_manage, can_spend, is_owner, can_assign: no template or view spells roles out."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spelled = re.compile(
        r"""role\s+in\s+["']|role\s*==\s*["'](owner|admin|member|viewer)["']"""
        r"""|\(Role\.OWNER,\s*Role\.ADMIN\)|role\s*==\s*Role\.OWNER"""
    )
    found = []
    for folder, pattern in (("templates", "*.html"), ("studio", "*.py"), ("generations", "*.py")):
        for path in (root / folder).rglob(pattern):
            if path.name == "models.py" or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if spelled.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:80]}")
    assert found == []
