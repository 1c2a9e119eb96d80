"""Serves the sandbox: the local emulator of API in One that the studio uses without a key."""

from __future__ import annotations

import contextlib
import errno

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generations.sandbox.server import SandboxConfig, SandboxServer


def sandbox_config(**overrides) -> SandboxConfig:
    return SandboxConfig(
        state_dir=settings.VAR_DIR / "sandbox", **{**settings.SANDBOX, **overrides}
    )


class Command(BaseCommand):
    help = "Run the API in One sandbox (a local emulator of the upstream service)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.SANDBOX_PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--speed", type=float, default=settings.SANDBOX["speed"])

    def handle(self, *args, port: int, host: str, speed: float, **options) -> None:
        server = SandboxServer(sandbox_config(host=host, port=port, speed=speed))
        self.stdout.write(f"API in One sandbox on http://{host}:{port}/api/v1 (speed ×{speed:g})")
        try:
            with contextlib.suppress(KeyboardInterrupt):
                server.serve_forever()
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise CommandError(
                f"Port {port} is taken (another studio's sandbox?): the sandbox needs a port of "
                f"its own. Set SANDBOX_PORT to a free one, e.g. SANDBOX_PORT={port + 100} make run"
            ) from None
