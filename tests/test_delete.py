"""Deleting results (issue 15): soft, with Undo for a while and a restore until the retention
period ends, when the sweep removes their files; gone from every page meanwhile; what they cost
stays in the ledger. A member deletes their own, an admin any; viewers and other teams none."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from generations import tasks
from generations.models import Generation, GenerationFile
from studio.models import LedgerEntry, Membership, Role
from tests.conftest import client_for, make_user
from tests.test_gallery import codes, done
from tests.test_stars import _media  # noqa: F401 (files in a temporary folder)

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def delete(client, *jobs, **extra):
    return client.post(reverse("gallery-delete"), {"code": [str(j.code) for j in jobs], **extra})


def test_a_deleted_result_leaves_every_page_and_undo_brings_it_back(alice, team) -> None:
    workspace, carol = team
    fox = done(carol, workspace, "a fox in the snow")
    kept = done(carol, workspace, "a kept owl")
    LedgerEntry.objects.create(
        workspace=workspace, member=carol, kind="hold", amount=-5, generation=fox
    )
    client = client_for(carol)
    response = delete(client, fox, next="/gallery/?q=fox")
    assert response.status_code == 302
    assert response["Location"] == "/gallery/?q=fox"
    assert "Deleted 1 result." in messages_of(response)
    fox.refresh_from_db()
    assert fox.deleted_at is not None
    assert fox.deleted_by == carol

    gallery = client.get(reverse("gallery"))
    assert codes(gallery) == [str(kept.code)]
    html = gallery.content.decode()
    assert "1 result deleted." in html
    assert f'<input type="hidden" name="code" value="{fox.code}">' in html  # the Undo form
    for url in (
        reverse("generation", args=[fox.code]),
        reverse("generation-file", args=[fox.code, 0]),
        reverse("compare") + f"?code={fox.code}&code={kept.code}",
    ):
        assert fox.prompt not in client.get(url).content.decode(), url
    assert client.get(reverse("generation", args=[fox.code])).status_code == 404
    picks = client.get(reverse("picks", args=["bg-remover", "image"])).content.decode()
    assert f'value="{fox.files.get().pk}"' not in picks
    zipped = client.get(reverse("gallery-zip"))
    assert b"a-fox-in-the-snow" not in b"".join(zipped.streaming_content)
    # Money is history: the ledger keeps what it cost.
    total = LedgerEntry.objects.filter(generation=fox).aggregate(t=Sum("amount"))["t"]
    assert total == -5

    undo = client.post(reverse("gallery-restore"), {"code": [str(fox.code)]})
    assert "Restored 1 result." in messages_of(undo)
    assert codes(client.get(reverse("gallery"))) == [str(kept.code), str(fox.code)]
    assert "deleted." not in client.get(reverse("gallery")).content.decode()  # Undo is used


def test_members_delete_their_own_and_admins_any(alice, team) -> None:
    workspace, carol = team  # alice owns the workspace, carol is a member
    hers = done(alice, workspace, "alice's heron")
    mine = done(carol, workspace, "carol's heron")
    response = delete(client_for(carol), hers, mine)
    assert (
        "Deleted 1 result (1 made by others were left: only admins delete those)."
        in messages_of(response)
    )
    assert Generation.objects.get(pk=hers.pk).deleted_at is None
    assert Generation.objects.get(pk=mine.pk).deleted_at is not None
    detail = reverse("generation", args=[hers.code])
    assert 'action="/gallery/delete"' not in client_for(carol).get(detail).content.decode()
    assert 'action="/gallery/delete"' in client_for(alice).get(detail).content.decode()
    delete(client_for(alice), hers)  # the owner may
    assert Generation.objects.get(pk=hers.pk).deleted_at is not None
    # Carol cannot restore alice's either.
    undo = client_for(carol).post(reverse("gallery-restore"), {"code": [str(hers.code)]})
    assert "Nothing to restore" in messages_of(undo)[0]
    assert Generation.objects.get(pk=hers.pk).deleted_at is not None


def test_viewers_and_other_teams_delete_nothing(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a heron")
    viewer = make_user("vera")
    Membership.objects.create(
        workspace=workspace, user=viewer, role=Role.VIEWER, selected_at=timezone.now()
    )
    assert delete(client_for(viewer), job).status_code == 404
    stranger = make_user("sam")
    response = delete(client_for(stranger), job)
    assert "None of those results is one you may delete." in messages_of(response)
    assert Generation.objects.get(pk=job.pk).deleted_at is None


def test_undo_is_offered_for_a_while_then_restoring_ends_with_the_retention(
    alice, team, settings
) -> None:
    settings.STUDIO_DELETED_RETENTION_DAYS = 30
    workspace, _ = team
    old = done(alice, workspace, "an old heron")
    twin = done(alice, workspace, "a twin heron")
    shared = old.files.get()
    GenerationFile.objects.filter(generation=twin).update(file=shared.file.name)  # one stored file
    recent = done(alice, workspace, "a recent heron")
    client = client_for(alice)
    delete(client, old, recent)
    session = client.session
    session["undo_delete"]["until"] = 0  # a quarter of an hour later
    session.save()
    assert "deleted." not in client.get(reverse("gallery")).content.decode()

    Generation.objects.filter(pk=old.pk).update(
        deleted_at=timezone.now() - timezone.timedelta(days=31)
    )
    name = shared.file.name
    assert default_storage.exists(name)
    tasks.sweep()
    old.refresh_from_db()
    assert old.files_purged
    assert default_storage.exists(name)  # the twin, not deleted, still shows it
    assert not Generation.objects.get(pk=recent.pk).files_purged  # within the retention
    assert default_storage.exists(recent.files.get().file.name)
    # The twin deleted long ago too: now the file goes. Twice is the same as once.
    Generation.objects.filter(pk=twin.pk).update(
        deleted_at=timezone.now() - timezone.timedelta(days=40)
    )
    tasks.sweep()
    tasks.sweep()
    assert not default_storage.exists(name)
    undo = client.post(reverse("gallery-restore"), {"code": [str(old.code), str(recent.code)]})
    assert "Restored 1 result." in messages_of(undo)  # the recent one; the old one is gone
    assert Generation.objects.get(pk=old.pk).deleted_at is not None
