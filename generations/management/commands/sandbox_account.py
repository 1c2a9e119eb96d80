"""Looks at or changes a sandbox account: its balance (top up, set) and whether its key works."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from generations.sandbox.state import SandboxStore


class Command(BaseCommand):
    help = "Show, top up or revoke a sandbox account (the studio's own key by default)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--key", default=settings.SANDBOX_API_KEY)
        parser.add_argument("--topup", type=int, help="add this many credits")
        parser.add_argument("--set-balance", type=int, help="set the balance to this many credits")
        parser.add_argument("--revoke", action="store_true", help="make the key invalid (401)")
        parser.add_argument("--restore", action="store_true", help="make a revoked key valid again")

    def handle(self, *args, key: str, topup, set_balance, revoke, restore, **options) -> None:
        state = SandboxStore(
            settings.VAR_DIR / "sandbox", starting_balance=settings.SANDBOX["starting_balance"]
        )
        if topup:
            state.top_up(key, topup)
        if set_balance is not None:
            state.set_balance(key, set_balance)
        if revoke or restore:
            state.revoke(key, revoked=revoke)
        account = state.account(key)
        status = "revoked" if account["revoked"] else "active"
        self.stdout.write(f"key …{key[-4:]}: {account['balance']} credits, {status}")
        state.close()
