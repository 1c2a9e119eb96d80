"""The sandbox's memory: accounts (balances), tasks and result files, in one SQLite file.

Kept apart from the studio's database on purpose: the sandbox stands in for a remote service,
and a restart of it must lose nothing it promised (tasks it accepted, credits it charged).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    key_hash TEXT PRIMARY KEY,
    balance INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    slug TEXT NOT NULL,
    route TEXT NOT NULL,
    request TEXT NOT NULL,
    faults TEXT NOT NULL,
    held INTEGER NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL NOT NULL,
    finish_at REAL NOT NULL,
    made INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    error TEXT,
    credits TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    callback_url TEXT,
    callback_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_unmade ON tasks (made);
"""


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass
class TaskRow:
    id: str
    key_hash: str
    slug: str
    route: str
    request: dict
    faults: dict
    held: int
    created_at: float
    started_at: float
    finish_at: float
    made: bool
    outcome: str | None
    error: str | None
    credits: str | None
    files: list[str]
    callback_url: str | None
    callback_done: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TaskRow:
        data = dict(row)
        data["request"] = json.loads(data["request"])
        data["faults"] = json.loads(data["faults"])
        data["files"] = json.loads(data["files"])
        data["made"] = bool(data["made"])
        data["callback_done"] = bool(data["callback_done"])
        return cls(**data)


class SandboxStore:
    """The sandbox's store of accounts, tasks and result files (a task's progress is in its
    TaskRow; this is not a state machine like the studio's Generation.State)."""

    def __init__(self, directory: Path, *, starting_balance: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "files").mkdir(exist_ok=True)
        self.starting_balance = starting_balance
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.directory / "sandbox.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # Survives a crash of the process (what a restart needs), not a power cut of the machine.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        secret_file = self.directory / "url_secret"
        if not secret_file.exists():
            import secrets

            secret_file.write_text(secrets.token_hex(32))
        self.url_secret = secret_file.read_text().strip().encode()

    def _execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    # -- accounts ------------------------------------------------------------------------------

    def account(self, api_key: str) -> dict | None:
        """The account for a key, opened with the starting balance on first use (new accounts
        receive bonus credits, as on the real service)."""
        digest = key_hash(api_key)
        select = "SELECT * FROM accounts WHERE key_hash = ?"
        with self._lock:
            row = self._db.execute(select, (digest,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT OR IGNORE INTO accounts (key_hash, balance, created_at)"
                    " VALUES (?, ?, ?)",
                    (digest, self.starting_balance, time.time()),
                )
                row = self._db.execute(select, (digest,)).fetchone()
        return dict(row)

    def top_up(self, api_key: str, credits: int) -> int:
        self.account(api_key)
        digest = key_hash(api_key)
        self._execute(
            "UPDATE accounts SET balance = balance + ? WHERE key_hash = ?", (credits, digest)
        )
        return self.account(api_key)["balance"]

    def set_balance(self, api_key: str, credits: int) -> None:
        self.account(api_key)
        self._execute(
            "UPDATE accounts SET balance = ? WHERE key_hash = ?", (credits, key_hash(api_key))
        )

    def revoke(self, api_key: str, revoked: bool = True) -> None:
        self.account(api_key)
        self._execute(
            "UPDATE accounts SET revoked = ? WHERE key_hash = ?", (int(revoked), key_hash(api_key))
        )

    def hold(self, digest: str, credits: int) -> bool:
        """Takes credits from a balance if they are there; False (and nothing taken) if not."""
        cursor = self._execute(
            "UPDATE accounts SET balance = balance - ? WHERE key_hash = ? AND balance >= ?",
            (credits, digest, credits),
        )
        return cursor.rowcount == 1

    def refund(self, digest: str, credits: int) -> None:
        self._execute(
            "UPDATE accounts SET balance = balance + ? WHERE key_hash = ?", (credits, digest)
        )

    # -- tasks ---------------------------------------------------------------------------------

    def add_task(self, task: TaskRow) -> None:
        self._execute(
            "INSERT INTO tasks (id, key_hash, slug, route, request, faults, held, created_at,"
            " started_at, finish_at, callback_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task.id,
                task.key_hash,
                task.slug,
                task.route,
                json.dumps(task.request),
                json.dumps(task.faults),
                task.held,
                task.created_at,
                task.started_at,
                task.finish_at,
                task.callback_url,
            ),
        )

    def task(self, task_id: str) -> TaskRow | None:
        row = self._execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
        return TaskRow.from_row(row) if row else None

    def unmade_tasks(self) -> list[TaskRow]:
        rows = self._execute("SELECT * FROM tasks WHERE made = 0").fetchall()
        return [TaskRow.from_row(r) for r in rows]

    def pending_callbacks(self) -> list[TaskRow]:
        rows = self._execute(
            "SELECT * FROM tasks WHERE made = 1 AND callback_url IS NOT NULL AND callback_done = 0"
        ).fetchall()
        return [TaskRow.from_row(r) for r in rows]

    def finish_task(
        self, task_id: str, *, outcome: str, error: str | None, credits: Any, files: list[str]
    ) -> None:
        self._execute(
            "UPDATE tasks SET made = 1, outcome = ?, error = ?, credits = ?, files = ?"
            " WHERE id = ? AND made = 0",
            (outcome, error, json.dumps(credits), json.dumps(files), task_id),
        )

    def callback_sent(self, task_id: str) -> None:
        self._execute("UPDATE tasks SET callback_done = 1 WHERE id = ?", (task_id,))

    def file_path(self, task_id: str, name: str) -> Path:
        return self.directory / "files" / task_id / name

    def close(self) -> None:
        with self._lock:
            self._db.close()
