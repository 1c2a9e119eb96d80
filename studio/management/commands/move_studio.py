"""`manage.py move_studio --database URL [--bucket NAME --endpoint URL --region R]`: moves a
studio's data (a `make run` studio's SQLite, say) into an empty PostgreSQL database, and its
media (results, previews, uploads) into an S3-compatible bucket, then checks that both sides
hold the same: every table's row count and the ledger's sum to the credit.

Run it with the studio stopped (no web process, no qcluster), with the current settings
pointing at the source. Afterwards set DATABASE_URL (and STUDIO_S3_BUCKET, ...) to the target
and start the studio there. The source is only read: nothing is deleted from it.

Not moved: sessions (everyone logs in again), the task queue and its results (django-q2; the
sweep resubmits what was queued), login-attempt records, the rate limiter's slots and the
poller's heartbeat (state of running processes, rebuilt as they start).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.models import Sum
from storages.backends.s3 import S3Storage

from studio.settings import database_config, s3_storage

TARGET = "move_target"
SKIPPED = (
    "contenttypes",  # made by migrate on the target; rows refer to them by natural key
    "auth.permission",
    "sessions",
    "admin.logentry",
    "django_q",
    "axes",
    "generations.ratelimitslot",
    "generations.ratelimitwaiter",
    "generations.ratelimitbucket",
    "generations.pollerheartbeat",
)


class Command(BaseCommand):
    help = "Move the studio's data to an empty PostgreSQL database and its media to a bucket."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", required=True, help="the target's DATABASE_URL")
        parser.add_argument("--bucket", help="an S3 bucket to copy the media into")
        parser.add_argument("--endpoint", default="", help="the bucket's endpoint (not AWS)")
        parser.add_argument("--region", default="us-east-1")

    def handle(self, *args, database: str, bucket: str | None, endpoint: str, region: str, **o):
        configured = connections.configure_settings(
            {"default": connections.settings["default"], TARGET: database_config(database)}
        )
        connections.settings[TARGET] = configured[TARGET]
        try:
            self._move(bucket, endpoint, region)
        finally:
            connections[TARGET].close()

    def _move(self, bucket: str | None, endpoint: str, region: str) -> None:
        call_command("migrate", database=TARGET, verbosity=0, interactive=False)
        models = _moved_models()
        busy = [m._meta.label for m in models if m.objects.using(TARGET).exists()]
        if busy:
            raise CommandError(
                f"The target database is not empty ({', '.join(busy[:3])}…): move into a new one."
            )
        with tempfile.TemporaryDirectory() as folder:
            dump = Path(folder) / "studio.jsonl"
            call_command(
                "dumpdata", natural_foreign=True, natural_primary=True, exclude=list(SKIPPED),
                format="jsonl", output=str(dump), verbosity=0,
            )  # fmt: skip
            call_command("loaddata", str(dump), database=TARGET, verbosity=0)
        self._check(models)
        if bucket:
            self._copy_media(s3_storage(bucket, endpoint, region))
        self.stdout.write(
            self.style.SUCCESS(
                "Moved. Now set DATABASE_URL to the target"
                + (f", STUDIO_S3_BUCKET={bucket}" if bucket else "")
                + (f", STUDIO_S3_ENDPOINT_URL={endpoint}" if bucket and endpoint else "")
                + ", and start the studio there."
            )
        )

    def _check(self, models) -> None:
        """The same rows on both sides, and the same credits in the ledger."""
        for model in models:
            here, there = model.objects.count(), model.objects.using(TARGET).count()
            if here != there:
                raise CommandError(f"{model._meta.label}: {here} rows here, {there} there.")
            if here:
                self.stdout.write(f"  {model._meta.label:<32} {here:>9,} rows")
        ledger = apps.get_model("studio", "LedgerEntry")
        here = ledger.objects.aggregate(t=Sum("amount"))["t"] or 0
        there = ledger.objects.using(TARGET).aggregate(t=Sum("amount"))["t"] or 0
        if here != there:
            raise CommandError(f"The ledger sums to {here} here and {there} there.")
        self.stdout.write(f"  the ledger sums to {here} credits on both sides")

    def _copy_media(self, config: dict) -> None:
        target = S3Storage(**config["OPTIONS"])
        names: set[str] = set()
        for label, fields in (
            ("generations.GenerationFile", ("file", "preview")),
            ("generations.Upload", ("file",)),
        ):
            model = apps.get_model(label)
            for row in model.objects.values_list(*fields):
                names.update(name for name in row if name)
        copied = size = missing = 0
        for name in sorted(names):
            if not default_storage.exists(name):
                missing += 1
                continue
            if target.exists(name):
                continue  # moved by an earlier run
            with default_storage.open(name, "rb") as source:
                target.save(name, source)
            copied += 1
            size += default_storage.size(name)
        self.stdout.write(
            f"  media: {copied:,} files copied ({size / 1e6:,.1f} MB), "
            f"{len(names) - copied - missing:,} there already, {missing:,} missing here"
        )


def _moved_models() -> list:
    skipped_apps = {s for s in SKIPPED if "." not in s}
    skipped_models = {s for s in SKIPPED if "." in s}
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label not in skipped_apps
        and model._meta.label_lower not in skipped_models
        and not model._meta.proxy
    ]
