from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from studio.settings import env_bool, env_int, env_list, env_url


def test_it_reads_booleans(monkeypatch) -> None:
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env_bool("X_FLAG") is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be true or false"):
        env_bool("X_FLAG")


def test_it_reads_numbers_and_lists(monkeypatch) -> None:
    monkeypatch.setenv("X_NUM", "12")
    assert env_int("X_NUM", 1) == 12
    monkeypatch.setenv("X_NUM", "twelve")
    with pytest.raises(ImproperlyConfigured, match="X_NUM must be a whole number"):
        env_int("X_NUM", 1)
    monkeypatch.setenv("X_LIST", "a.example, b.example,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def test_it_checks_urls(monkeypatch) -> None:
    monkeypatch.setenv("X_URL", "https://studio.example/")
    assert env_url("X_URL") == "https://studio.example"
    monkeypatch.setenv("X_URL", "studio.example")
    with pytest.raises(ImproperlyConfigured, match="X_URL must be a URL starting with http"):
        env_url("X_URL")


def test_it_configures_django_q_for_at_least_once_delivery() -> None:
    q = settings.Q_CLUSTER
    assert q["timeout"] < q["retry"]
    assert q["max_attempts"] >= 1
    assert q["save_limit"] > 0  # failed tasks are always kept; some successes too
    if os.environ.get("REDIS_URL"):
        assert q["redis"] == os.environ["REDIS_URL"]
    else:
        assert q["orm"] == "default"


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in env}
    full.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must point at SQLite or PostgreSQL"),
        ({"DEBUG": "perhaps"}, "DEBUG must be true or false"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must be a URL starting with redis://"),
        ({"STUDIO_PUBLIC_URL": "ftp://x"}, "STUDIO_PUBLIC_URL must be a URL starting with http"),
        ({"CSRF_TRUSTED_ORIGINS": "studio.example"}, "CSRF_TRUSTED_ORIGINS entries must start"),
        ({"SECRET_KEY": "", "DEBUG": "0"}, "SECRET_KEY must be set when DEBUG is off"),
    ],
)
def test_it_stops_start_up_on_a_bad_value(env: dict[str, str], sentence: str) -> None:
    result = _start(env)
    assert result.returncode != 0
    assert sentence in result.stderr


def test_it_starts_with_good_values() -> None:
    result = _start({"DEBUG": "0", "SECRET_KEY": "x" * 50})
    assert result.returncode == 0, result.stderr


def test_var_is_for_its_owner_alone(tmp_path) -> None:
    """var/ holds the database with sessions and password hashes: 0700, its files 0600, and a
    var/ an older version left readable is closed again."""
    import stat

    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    env = {**os.environ, "STUDIO_VAR_DIR": str(var), "DEBUG": "1"}
    env.pop("DATABASE_URL", None)  # the embedded default: SQLite in var/
    env.pop("SECRET_KEY", None)  # generated into var/secret_key
    code = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from django.core.files.storage import default_storage;"
        "from django.core.files.base import ContentFile;"
        "default_storage.save('results/w/g/one.png', ContentFile(b'x'))"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "studio.settings"},
        check=True,
        capture_output=True,
    )
    modes = {
        path.relative_to(var).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [var, *var.rglob("*")]
    }
    assert modes["."] == 0o700
    assert modes["studio.sqlite3"] == 0o600
    assert modes["secret_key"] == 0o600
    assert modes["media/results/w/g/one.png"] == 0o600
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}


def test_postgresql_connections_come_from_a_pool_when_asked(monkeypatch) -> None:
    """Issue 16: under ASGI each request would open its own connection; DATABASE_POOL_SIZE lends
    them from psycopg's pool instead (and psycopg-pool is installed with the studio)."""
    import psycopg_pool  # noqa: F401 (installed: the pool needs it)

    from studio.settings import database_config

    url = "postgres://studio@db.example:5432/studio"
    monkeypatch.delenv("DATABASE_POOL_SIZE", raising=False)
    assert "pool" not in database_config(url).get("OPTIONS", {})
    monkeypatch.setenv("DATABASE_POOL_SIZE", "8")
    assert database_config(url)["OPTIONS"]["pool"]["max_size"] == 8
    assert "pool" not in database_config("sqlite:///x.sqlite3").get("OPTIONS", {})  # SQLite: none


def test_the_web_server_runs_several_processes_when_asked(monkeypatch) -> None:
    """Issue 16: `runstudio --workers N` (or WEB_CONCURRENCY) starts uvicorn with N processes."""
    from studio.management.commands.runstudio import Command

    web = Command().commands("0.0.0.0", 8000, worker=True, workers=3)["web"]
    assert web[web.index("--workers") + 1] == "3"
    assert "--workers" not in Command().commands("127.0.0.1", 8000, worker=True)["web"]
    parser = Command().create_parser("manage.py", "runstudio")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert Command().create_parser("manage.py", "runstudio").parse_args([]).workers == 4
    assert parser.parse_args(["--workers", "2"]).workers == 2
