"""Serves the studio: the ASGI web server, a django-q2 worker cluster and, without an API key,
the sandbox upstream. One Ctrl-C stops them all; if one of them dies, the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server, the task worker and (without an API key) the sandbox together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY") or 1),
            help="web server processes (WEB_CONCURRENCY); more than 1 wants PostgreSQL",
        )

    def commands(
        self, host: str, port: int, worker: bool, workers: int = 1
    ) -> dict[str, list[str]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {}
        if settings.USES_SANDBOX and _has_command("sandbox"):
            commands["sandbox"] = [python, manage, "sandbox", "--port", str(settings.SANDBOX_PORT)]
        commands["web"] = [
            python, "-m", "uvicorn", "studio.asgi:application",
            "--host", host, "--port", str(port), "--no-access-log",
            *(("--workers", str(workers)) if workers > 1 else ()),
        ]  # fmt: skip
        if worker:
            commands["worker"] = [python, manage, "qcluster"]
        return commands

    def handle(self, *args, host: str, port: int, no_worker: bool, workers: int, **options) -> None:
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for name, command in self.commands(host, port, not no_worker, workers).items():
            self.stdout.write(f"starting {name}: {' '.join(command[1:])}")
            processes[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, env=os.environ)
        self.stdout.write(self.style.SUCCESS(f"Studio on http://{host}:{port}/ (Ctrl-C stops)"))
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping")
                        stopping = True
                time.sleep(0.2)
        finally:
            _stop_all(processes)


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def _has_command(name: str) -> bool:
    from django.core.management import get_commands

    return name in get_commands()
