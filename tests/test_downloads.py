"""The gallery's zips (issue 15): chosen results or a whole search, streamed as they are written,
files named by date, model and prompt words, a manifest.json of prompts, parameters, costs and
lineage; never anything the person may not see."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from generations import downloads
from generations.models import Generation
from studio import ledger
from tests.conftest import client_for
from tests.test_gallery import done
from tests.test_isolation import add_result, png_bytes

pytestmark = pytest.mark.django_db
URL = reverse("gallery-zip")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def unzip(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_chosen_results_come_named_with_a_manifest_of_their_making(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "A red fox, in snow!")
    add_result(fox, position=1)
    ledger.hold(fox)
    ledger.settle(fox, Decimal(4))
    edit = done(alice, workspace, "the fox at night")
    edit.params = {
        "prompt": "the fox at night",
        "input_urls": [{"file": fox.files.get(position=1).pk}],
    }
    edit.save()
    response = client_for(alice).post(URL, {"code": [str(fox.code), str(edit.code)]})
    archive = unzip(response)
    day = f"{fox.created_at:%Y-%m-%d}"
    short = str(fox.code)[:8]
    assert sorted(archive.namelist()) == sorted([
        f"{day}_flux-2_a-red-fox-in-snow_{short}.png",
        f"{day}_flux-2_a-red-fox-in-snow_{short}-2.png",
        f"{day}_flux-2_the-fox-at-night_{str(edit.code)[:8]}.png",
        "manifest.json",
    ])  # fmt: skip
    assert archive.read(f"{day}_flux-2_a-red-fox-in-snow_{short}.png") == png_bytes()
    manifest = json.loads(archive.read("manifest.json"))
    jobs = {entry["job"]: entry for entry in manifest["jobs"]}
    assert jobs[str(fox.code)]["prompt"] == "A red fox, in snow!"
    assert jobs[str(fox.code)]["credits"] == "4"
    assert jobs[str(fox.code)]["by"] == "alice"
    assert [f["name"] for f in jobs[str(fox.code)]["files"]][1].endswith("-2.png")
    assert jobs[str(edit.code)]["made_from"] == [{"job": str(fox.code), "file": 2}]
    assert jobs[str(edit.code)]["parameters"]["prompt"] == "the fox at night"
    assert jobs[str(edit.code)]["credits"] == "0"


def test_what_the_person_may_not_see_is_never_in_the_zip(alice, team, bob) -> None:
    workspace, carol = team
    mine = done(carol, workspace, "carol's kite")
    secret = done(alice, workspace, "alice's secret", private=True)
    theirs = done(bob, bob.memberships.get().workspace, "bob's own")
    codes = [str(mine.code), str(secret.code), str(theirs.code), "not-a-code"]
    names = unzip(client_for(carol).post(URL, {"code": codes})).namelist()
    assert len(names) == 2
    assert any("carols-kite" in name for name in names)
    assert not any("secret" in name or "bobs-own" in name for name in names)
    names = unzip(client_for(alice).post(URL, {"code": codes})).namelist()
    assert len(names) == 3  # the owner sees the private one, never bob's
    nothing = client_for(alice).post(URL, {"code": ["nothing"], "next": "/gallery/?q=kite"})
    assert nothing.status_code == 302  # back to the gallery, with a sentence
    assert nothing["Location"] == "/gallery/?q=kite"


def test_a_search_downloads_whole(alice, team) -> None:
    workspace, _ = team
    done(alice, workspace, "a fox")
    done(alice, workspace, "an owl")
    done(alice, workspace, "a fox and an owl")
    names = unzip(client_for(alice).get(URL, {"q": "fox"})).namelist()
    assert len(names) == 3
    assert all("fox" in name for name in names if name != "manifest.json")
    assert client_for(alice).get(URL, {"kind": "no-such-kind"}).status_code == 400


def test_a_file_gone_from_storage_does_not_cut_the_zip(alice, team) -> None:
    workspace, _ = team
    job = done(alice, workspace, "a lost fox")
    job.files.get().file.delete(save=False)
    archive = unzip(client_for(alice).post(URL, {"code": [str(job.code)]}))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["jobs"][0]["files"][0]["missing"] is True
    assert archive.testzip() is None


def test_it_streams_files_before_reading_the_later_ones(alice, team, monkeypatch) -> None:
    """Written while read: the first bytes go out before the last batch of jobs is read."""
    workspace, _ = team
    monkeypatch.setattr(downloads, "BATCH", 2)
    for i in range(6):
        done(alice, workspace, f"fox {i}")
    opened = []
    real = downloads._read

    def spy(storage, name, pk, missing):
        opened.append(pk)
        return real(storage, name, pk, missing)

    monkeypatch.setattr(downloads, "_read", spy)
    chunks = downloads.stream(Generation.objects.filter(workspace=workspace).results())
    next(chunks)
    assert len(opened) <= 2  # only the first batch was read
    assert b"".join(chunks)
    assert len(opened) == 6
