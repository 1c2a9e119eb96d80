from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - after Django is set up

from studio.bodylimit import BodyLimit  # noqa: E402

# Oversized bodies are refused before Django reads them (see studio/bodylimit.py).
application = BodyLimit(
    django_application,
    limit=settings.MAX_REQUEST_BYTES,
    anonymous_limit=settings.MAX_ANONYMOUS_REQUEST_BYTES,
    session_cookie=settings.SESSION_COOKIE_NAME,
)
