"""Loaded by pytest (see pyproject.toml) before Django reads its settings.

Sets the environment a test run needs, without overriding what the caller chose
(CI sets DATABASE_URL and REDIS_URL for its PostgreSQL run).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-tests-"))
os.makedirs(os.path.join(os.environ["STUDIO_VAR_DIR"], "staticfiles"), exist_ok=True)
# django-q2 runs tasks inline, so a test sees a job through from submit to its end.
os.environ.setdefault("Q_SYNC", "1")
# The tests sign people up (a server's default is invitations only; tests of that say so), and
# the browser tests sign up dozens from one address.
os.environ.setdefault("STUDIO_OPEN_SIGNUP", "1")
os.environ.setdefault("STUDIO_SIGNUPS_PER_HOUR", "1000")
os.environ.setdefault("STUDIO_POLL_FLOOR", "0.05")
# The poller keeps results itself: keeper threads have their own database connections, which do
# not see a test's uncommitted rows. Tests of the keepers turn them on (transactional tests).
os.environ.setdefault("STUDIO_RESULT_KEEPERS", "0")
# The same for the poller's look-up threads (tests of the poller's threads turn them on).
os.environ.setdefault("STUDIO_POLL_THREADS", "0")
# Tests never reach the real service, whatever the developer's shell holds.
os.environ.pop("APIINONE_API_KEY", None)
os.environ.pop("APIINONE_BASE_URL", None)
