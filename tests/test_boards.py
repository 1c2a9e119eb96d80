"""Boards and share links (issue 15): named collections the workspace shares, a result on
several; a board is the gallery filtered by it (and its zip); a share link shows one board's
public results to someone without an account, read-only, until it expires or is revoked."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.models import Board, Generation, ShareLink
from studio.models import AuditEvent, Membership, Role
from tests.conftest import client_for, make_user
from tests.test_gallery import codes, done
from tests.test_stars import _media  # noqa: F401 (files in a temporary folder)

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def add(client, jobs, **board):
    return client.post(reverse("gallery-board"), {"code": [str(j.code) for j in jobs], **board})


def test_results_go_on_boards_and_a_board_is_the_gallery_filtered_by_it(alice, team) -> None:
    workspace, carol = team
    fox, owl, heron = (done(alice, workspace, f"a {name}") for name in ("fox", "owl", "heron"))
    client = client_for(carol)
    response = add(client, [fox, owl], new_board="Client picks")
    assert "Added 2 results to “Client picks”." in messages_of(response)
    board = Board.objects.get(workspace=workspace)
    response = add(client, [owl, heron], board=str(board.code))
    assert "Added 1 result to “Client picks”." in messages_of(response)  # the owl is there once
    other = Board.objects.create(workspace=workspace, name="Moodboard")
    add(client, [owl], board=str(other.code))  # one result on two boards

    page = client.get(reverse("gallery"), {"board": str(board.code)})
    assert codes(page) == [str(heron.code), str(owl.code), str(fox.code)]
    html = page.content.decode()
    assert "Board: Client picks" in html
    assert f'formaction="{reverse("board-remove", args=[board.code])}"' in html
    assert codes(client.get(reverse("gallery"), {"board": str(other.code)})) == [str(owl.code)]
    listing = client.get(reverse("boards")).content.decode()
    assert "Client picks" in listing
    assert "3 results" in listing
    assert "Moodboard" in listing
    assert "1 result " in listing

    zipped = client.get(reverse("gallery-zip"), {"board": str(other.code)})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content)))
    assert len([n for n in archive.namelist() if n != "manifest.json"]) == 1

    client.post(reverse("board-remove", args=[board.code]), {"code": [str(fox.code)]})
    assert codes(client.get(reverse("gallery"), {"board": str(board.code)})) == [
        str(heron.code), str(owl.code),
    ]  # fmt: skip
    assert Generation.objects.filter(pk=fox.pk, deleted_at=None).exists()  # still in the gallery


def test_board_names_are_checked_and_a_deleted_board_leaves_its_results(alice, team) -> None:
    workspace, carol = team
    fox = done(alice, workspace, "a fox")
    client = client_for(carol)
    client.post(reverse("boards"), {"name": "  Summer   campaign "})
    board = Board.objects.get()
    assert board.name == "Summer campaign"
    again = client.post(reverse("boards"), {"name": "summer CAMPAIGN"})
    assert "The workspace has a board of that name already." in again.content.decode()
    assert client.post(reverse("boards"), {"name": "x" * 81}).status_code == 200
    assert Board.objects.count() == 1
    renamed = client.post(reverse("board-rename", args=[board.code]), {"name": "Autumn"})
    assert "“Summer campaign” is now “Autumn”." in messages_of(renamed)
    add(client, [fox], board=str(board.code))
    link = ShareLink.objects.create(
        board=board, expires_at=timezone.now() + timezone.timedelta(days=1)
    )
    client.post(reverse("board-delete", args=[board.code]))
    assert not Board.objects.exists()
    assert Generation.objects.filter(pk=fox.pk, deleted_at=None).exists()
    assert Client().get(reverse("shared-board", args=[link.token])).status_code == 404


def test_a_share_link_shows_the_boards_public_results_and_nothing_else(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a fox at dawn", consumed_credits=42)
    private = done(alice, workspace, "a private owl", private=True)
    elsewhere = done(alice, workspace, "a heron not on the board")
    owner = client_for(alice)
    add(owner, [fox, private], new_board="For Acme Corp")
    board = Board.objects.get()
    made = owner.post(reverse("board-share", args=[board.code]), {"days": "7"})
    assert "Share link made: it works for 7 days." in messages_of(made)
    link = board.share_links.get()
    assert (
        timezone.timedelta(days=6, hours=23)
        < link.expires_at - timezone.now()
        <= timezone.timedelta(days=7)
    )
    event = AuditEvent.objects.get(action="share.created")
    assert "For Acme Corp" in event.detail
    assert event.actor == alice
    gallery = owner.get(reverse("gallery"), {"board": str(board.code)}).content.decode()
    assert reverse("shared-board", args=[link.token]) in gallery  # shown to copy

    visitor = Client()  # no account
    page = visitor.get(reverse("shared-board", args=[link.token]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "For Acme Corp" in html
    assert "a fox at dawn" in html
    main = html.split('id="main"')[1]  # the page's own content (the header is the studio's)
    hidden = ("a private owl", "a heron not on the board", workspace.name, "alice", "carol")
    for secret in (*hidden, "credit"):
        assert secret not in main, secret
    # the cost, as a number of its own (not the digits inside a code or a token)
    assert not re.search(r"(?<![\w-])42(?![\w-])", main)
    assert page["Referrer-Policy"] == "no-referrer"
    assert "noindex" in page["X-Robots-Tag"]
    file_url = reverse("shared-file", args=[link.token, fox.code, 0])
    assert file_url in html
    assert visitor.get(file_url).status_code == 200
    assert visitor.get(file_url + "?download=1").status_code == 200
    for job in (private, elsewhere):  # on the board but private; in W but not on the board
        assert (
            visitor.get(reverse("shared-file", args=[link.token, job.code, 0])).status_code == 404
        )

    revoked = owner.post(reverse("board-share-revoke", args=[board.code, link.pk]))
    assert "Share link revoked: it no longer opens." in messages_of(revoked)
    assert AuditEvent.objects.filter(action="share.revoked").count() == 1
    gone = visitor.get(reverse("shared-board", args=[link.token]))
    assert gone.status_code == 404
    assert "It has expired or was revoked." in gone.content.decode()
    assert visitor.get(file_url).status_code == 404


def test_an_expired_link_opens_nothing(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a fox")
    board = Board.objects.create(workspace=workspace, name="Old")
    board.add(Generation.objects.filter(pk=fox.pk), alice)
    link = ShareLink.objects.create(
        board=board, expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert Client().get(reverse("shared-board", args=[link.token])).status_code == 404
    assert Client().get(reverse("shared-file", args=[link.token, fox.code, 0])).status_code == 404
    assert Client().get(reverse("shared-board", args=["not-a-token"])).status_code == 404
    listing = client_for(alice).get(reverse("gallery"), {"board": str(board.code)}).content.decode()
    assert "expired" in listing  # the owner sees it ended


def test_other_teams_boards_and_results_do_not_mix(alice, team) -> None:
    workspace, carol = team
    fox = done(alice, workspace, "a fox")
    stranger = make_user("sam")
    theirs = Board.objects.create(workspace=stranger.memberships.get().workspace, name="Sam's")
    # Sam names alice's result and his own board: nothing is added.
    response = add(client_for(stranger), [fox], board=str(theirs.code))
    assert "Tick at least one result first." in messages_of(response)
    assert not theirs.items.exists()
    # Carol names Sam's board: it is not one of hers.
    response = add(client_for(carol), [fox], board=str(theirs.code))
    assert "Choose a board, or name a new one." in messages_of(response)
    assert (
        client_for(carol).get(reverse("gallery"), {"board": str(theirs.code)}).context_data["jobs"]
        == []
    )
    viewer = make_user("vera")
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    assert add(client_for(viewer), [fox], new_board="Mine").status_code == 404
    assert not Board.objects.filter(name="Mine").exists()


def test_a_shared_job_of_several_files_offers_each(alice, team) -> None:
    from tests.test_isolation import add_result

    workspace, _ = team
    songs = done(alice, workspace, "two songs")
    add_result(songs, position=1)
    board = Board.objects.create(workspace=workspace, name="Songs")
    board.add(Generation.objects.filter(pk=songs.pk), alice)
    link = ShareLink.objects.create(
        board=board, expires_at=timezone.now() + timezone.timedelta(days=1)
    )
    html = Client().get(reverse("shared-board", args=[link.token])).content.decode()
    for position in (0, 1):
        assert (
            f"{reverse('shared-file', args=[link.token, songs.code, position])}?download=1" in html
        )
