"""The gallery and the Create page at 100,000 results on PostgreSQL (issue 15): server time
p50/p95 of the first page, a deep page, prompt search (a common and a rare word), each filter,
and the Create page and its estimate against those of a small workspace.

Targets: p95 <= 50 ms for grid pages, <= 150 ms for search; Create and its estimate within
1.5x of a 12-job workspace's. The data is `manage.py seed_gallery` (BENCH_GALLERY_JOBS, default
100,000) in a fresh PostgreSQL database (DATABASE_URL when it is one, else the machine's
127.0.0.1:5432), dropped at the end. Times are the studio's whole answer through Django's test
client (middleware, queries, template), without a network.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

JOBS = int(os.environ.get("BENCH_GALLERY_JOBS", "100000"))
RUNS = int(os.environ.get("BENCH_GALLERY_RUNS", "40"))
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    from tests import databases

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = POSTGRES
    folder = Path(tempfile.mkdtemp(prefix="studio-bench-gallery-"))
    url = databases.create(folder, "gallery")
    os.environ.update(
        DATABASE_URL=url,
        STUDIO_VAR_DIR=str(folder),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-not-secret"),
        DJANGO_SETTINGS_MODULE="studio.settings",
        ALLOWED_HOSTS="testserver",
    )
    try:
        run()
    finally:
        from django.db import connections

        connections.close_all()
        databases.drop(url)


def run() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from generations.models import Generation
    from studio.models import Membership, Workspace

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    started = time.perf_counter()
    call_command("seed_gallery", count=JOBS, workspace="Big Agency", owner="boss", verbosity=0)
    call_command("seed_gallery", count=12, workspace="Small Team", owner="solo", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {JOBS:,} results in {time.perf_counter() - started:.0f} s on {connection.vendor}"
    )

    def client_of(username: str, workspace: str) -> Client:
        membership = Membership.objects.get(user__username=username, workspace__name=workspace)
        Membership.objects.filter(pk=membership.pk).update(selected_at=django.utils.timezone.now())
        client = Client()
        client.force_login(membership.user)
        return client

    import django.utils.timezone

    owner = client_of("boss", "Big Agency")
    member = client_of("boss-member-07", "Big Agency")
    small = client_of("solo", "Small Team")
    big = Workspace.objects.get(name="Big Agency")
    deep = Generation.objects.filter(workspace=big).results().values_list("code", flat=True)
    from django.db.models.functions import Mod

    from generations.models import Board, Tag

    boss = Membership.objects.get(user__username="boss", workspace=big).user
    spread = Generation.objects.filter(workspace=big).results().order_by("pk")
    board = Board.objects.create(workspace=big, name="Client picks", created_by=boss)
    board.add(spread.annotate(m=Mod("pk", 50)).filter(m=0), boss)
    tag = Tag.objects.create(workspace=big, name="hero shot")
    tag.results.add(*spread.annotate(m=Mod("pk", 40)).filter(m=0).values_list("pk", flat=True))
    with connection.cursor() as cursor:  # the planner learns of them, as autovacuum would
        cursor.execute("ANALYZE")
    total = deep.count()
    page_500 = str(deep[min(500 * 24, total // 8)])
    page_4000 = str(deep[min(4000 * 24, total - 30)])

    def measure(label: str, client: Client, path: str, data=None, *, post=False, target=None):
        send = client.post if post else client.get
        for _ in range(3):  # warm: plans, caches
            send(path, data or {})
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = send(path, data or {})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        times.sort()
        p50 = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        note = f"  (target {target})" if target else ""
        print(f"{label:<44} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms{note}")
        return p50

    grid, search = "p95 <= 50 ms", "p95 <= 150 ms"
    measure("gallery: first page (owner)", owner, "/gallery/", target=grid)
    measure("gallery: first page (member)", member, "/gallery/", target=grid)
    measure("gallery: page 500 (after=)", owner, "/gallery/", {"after": page_500}, target=grid)
    measure("gallery: page ~4000 (after=)", owner, "/gallery/", {"after": page_4000}, target=grid)
    measure("gallery: load more (htmx)", owner, "/gallery/", {"after": page_500}, target=grid)
    measure("gallery: search a common word (fox)", owner, "/gallery/", {"q": "fox"}, target=search)
    measure(
        "gallery: search two words (fox dawn)", owner, "/gallery/", {"q": "fox dawn"}, target=search
    )
    measure(
        "gallery: search a rare word (axolotl)", owner, "/gallery/", {"q": "axolotl"}, target=search
    )
    measure(
        "gallery: search no match (xylophonic)",
        owner,
        "/gallery/",
        {"q": "xylophonic"},
        target=search,
    )
    measure("gallery: kind = video", owner, "/gallery/", {"kind": "video"}, target=grid)
    measure("gallery: model = imagen-4", owner, "/gallery/", {"model": "imagen-4"}, target=grid)
    measure("gallery: only mine (member)", member, "/gallery/", {"mine": "on"}, target=grid)
    measure("gallery: starred", owner, "/gallery/", {"starred": "on"}, target=grid)
    measure(
        "gallery: made by one member", owner, "/gallery/", {"member": "boss-member-07"}, target=grid
    )
    since = django.utils.timezone.localdate() - timedelta(days=240)
    dates = {"since": str(since), "until": str(since + timedelta(days=30))}
    measure("gallery: one month, 8 months ago", owner, "/gallery/", dates, target=grid)
    measure("gallery: cost 50 credits or more", owner, "/gallery/", {"cost_min": "50"}, target=grid)
    on_board = f"a board ({board.items.count():,} results)"
    measure(f"gallery: {on_board}", owner, "/gallery/", {"board": str(board.code)}, target=grid)
    measure(
        "gallery: a tag (1 result in 40)", owner, "/gallery/", {"tag": "hero shot"}, target=grid
    )
    measure(
        "create picker: load more", owner, "/create/bg-remover/picks/image", {"after": page_500}
    )
    measure("create picker: search (fox)", owner, "/create/bg-remover/picks/image", {"q": "fox"})
    for label, path, post in (
        ("Create page (bg-remover)", "/?model=bg-remover", False),
        ("estimate (flux-2)", "/create/flux-2/estimate", True),
    ):
        few = measure(f"{label}: 12-job workspace", small, path, post=post)
        many = measure(f"{label}: {JOBS:,}-job workspace", owner, path, post=post)
        print(f"{'':<44} x{many / few:.2f} of the small one (target <= x1.5)")


if __name__ == "__main__":
    main()
