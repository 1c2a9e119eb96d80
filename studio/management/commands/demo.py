"""Creates (once) the demo account and workspace that `make run` prints."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from studio.models import Workspace

USERNAME = "demo"


class Command(BaseCommand):
    help = "Create the demo account and workspace if missing, and print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url: str, **options) -> None:
        password_file = settings.VAR_DIR / "demo_password"
        User = get_user_model()
        made = False
        with transaction.atomic():
            user = User.objects.filter(username=USERNAME).first()
            if user is None or not password_file.exists():
                password = secrets.token_urlsafe(9)
                made = True
                settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password)
                password_file.chmod(0o600)
                if user is None:
                    user = User.objects.create_user(USERNAME, password=password)
                    user.is_staff = user.is_superuser = True
                    user.save()
                    Workspace.create_personal(user)
                else:
                    user.set_password(password)
                    user.save()
        # The password is shown once, when it is made (a terminal's scrollback and CI logs
        # keep what is printed); after that, where to read it.
        shown = password if made else f"in {password_file} (shown when it was made)"
        self.stdout.write(
            self.style.SUCCESS("\nAPI in One Studio is ready.\n")
            + f"  Open      {url}\n  Username  {USERNAME}\n  Password  {shown}\n"
            + "  (the demo user is also an admin of /admin/; DEBUG is on: for this machine only)\n"
        )
