"""Lineage (issue 15): a job's page shows the results it was made from, those made from it, and
the credits of the chain that led to it; recorded when a job starts, backfilled for older ones."""

from __future__ import annotations

import html
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from generations import actions
from generations.models import Generation, GenerationInput
from studio import ledger
from tests.conftest import client_for
from tests.test_gallery import done

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


def made_from(user, source: Generation, prompt: str, cost: int = 2) -> Generation:
    """A finished job made from `source`'s first result, started the way Run starts one."""
    params = {"image": {"file": source.files.get().pk}}
    job = actions.start_job(
        workspace=source.workspace, user=user, model_slug="bg-remover", kind="tool",
        params=params, estimate=cost, token=prompt,
    )  # fmt: skip
    ledger.settle(job, Decimal(cost))
    Generation.objects.filter(pk=job.pk).update(state="succeeded", prompt=prompt)
    from tests.test_isolation import add_result

    add_result(job)
    return Generation.objects.get(pk=job.pk)


def page_of(user, job) -> str:
    return html.unescape(
        client_for(user).get(reverse("generation", args=[job.code])).content.decode()
    )


def test_a_chain_of_three_shows_both_ways_with_its_cost(alice, team, monkeypatch) -> None:
    monkeypatch.setattr("generations.tasks.enqueue_submit", lambda g: None)
    workspace, _ = team
    fox = done(alice, workspace, "a red fox")
    ledger.hold(fox)
    ledger.settle(fox, Decimal(5))
    cut = made_from(alice, fox, "cut out")
    big = made_from(alice, cut, "made bigger", cost=3)
    assert GenerationInput.objects.count() == 2
    first = page_of(alice, fox).split("<h3>Lineage</h3>")[1].split("</dl>")[0]
    assert "Used in" in first
    assert f'href="/g/{cut.code}/"' in first
    assert "Made from" not in first
    middle = page_of(alice, cut).split("<h3>Lineage</h3>")[1].split("</dl>")[0]
    assert f'href="/g/{fox.code}/"' in middle
    assert f'href="/g/{big.code}/"' in middle
    last = page_of(alice, big).split("<h3>Lineage</h3>")[1].split("</dl>")[0]
    assert "10 credits over 3 jobs" in last  # 5 + 2 + 3


def test_someone_elses_private_source_is_not_in_the_lineage(alice, team, monkeypatch) -> None:
    monkeypatch.setattr("generations.tasks.enqueue_submit", lambda g: None)
    workspace, carol = team
    secret = done(alice, workspace, "alice's secret", private=True)
    edit = made_from(alice, secret, "cut out")
    Generation.objects.filter(pk=edit.pk).update(private=False)
    shown = page_of(carol, edit)
    assert f"/g/{secret.code}/" not in shown
    assert "secret" not in shown
    assert f"/g/{secret.code}/" in page_of(alice, edit)


def test_older_jobs_get_their_lineage_from_the_migration(alice, team) -> None:
    workspace, _ = team
    fox = done(alice, workspace, "a red fox")
    old = done(alice, workspace, "an old edit")
    Generation.objects.filter(pk=old.pk).update(
        params={"input_urls": [{"file": fox.files.get().pk}, {"file": 10**9}]}
    )
    migration = importlib.import_module("generations.migrations.0013_generation_inputs")
    migration.backfill(apps, None)
    assert list(GenerationInput.objects.values_list("generation", "file")) == [
        (old.pk, fox.files.get().pk)
    ]
