"""What an outside security test found open, closed: login throttling (django-axes, per account
and per address, the address right behind a proxy), sign-up throttled and closable, password
reset that tells nothing, key checks throttled. Everything through the views."""

from __future__ import annotations

import logging
import re

import pytest
from django.core import mail
from django.test import Client

from studio.models import Workspace
from tests.conftest import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db

WRONG = "not the password"


@pytest.fixture(autouse=True)
def _small_limits(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.STUDIO_SIGNUPS_PER_HOUR = 2
    settings.STUDIO_RESETS_PER_HOUR = 2
    settings.STUDIO_KEY_CHECKS_PER_HOUR = 2


def log_in(client: Client, username: str, password: str, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_it_locks_an_account_out_after_failures_and_says_for_how_long(alice, path) -> None:
    if path.startswith("/admin"):
        alice.is_staff = True
        alice.save()
    codes = [log_in(Client(), "alice", WRONG, path).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # the form again, then the lockout
    # The right password, even from another address: the account waits.
    response = log_in(Client(REMOTE_ADDR="198.51.100.7"), "alice", PASSWORD, path)
    assert response.status_code == 429
    text = response.content.decode()
    assert "Sign-in is paused for 15 minutes" in text
    assert "_auth_user_id" not in response.client.session


def test_it_locks_an_address_out_whatever_account_it_tries(alice, bob) -> None:
    for name in ("carol", "dave", "erin"):
        log_in(Client(), name, WRONG)
    assert log_in(Client(), "bob", PASSWORD).status_code == 429
    # Another address is not held up by it.
    assert log_in(Client(REMOTE_ADDR="198.51.100.7"), "bob", PASSWORD).status_code == 302


def test_behind_a_proxy_it_throttles_the_address_the_proxy_saw(alice, settings) -> None:
    settings.STUDIO_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):  # what the client claims changes nothing
        log_in(Client(**proxy), "nobody", WRONG, HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.9")
    held = log_in(Client(**proxy), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert held.status_code == 429
    other = log_in(Client(**proxy), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert other.status_code == 302


def test_it_logs_every_sign_in_and_failure_with_the_address(alice, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="studio.auth"):
        log_in(Client(REMOTE_ADDR="198.51.100.7"), "alice", WRONG)
        log_in(Client(REMOTE_ADDR="198.51.100.8"), "alice", PASSWORD)
    lines = [r.getMessage() for r in caplog.records if r.name == "studio.auth"]
    assert lines == [
        "Failed sign-in for 'alice' from 198.51.100.7",
        "Sign-in of 'alice' from 198.51.100.8",
    ]
    assert WRONG not in caplog.text
    assert PASSWORD not in caplog.text


# -- sign-up ----------------------------------------------------------------------------------


def sign_up(client: Client, username: str, **extra):
    return client.post(
        "/accounts/signup/",
        {"username": username, "password1": PASSWORD, "password2": PASSWORD, **extra},
    )


def test_it_throttles_sign_ups_from_one_address_taken_names_included(db) -> None:
    assert sign_up(Client(), "first").status_code == 302
    assert sign_up(Client(), "first").status_code == 200  # taken: this answer is what is guessed
    refused = sign_up(Client(), "third")
    assert refused.status_code == 429
    assert "Too many sign-ups from your network" in refused.content.decode()
    assert not Workspace.objects.filter(name="third's workspace").exists()
    assert sign_up(Client(REMOTE_ADDR="198.51.100.7"), "fourth").status_code == 302


def test_with_open_sign_up_off_only_an_invitation_signs_someone_up(alice, settings) -> None:
    settings.STUDIO_OPEN_SIGNUP = False
    page = Client().get("/accounts/signup/")
    assert page.status_code == 403
    assert "Sign-up is by invitation" in page.content.decode()
    assert sign_up(Client(), "walkin").status_code == 403
    assert "Create an account" not in Client().get("/accounts/login/").content.decode()

    client_for(alice).post("/workspace/invitations", {"role": "member", "days": 7})
    token = alice.memberships.get().workspace.invitations.get().token
    invited = f"/accounts/signup/?next=/invite/{token}"
    assert Client().get(invited).status_code == 200
    response = Client().post(
        invited,
        {"username": "erin", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    # Signed up from the link: a member of alice's workspace at once, working in it (no second
    # click on the invitation page, no "your workspace is ready" for one they did not ask for).
    assert response["Location"] == "/"
    from django.contrib.messages import get_messages

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Welcome to “{alice.memberships.get().workspace.name}”."
    ]
    from studio.models import Membership

    erin = Membership.objects.get(
        user__username="erin", workspace=alice.memberships.get().workspace
    )
    assert erin.role == "member"
    assert Membership.current_for(erin.user) == erin
    assert Client().get("/accounts/signup/?next=/invite/not-a-real-token-at-all").status_code == 403


def test_a_server_closes_open_sign_up_by_default() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50}
    env.pop("STUDIO_OPEN_SIGNUP", None)
    code = "from django.conf import settings; print(settings.STUDIO_OPEN_SIGNUP)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "studio.settings"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "False"


# -- password reset ---------------------------------------------------------------------------


def ask_reset(email: str, client: Client | None = None):
    return (client or Client()).post("/accounts/password/reset/", {"email": email}, follow=True)


def test_it_resets_a_password_by_email_and_tells_nothing_of_who_exists(db) -> None:
    user = make_user("alice")
    user.email = "alice@example.com"
    user.save()
    known = ask_reset("alice@example.com")
    unknown = ask_reset("nobody@example.com", Client(REMOTE_ADDR="198.51.100.7"))
    assert known.status_code == unknown.status_code == 200

    def strip(response) -> str:
        return re.sub(
            r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+"', "", response.content.decode()
        )

    assert strip(known) == strip(unknown)
    assert "If an account has that email" in strip(known)
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]
    client = Client()
    form_page = client.get(link, follow=True)
    new = "a brand new passphrase 42"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new, "new_password2": new},
        follow=True,
    )
    assert "Your new password works now" in done.content.decode()
    assert log_in(Client(), "alice", new).status_code == 302


def test_it_throttles_reset_requests_per_address_and_per_email(db) -> None:
    ask_reset("a@example.com")
    ask_reset("b@example.com")
    refused = ask_reset("c@example.com")
    assert refused.status_code == 429
    assert "Too many reset requests" in refused.content.decode()
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    ask_reset("target@example.com", elsewhere)
    ask_reset("target@example.com", Client(REMOTE_ADDR="198.51.100.10"))
    assert ask_reset("target@example.com", Client(REMOTE_ADDR="198.51.100.11")).status_code == 429


# -- key checks -------------------------------------------------------------------------------


def test_it_throttles_key_checks_per_workspace_and_per_user(alice, upstream, settings) -> None:
    from generations.sandbox.state import key_hash

    settings.APIINONE_BASE_URL = upstream.url
    client = client_for(alice)

    def check(key: str) -> str:
        return client.post("/workspace/key", {"api_key": key}, follow=True).content.decode()

    def asked() -> int:
        state = upstream.sandbox.state
        return state._execute(
            "SELECT count(*) FROM accounts WHERE key_hash IN (?, ?, ?)",
            [key_hash("aio_guess_number_1"), key_hash("aio_guess_number_2"),
             key_hash("aio_guess_number_3")],
        ).fetchone()[0]  # fmt: skip

    check("aio_guess_number_1")
    check("aio_guess_number_2")
    page = check("aio_guess_number_3")
    assert "Keys were checked too often just now: try again in" in page
    assert asked() == 2


# -- headers ----------------------------------------------------------------------------------


def test_every_page_has_a_strict_policy_and_no_browser_features(alice_client) -> None:
    for path in ("/", "/gallery/", "/chat/", "/usage/", "/workspace/"):
        response = alice_client.get(path)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "camera=()" in response["Permissions-Policy"]
        body = response.content.decode()
        assert "<script>" not in body  # no inline script: the policy would block it
        assert ' style="' not in body


def settings_of(**env) -> dict:
    import json
    import os
    import subprocess
    import sys

    names = ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"]
    code = (
        "import django, json; django.setup(); from django.conf import settings;"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_a_server_behind_https_sends_hsts_and_secure_cookies_only() -> None:
    served = settings_of(DEBUG="0", SECRET_KEY="x" * 50, STUDIO_PUBLIC_URL="https://studio.example")
    assert served == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
    }
    laptop = settings_of(DEBUG="1", STUDIO_PUBLIC_URL="http://127.0.0.1:8000")
    assert laptop["SECURE_HSTS_SECONDS"] == 0
    assert laptop["SESSION_COOKIE_SECURE"] is False


def test_the_footer_says_when_debug_mode_is_on(alice_client, settings) -> None:
    assert "debug mode" not in alice_client.get("/").content.decode()
    settings.DEBUG = True
    assert "debug mode (make run): for one machine" in alice_client.get("/").content.decode()


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-key-" + "k7Qz" * 12,
    "ALLOWED_HOSTS": "studio.example.com",
    "STUDIO_PUBLIC_URL": "https://studio.example.com",
}


def test_check_deploy_is_clean_with_the_production_environment(tmp_path) -> None:
    """Issue 16: `manage.py check --deploy` with the README's production variables says nothing."""
    import os
    import subprocess
    import sys

    env = {**os.environ, **PRODUCTION, "STUDIO_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout


def test_behind_a_tls_proxy_plain_http_is_redirected_but_not_the_health_check() -> None:
    import json
    import os
    import subprocess
    import sys

    code = (
        "import django, json; django.setup(); from django.test import Client;"
        "c = Client(); r = c.get('/accounts/login/', HTTP_HOST='studio.example.com');"
        "s = c.get('/gallery/', HTTP_HOST='studio.example.com', HTTP_X_FORWARDED_PROTO='https');"
        "h = c.get('/healthz', HTTP_HOST='studio.example.com');"
        "print(json.dumps([r.status_code, r.get('Location'), s.get('Location'), h.status_code]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", **PRODUCTION},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    plain, location, proxied, health = json.loads(out.stdout.strip().splitlines()[-1])
    assert (plain, location) == (301, "https://studio.example.com/accounts/login/")
    assert proxied.startswith("/accounts/login/")  # came over HTTPS (said the proxy): served
    assert health in (200, 503)  # answered where it was asked, never redirected
