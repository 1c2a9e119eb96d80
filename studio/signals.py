"""Every sign-in, failed or not, is logged with the address it came from (the password never)."""

from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from studio.access import client_ip

logger = logging.getLogger("studio.auth")


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    logger.info(
        "Sign-in of %r from %s", user.get_username(), client_ip(request) if request else "?"
    )


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    logger.warning(
        "Failed sign-in for %r from %s",
        (credentials or {}).get("username", ""),
        client_ip(request) if request else "?",
    )
