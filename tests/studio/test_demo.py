from __future__ import annotations

import io
import socket

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from studio.models import Membership, Workspace

pytestmark = pytest.mark.django_db


def test_it_creates_the_demo_account_once(capsys) -> None:
    call_command("demo")
    first = capsys.readouterr().out
    call_command("demo")
    second = capsys.readouterr().out
    assert "Username  demo" in first
    password = next(line.split()[-1] for line in first.splitlines() if "Password" in line)
    assert password not in second  # printed when made, not on every start
    assert "demo_password (shown when it was made)" in second
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password)
    assert user.is_staff
    assert Workspace.objects.count() == 1
    assert Membership.objects.filter(user=user).count() == 1


def test_the_sandbox_says_plainly_when_its_port_is_taken(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} is taken.*SANDBOX_PORT"):
            call_command("sandbox", port=port, stdout=io.StringIO())
