"""A gallery zip of 1,000 results, streamed through the studio's view: throughput and memory.
Target (issue 15): at least 50 MB/s with memory flat (it must not grow with the zip).

Run by `make bench` on SQLite in a temporary folder (the database is not what is measured: a
zip reads its jobs in batches of 200). Each result is a 256 KiB file of random bytes (media does
not compress, and the zip stores files as they are).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(BASE_DIR))

FILES = int(os.environ.get("BENCH_ZIP_FILES", "1000"))
FILE_BYTES = 256 * 1024


def main() -> None:
    from tests import databases

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-zip-"))
    os.environ.update(
        DATABASE_URL=databases.create(folder, "zip"),
        STUDIO_VAR_DIR=str(folder),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-not-secret"),
        DJANGO_SETTINGS_MODULE="studio.settings",
        ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from generations.models import Generation, GenerationFile, State
    from studio.models import Workspace

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench password 123")
    workspace = Workspace.create_personal(user)
    payload = os.urandom(FILE_BYTES)
    for i in range(FILES):
        job = Generation.objects.create(
            workspace=workspace, user=user, model_slug="flux-2", kind="image", estimate=5,
            params={"prompt": f"bench fox {i}"}, token=f"z{i}", state=State.SUCCEEDED,
            finished_at=timezone.now(),
        )  # fmt: skip
        result = GenerationFile(generation=job, kind="image", content_type="image/png")
        result.size = FILE_BYTES
        result.file.save(f"r{i}.png", ContentFile(payload), save=True)
    client = Client()
    client.force_login(user)

    def download(files: int, measure_memory: bool) -> tuple[int, float, int]:
        """A zip of the first `files` results (chosen by code, or the whole search)."""
        codes = Generation.objects.order_by("pk").values_list("code", flat=True)[:files]
        if measure_memory:
            tracemalloc.start()
        started = time.perf_counter()
        if files == FILES:
            response = client.get("/gallery/download.zip", {"q": "bench"})
        else:
            response = client.post("/gallery/download.zip", {"code": [str(c) for c in codes]})
        size = sum(len(chunk) for chunk in response.streaming_content)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
        tracemalloc.stop()
        return size, seconds, peak

    download(10, measure_memory=False)  # warm up: imports, the first query plans
    for files in (FILES // 10, FILES):
        size, seconds, _ = download(files, measure_memory=False)
        _, _, peak = download(files, measure_memory=True)  # tracemalloc slows it: run apart
        print(
            f"zip      {files:>5} files  {size / 1e6:7.1f} MB in {seconds:5.2f} s  "
            f"{size / 1e6 / seconds:6.0f} MB/s   peak Python memory {peak / 1e6:5.1f} MB "
            "(target: >= 50 MB/s, memory flat)"
        )


if __name__ == "__main__":
    main()
