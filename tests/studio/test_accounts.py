from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from studio.models import Membership, Role, Workspace
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_signs_up_with_a_personal_workspace(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"username": "carol", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get(username="carol")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.workspace.personal
    assert membership.workspace.name == "carol's workspace"
    page = client.get("/")
    assert "carol&#x27;s workspace" in page.content.decode()


def test_it_refuses_a_bad_signup_and_creates_nothing(client: Client) -> None:
    response = client.post(
        "/accounts/signup/", {"username": "carol", "password1": "x", "password2": "y"}
    )
    assert response.status_code == 200
    assert "password fields didn’t match" in response.content.decode()
    assert not get_user_model().objects.exists()
    assert not Workspace.objects.exists()


def test_it_logs_in_and_out(alice, client: Client) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_it_says_why_a_login_failed(alice, client: Client) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_it_changes_the_password(alice, alice_client: Client) -> None:
    response = alice_client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new long pass 42",
            "new_password2": "a new long pass 42",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a new long pass 42")


def test_it_sends_anonymous_visitors_to_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_shows_the_layout(alice_client: Client, settings) -> None:
    html = alice_client.get("/").content.decode()
    assert "alice&#x27;s workspace" in html
    assert f"v{settings.VERSION}" in html
    assert 'name="viewport"' in html
    assert "/static/django-htmx/" in html or "htmx" in html
    assert ">Sandbox<" in html


def test_it_hides_the_sandbox_badge_with_a_key(alice_client: Client, settings) -> None:
    settings.APIINONE_API_KEY = "aio_a_deployment_wide_key"
    html = alice_client.get("/").content.decode()
    assert ">Sandbox<" not in html


def test_it_serves_the_admin_to_staff(alice, alice_client: Client) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    assert alice_client.get("/admin/studio/workspace/").status_code == 200


@pytest.mark.parametrize(
    "model",
    ["generations/generation", "generations/message", "studio/ledgerentry", "studio/auditevent"],
)
def test_the_admin_shows_jobs_replies_ledger_and_audit_read_only(
    alice, alice_client: Client, model
) -> None:
    from generations.models import Generation
    from studio import ledger

    alice.is_staff = alice.is_superuser = True
    alice.save()
    job = Generation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, model_slug="flux-2",
        kind="image", params={"prompt": "an admin's look"}, estimate=5, token="adm",
    )  # fmt: skip
    ledger.hold(job)
    page = alice_client.get(f"/admin/{model}/")
    assert page.status_code == 200
    assert alice_client.get(f"/admin/{model}/add/").status_code == 403
    if model == "generations/generation":
        detail = alice_client.get(f"/admin/{model}/{job.pk}/change/").content.decode()
        assert "an admin" in detail
        assert job.callback_token not in detail  # a per-job secret stays out
        response = alice_client.post(f"/admin/{model}/{job.pk}/change/", {"state": "succeeded"})
        job.refresh_from_db()
        assert job.state == "queued"
        assert response.status_code == 403
