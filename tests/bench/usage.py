"""The Usage page and its CSV over 1,000,000 ledger entries on PostgreSQL: server time p50/p95.
Target: under 300 ms.

Run by `make bench` (needs PostgreSQL: BENCH_PG_URL, default the local server). The entries are
written with SQL for speed, and the daily roll-up is built from them the way the ledger keeps it;
`audit.problems()` then confirms the two agree before anything is timed.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

ENTRIES = int(os.environ.get("BENCH_LEDGER_ENTRIES", "1000000"))
RUNS = 40


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    pg = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    os.environ["DATABASE_URL"] = pg
    from tests import databases

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-usage-"))
    try:
        url = databases.create(folder, "usage")
    except Exception as e:  # no PostgreSQL here: say so, do not pretend
        print(f"usage    skipped: PostgreSQL not reachable at {pg} ({e.__class__.__name__})")
        return
    os.environ.update(
        DATABASE_URL=url,
        STUDIO_VAR_DIR=str(folder),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-not-secret"),
        DJANGO_SETTINGS_MODULE="studio.settings",
        ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    try:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        run(connection)
    finally:
        connections.close_all()
        databases.drop(url)


def run(connection) -> None:
    from django.test import Client
    from django.test.utils import setup_test_environment

    from studio import audit
    from studio.models import Workspace
    from tests.conftest import make_user

    setup_test_environment()
    owner = make_user("owner")
    workspace = owner.memberships.get().workspace
    members = [owner.pk]
    for i in range(19):
        user = make_user(f"member{i}")
        workspace.memberships.create(user=user, role="member")
        members.append(user.pk)
    models = ["flux-2", "imagen-4", "kling-3", "suno", "elevenlabs-v3", "face-swap", "gemini"]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Pairs of hold (-estimate) and settle (+estimate - charge) over the last 365 days.
        cursor.execute(
            """
            INSERT INTO studio_ledgerentry
                (workspace_id, member_id, kind, amount, model_slug, reason, created_at)
            SELECT %s,
                   (%s::int[])[1 + (n / 2) %% %s],
                   CASE WHEN n %% 2 = 0 THEN 'hold' ELSE 'settle' END,
                   CASE WHEN n %% 2 = 0 THEN -10 ELSE 10 - ((n / 2) %% 7) - 0.5 END,
                   (%s::text[])[1 + (n / 2) %% %s],
                   '',
                   now() - ((n * 31536000.0 / %s) || ' seconds')::interval
            FROM generate_series(0, %s - 1) AS n
            """,
            [workspace.pk, members, len(members), models, len(models), ENTRIES, ENTRIES],
        )
        cursor.execute(
            """
            INSERT INTO studio_usageday (workspace_id, member_id, model_slug, day, credits)
            SELECT workspace_id, member_id, model_slug, (created_at AT TIME ZONE 'UTC')::date,
                   -SUM(amount)
            FROM studio_ledgerentry WHERE workspace_id = %s
            GROUP BY 1, 2, 3, 4
            """,
            [workspace.pk],
        )
        cursor.execute(
            "UPDATE studio_workspace SET pool_balance = "
            "(SELECT SUM(amount) FROM studio_ledgerentry WHERE workspace_id = %s) WHERE id = %s",
            [workspace.pk, workspace.pk],
        )
        cursor.execute("ANALYZE")
    loaded = time.perf_counter() - started
    problems = audit.problems(Workspace.objects.get(pk=workspace.pk))
    assert problems == [], problems
    client = Client()
    client.force_login(owner)
    today = time.strftime("%Y-%m-%d")
    year_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 364 * 86400))
    year = f"start={year_ago}&end={today}"
    cases = [
        ("page, last 30 days by member/day", "/usage/"),
        ("page, a year by model/week", f"/usage/?{year}&group=model&bucket=week"),
        ("page, a year by kind/month", f"/usage/?{year}&group=kind&bucket=month"),
        ("page, a year by member/day", f"/usage/?{year}&group=member&bucket=day"),
        ("CSV, a year by member/day", f"/usage/export.csv?{year}&group=member"),
    ]
    print(f"usage    {ENTRIES:,} ledger entries on PostgreSQL, loaded in {loaded:.1f} s")
    # The first request of a fresh process loads templates, URLs and the catalog: said apart,
    # not folded into the p95 of the first case.
    t0 = time.perf_counter()
    client.get("/usage/")
    print(f"usage    first request after start: {(time.perf_counter() - t0) * 1000:.1f} ms")
    for label, path in cases:
        timings = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.status_code
        p50, p95 = _percentile(timings, 0.5), _percentile(timings, 0.95)
        verdict = "PASS" if p95 < 300 else "MISS"
        size = len(response.content) / 1024
        print(
            f"usage    {label:<36} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {verdict}"
            f"  ({size:,.0f} KB)"
        )
    print(f"usage    (mean of all runs {statistics.mean(timings):.1f} ms for the last case)")


if __name__ == "__main__":
    main()
