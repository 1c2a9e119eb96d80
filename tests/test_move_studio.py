"""`manage.py move_studio` (issue 16): a `make run` studio's SQLite and media files moved into an
empty PostgreSQL database and a bucket, run as a person would (manage.py in its own process, the
studio stopped), and checked from the outside: the same rows, the same ledger, the files in the
bucket, and a second move into a database that is not empty refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg
import pytest

from tests import databases
from tests.test_object_storage import KEYS, _keys, s3_server  # noqa: F401 (the local S3 server)

BASE_DIR = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else POSTGRES


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def target():
    """A new, empty PostgreSQL database (the machine's, or the suite's server)."""
    admin = _postgres()
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server to move into on this machine")
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = admin
    try:
        url = databases.create(Path("/tmp"), "move")
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL")
        else:
            os.environ["DATABASE_URL"] = previous
    yield url
    databases.drop(url)


def test_a_sqlite_studio_moves_to_postgresql_and_a_bucket(tmp_path, target, s3_server) -> None:  # noqa: F811
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "Q_SYNC")
    }
    env.update(DEBUG="1", STUDIO_VAR_DIR=str(tmp_path / "var"), **KEYS)
    assert manage(env, "migrate", "-v0").returncode == 0
    seeded = manage(env, "seed_gallery", "--count", "300", "--workspace", "Acme", "--owner", "ada")
    assert seeded.returncode == 0, seeded.stderr
    source = sqlite3.connect(tmp_path / "var" / "studio.sqlite3")
    jobs, ledger = source.execute(
        "SELECT (SELECT COUNT(*) FROM generations_generation),"
        " (SELECT SUM(amount) FROM studio_ledgerentry)"
    ).fetchone()
    assert jobs == 300
    bucket = "moved-media"
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_keys())
    s3.create_bucket(Bucket=bucket)

    moved = manage(
        env, "move_studio", "--database", target, "--bucket", bucket, "--endpoint", s3_server
    )
    assert moved.returncode == 0, moved.stderr
    assert "generations.Generation" in moved.stdout
    assert "the ledger sums to" in moved.stdout
    assert "Moved. Now set DATABASE_URL" in moved.stdout
    with psycopg.connect(target) as moved_db:
        there = moved_db.execute(
            "SELECT (SELECT COUNT(*) FROM generations_generation),"
            " (SELECT SUM(amount) FROM studio_ledgerentry),"
            " (SELECT COUNT(*) FROM studio_membership),"
            " (SELECT COUNT(*) FROM auth_user)"
        ).fetchone()
        # New rows continue after the moved ones (the sequences were moved on).
        next_id = moved_db.execute("SELECT nextval('generations_generation_id_seq')").fetchone()[0]
    assert there[0] == 300
    assert float(there[1]) == pytest.approx(float(ledger))
    assert there[2] == source.execute("SELECT COUNT(*) FROM studio_membership").fetchone()[0]
    assert there[3] == source.execute("SELECT COUNT(*) FROM auth_user").fetchone()[0]
    assert next_id > source.execute("SELECT MAX(id) FROM generations_generation").fetchone()[0]
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert "seed/picture-0.png" in keys
    assert "seed/sound.wav" in keys

    # The studio on the target runs: the gallery's query works there.
    env_there = {
        **env,
        "DATABASE_URL": target,
        "STUDIO_S3_BUCKET": bucket,
        "STUDIO_S3_ENDPOINT_URL": s3_server,
    }
    check = manage(env_there, "ledger_check")
    assert check.returncode == 0, check.stdout + check.stderr

    again = manage(env, "move_studio", "--database", target)
    assert again.returncode != 0
    assert "The target database is not empty" in again.stderr
