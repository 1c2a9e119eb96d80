"""Checks the ledger's invariants; exits 1 and lists every problem when one fails."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from studio import ledger


class Command(BaseCommand):
    help = "Check that the credit ledger agrees with itself."

    def handle(self, *args, **options) -> None:
        found = ledger.problems()
        for problem in found:
            self.stderr.write(problem)
        if found:
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("The ledger agrees with itself."))
