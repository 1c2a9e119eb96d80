"""Checks the ledger: that it agrees with itself and, with --upstream, with what API in One says
it charged for each job. Exits 1 and lists every problem when one is found."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from studio import audit
from studio.models import Workspace


class Command(BaseCommand):
    help = (
        "Check that the credit ledger agrees with itself (and, with --upstream, with API in One)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--upstream",
            action="store_true",
            help="also look up the jobs of the last --days days and compare their charges",
        )
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--limit", type=int, default=2000, help="at most this many jobs")

    def handle(self, *args, upstream: bool, days: int, limit: int, **options) -> None:
        found = audit.problems()
        for problem in found:
            self.stderr.write(problem)
        if not found:
            self.stdout.write(self.style.SUCCESS("The ledger agrees with itself."))
        if upstream:
            check = audit.check_upstream(days=days, limit=limit)
            names = dict(Workspace.objects.values_list("pk", "name"))
            for ws, model, jobs, studio, theirs in audit.drift_summary(check):
                self.stderr.write(
                    f"{names.get(ws, ws)} / {model}: {jobs} job(s) charged {studio} in the studio, "
                    f"{theirs} by API in One"
                )
            for item in check.drift:
                self.stderr.write(
                    f"  job {item['code']} ({item['model']}): studio {item['studio']}, "
                    f"API in One {item['upstream']}"
                )
            self.stdout.write(
                f"{check.checked} job(s) of the last {days} day(s) compared with API in One; "
                f"{len(check.drift)} differ, {check.unanswered} could not be looked up, "
                f"{check.unstated} succeeded without saying what they charged."
            )
            found = found or check.drift
        if found:
            sys.exit(1)
